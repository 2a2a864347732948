"""ztgate's own token-signing keys: creation, rotation, the published JWKS.

The newest unretired key signs. Rotation creates a new key and retires the old one,
which stays published (and accepted) until every token it could have signed has expired.
Keys live in the store so every process sharing it signs and verifies with the same set;
the in-memory view is rebuilt whenever the store's identity revision moves.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ztgate.errors import UsageError
from ztgate.identity import _jose
from ztgate.store import EventSink, LifecycleEvent, SigningKey, Store, StoreEventSink


@dataclass(frozen=True, slots=True)
class KeySet:
    """A snapshot: the signer and every key that may verify, by ``kid``."""

    revision: int
    signer: SigningKey | None
    signer_key: _jose.PrivateKey | None
    verifiers: dict[str, tuple[str, _jose.PublicKey, datetime | None]]
    published: tuple[dict[str, Any], ...]


class SigningKeys:
    """Loads, rotates and publishes signing keys; cheap to call on the hot path."""

    def __init__(
        self, store: Store, *, alg: str = "EdDSA", events: EventSink | None = None
    ) -> None:
        if alg not in _jose.SIGNING_ALGORITHMS:
            raise UsageError(f"signing algorithm must be one of {_jose.SIGNING_ALGORITHMS}")
        self.store = store
        self.alg = alg
        self.events: EventSink = events if events is not None else StoreEventSink(store)
        self._lock = threading.Lock()
        self._snapshot: KeySet | None = None

    def snapshot(self, revision: int | None = None) -> KeySet:
        """The key set for ``revision`` (reloaded from the store when it changed)."""
        current = self._snapshot
        if current is not None and (revision is None or current.revision == revision):
            return current
        with self._lock:
            rev = self.store.revision() if revision is None else revision
            keys = self.store.signing_keys.list()
            verifiers: dict[str, tuple[str, _jose.PublicKey, datetime | None]] = {}
            published = []
            signer: SigningKey | None = None
            for key in keys:
                _alg, public = _jose.public_key_from_jwk(key.public_jwk)
                verifiers[key.kid] = (key.alg, public, key.expires_at)
                published.append({**key.public_jwk, "kid": key.kid, "alg": key.alg, "use": "sig"})
                if key.retired_at is None:
                    signer = key
            snapshot = KeySet(
                revision=rev,
                signer=signer,
                signer_key=_jose.private_key_from_pem(
                    self.store.sealer.open(signer.kid, signer.private_pem)
                )
                if signer
                else None,
                verifiers=verifiers,
                published=tuple(published),
            )
            self._snapshot = snapshot
            return snapshot

    def ensure(self, now: datetime) -> SigningKey:
        """The current signer, creating the first key on a fresh store."""
        snapshot = self.snapshot(self.store.revision())
        if snapshot.signer is not None:
            return snapshot.signer
        return self.rotate(now, retire_after=timedelta(0))

    def rotate(
        self, now: datetime, *, retire_after: timedelta, actor: str | None = None
    ) -> SigningKey:
        """Create a new signer; the previous one keeps verifying for ``retire_after``."""
        private = _jose.generate_private_key(self.alg)
        jwk = _jose.public_jwk(private.public_key())
        kid = f"{now:%Y%m%d}-{secrets.token_hex(6)}"
        key = SigningKey(
            kid=kid,
            alg=self.alg,
            private_pem=self.store.sealer.seal(kid, _jose.private_key_to_pem(private)),
            public_jwk=jwk,
            created_at=now,
        )
        with self.store.transaction() as conn:
            for old in self.store.signing_keys.list(conn):
                if old.retired_at is None:
                    self.store.signing_keys.retire(old.kid, now, now + retire_after, conn)
            self.store.signing_keys.add(key, conn)
        self._snapshot = None
        self.events.emit(
            LifecycleEvent(
                kind="key_rotated",
                subject=f"signing_key:{kid}",
                at=now,
                actor=actor,
                detail={"alg": self.alg, "retire_after_s": int(retire_after.total_seconds())},
            )
        )
        return key

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The public JWKS: the signer plus retired keys that have not yet expired."""
        snapshot = self.snapshot(self.store.revision())
        keys = [
            jwk
            for jwk in snapshot.published
            if (expires := snapshot.verifiers[jwk["kid"]][2]) is None or expires > now
        ]
        return {"keys": keys}
