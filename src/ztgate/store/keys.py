"""Repositories for agents' public client keys and ztgate's own signing keys."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from ztgate.errors import StoreError
from ztgate.store import _schema as s
from ztgate.store.records import ClientKey, SigningKey

if TYPE_CHECKING:
    from ztgate.store.store import Store


def _client_key(row: Row[Any]) -> ClientKey:
    m = row._mapping
    return ClientKey(
        agent_id=m["agent_id"],
        kid=m["kid"],
        public_jwk=dict(m["public_jwk"]),
        created_at=m["created_at"],
        revoked_at=m["revoked_at"],
    )


class ClientKeyRepository:
    """Public JWKs per agent; several may be active at once so keys rotate without a gap."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, key: ClientKey, conn: Connection | None = None) -> None:
        try:
            with self._store.transaction(conn) as c:
                c.execute(
                    insert(s.client_keys).values(
                        agent_id=key.agent_id,
                        kid=key.kid,
                        public_jwk=dict(key.public_jwk),
                        created_at=key.created_at,
                        revoked_at=key.revoked_at,
                    )
                )
                self._store.bump_revision(c)
        except StoreError as error:
            if isinstance(error.__cause__, SAIntegrityError):
                raise StoreError(f"key `{key.kid}` already exists for `{key.agent_id}`") from error
            raise

    def get(self, agent_id: str, kid: str, conn: Connection | None = None) -> ClientKey | None:
        with self._store.transaction(conn) as c:
            row = c.execute(
                select(s.client_keys).where(
                    s.client_keys.c.agent_id == agent_id, s.client_keys.c.kid == kid
                )
            ).first()
        return _client_key(row) if row is not None else None

    def list_for(
        self, agent_id: str, *, include_revoked: bool = False, conn: Connection | None = None
    ) -> list[ClientKey]:
        query = (
            select(s.client_keys)
            .where(s.client_keys.c.agent_id == agent_id)
            .order_by(s.client_keys.c.created_at, s.client_keys.c.kid)
        )
        if not include_revoked:
            query = query.where(s.client_keys.c.revoked_at.is_(None))
        with self._store.transaction(conn) as c:
            return [_client_key(r) for r in c.execute(query)]

    def revoke(self, agent_id: str, kid: str, at: datetime, conn: Connection | None = None) -> bool:
        with self._store.transaction(conn) as c:
            result = c.execute(
                update(s.client_keys)
                .where(
                    s.client_keys.c.agent_id == agent_id,
                    s.client_keys.c.kid == kid,
                    s.client_keys.c.revoked_at.is_(None),
                )
                .values(revoked_at=at)
            )
            changed = result.rowcount == 1
            if changed:
                self._store.bump_revision(c)
        return changed


def _signing_key(row: Row[Any]) -> SigningKey:
    m = row._mapping
    return SigningKey(
        kid=m["kid"],
        alg=m["alg"],
        private_pem=bytes(m["private_pem"]),
        public_jwk=dict(m["public_jwk"]),
        created_at=m["created_at"],
        retired_at=m["retired_at"],
        expires_at=m["expires_at"],
    )


class SigningKeyRepository:
    """ztgate's token-signing keys: the newest unretired key signs; retired keys verify.

    ``private_pem`` is stored as given: :class:`ztgate.identity.signing.SigningKeys` seals
    it with the store's :class:`~ztgate.store.sealing.KeySealer` before adding and opens
    only the signer's key, so listing keys (or retiring them after the KEK was lost and
    replaced) never needs a key it cannot open.
    """

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, key: SigningKey, conn: Connection | None = None) -> None:
        with self._store.transaction(conn) as c:
            c.execute(
                insert(s.signing_keys).values(
                    kid=key.kid,
                    alg=key.alg,
                    private_pem=key.private_pem,
                    public_jwk=dict(key.public_jwk),
                    created_at=key.created_at,
                    retired_at=key.retired_at,
                    expires_at=key.expires_at,
                )
            )
            self._store.bump_revision(c)

    def list(self, conn: Connection | None = None) -> list[SigningKey]:
        with self._store.transaction(conn) as c:
            rows = c.execute(select(s.signing_keys).order_by(s.signing_keys.c.created_at))
            return [_signing_key(r) for r in rows]

    def retire(
        self, kid: str, at: datetime, expires_at: datetime, conn: Connection | None = None
    ) -> None:
        with self._store.transaction(conn) as c:
            c.execute(
                update(s.signing_keys)
                .where(s.signing_keys.c.kid == kid, s.signing_keys.c.retired_at.is_(None))
                .values(retired_at=at, expires_at=expires_at)
            )
            self._store.bump_revision(c)
