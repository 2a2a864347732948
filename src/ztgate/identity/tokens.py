"""Access tokens per RFC 9068: settings, claims and issuance.

Tokens are compact JWS with ``typ: at+jwt``, signed EdDSA (default) or ES256, carrying
``iss sub aud client_id iat nbf exp jti scope`` and, for delegated tokens, the RFC 8693
nested ``act`` claim whose outermost member is the current actor.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ztgate.errors import UsageError
from ztgate.identity import _jose
from ztgate.identity.signing import SigningKeys

ACCESS_TOKEN_TYP = "at+jwt"  # noqa: S105
MAX_LIFETIME = timedelta(hours=1)


@dataclass(frozen=True, slots=True)
class TokenSettings:
    """What this authorization server is and how its tokens look.

    ``lifetime`` defaults to 10 minutes and may not exceed one hour. ``leeway`` absorbs
    clock skew on ``exp``/``nbf``/``iat``. ``revocation_staleness`` bounds how long a
    change made by another process (suspension, revocation) can go unseen by a verifier:
    0 means the store's revision is read on every verification.
    """

    issuer: str
    audience: str = "urn:ztgate:api"
    lifetime: timedelta = timedelta(minutes=10)
    leeway: timedelta = timedelta(seconds=30)
    max_chain_depth: int = 3
    max_token_bytes: int = 8192
    revocation_staleness: float = 0.25
    client_assertion_max_lifetime: timedelta = timedelta(hours=1)

    def __post_init__(self) -> None:
        if not self.issuer:
            raise UsageError("an issuer is required")
        if not timedelta(0) < self.lifetime <= MAX_LIFETIME:
            raise UsageError("token lifetime must be positive and at most one hour")
        if self.max_chain_depth < 1:
            raise UsageError("max chain depth must be at least 1")
        if self.revocation_staleness < 0:
            raise UsageError("revocation staleness cannot be negative")

    @property
    def token_endpoint(self) -> str:
        return self.issuer.rstrip("/") + "/oauth/token"

    @property
    def jwks_uri(self) -> str:
        return self.issuer.rstrip("/") + "/oauth/jwks"


@dataclass(frozen=True, slots=True)
class IssuedToken:
    token: str
    jti: str
    expires_at: datetime
    scopes: tuple[str, ...]
    claims: Mapping[str, Any]


def nest_act(actors: Iterable[str]) -> dict[str, Any] | None:
    """Build the RFC 8693 ``act`` claim from actors, current actor first."""
    act: dict[str, Any] | None = None
    for actor in reversed(list(actors)):
        act = {"sub": actor, **({"act": act} if act is not None else {})}
    return act


class TokenIssuer:
    """Mints access tokens with the current signing key."""

    def __init__(self, settings: TokenSettings, keys: SigningKeys) -> None:
        self.settings = settings
        self.keys = keys

    def issue(
        self,
        *,
        subject: str,
        client_id: str,
        scopes: Iterable[str],
        now: datetime,
        actors: Iterable[str] = (),
        not_after: datetime | None = None,
    ) -> IssuedToken:
        """Sign a token; ``actors`` is the delegation, current actor first."""
        # The cached key set is refreshed whenever a verifier sharing these keys sees the
        # store revision move; only a store without any signer costs a round trip here.
        snapshot = self.keys.snapshot()
        if snapshot.signer is None or snapshot.signer_key is None:
            self.keys.ensure(now)
            snapshot = self.keys.snapshot(self.keys.store.revision())
        if snapshot.signer is None or snapshot.signer_key is None:  # pragma: no cover
            raise UsageError("no signing key available")
        expires = now + self.settings.lifetime
        if not_after is not None:
            expires = min(expires, not_after)
        scope_list = tuple(sorted(set(scopes)))
        jti = secrets.token_urlsafe(18)
        claims: dict[str, Any] = {
            "iss": self.settings.issuer,
            "sub": subject,
            "aud": self.settings.audience,
            "client_id": client_id,
            "iat": int(now.timestamp()),
            "nbf": int(now.timestamp()),
            "exp": int(expires.timestamp()),
            "jti": jti,
            "scope": " ".join(scope_list),
        }
        act = nest_act(actors)
        if act is not None:
            claims["act"] = act
        header = {"alg": snapshot.signer.alg, "typ": ACCESS_TOKEN_TYP, "kid": snapshot.signer.kid}
        token = _jose.sign_compact(header, claims, snapshot.signer.alg, snapshot.signer_key)
        return IssuedToken(
            token, jti, datetime.fromtimestamp(claims["exp"], now.tzinfo), scope_list, claims
        )
