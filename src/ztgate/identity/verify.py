"""Access-token verification: the one call every adapter uses.

``TokenVerifier.verify_access_token`` returns a :class:`VerifiedPrincipal` or raises
:class:`RejectedError`; there is no other way to obtain a principal. In order, it checks
size, shape, algorithm allowlist, ``typ``, ``kid``, signature, ``iss``, ``aud``, ``exp``,
``nbf``, ``iat``, lifetime, the ``act`` chain, revocation, every agent in the chain
(status, expiry, risk, attestation age) and the request conditions (source network, time
window).

Hot path: a token that verified once is cached with the instant its verdict could change
by the clock alone; a cached hit costs a dictionary lookup and two comparisons (plus the
request conditions when an agent has any). Anything that can change a verdict otherwise
(suspension, revocation, key rotation, risk change) bumps the store's identity revision;
the verifier reads that revision at most every ``TokenSettings.revocation_staleness``
seconds, and immediately after a change made through the same store handle, and drops
every cache when it moved. That is the bound: a change made in another process is
enforced here within ``revocation_staleness`` seconds (0 = on the next verification).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any

from ztgate.errors import RejectedError, StoreError, UsageError
from ztgate.identity import _jose
from ztgate.identity.conditions import (
    AccessConditions,
    check_request,
    check_standing,
    standing_valid_until,
)
from ztgate.identity.registry import AgentProfile, Registry
from ztgate.identity.signing import SigningKeys
from ztgate.identity.tokens import ACCESS_TOKEN_TYP, MAX_LIFETIME, TokenSettings

USER_PREFIX = "user:"
_TYPES = frozenset({ACCESS_TOKEN_TYP, "application/" + ACCESS_TOKEN_TYP})


@dataclass(frozen=True, slots=True)
class VerifiedPrincipal:
    """Who is acting, proven. ``delegation`` is outermost first, without the agent itself:
    for user alice -> agent A -> agent B, B's principal has
    ``delegation == ("user:alice", "A")`` and ``acting_for == "alice"``."""

    agent_id: str
    client_id: str
    subject: str
    scopes: frozenset[str]
    delegation: tuple[str, ...]
    acting_for: str | None
    jti: str
    expires_at: datetime
    issued_at: datetime
    claims: Mapping[str, Any]

    def context_fields(self) -> dict[str, Any]:
        """Keyword arguments for ``ztgate.core.models.Context``."""
        return {"delegation": self.delegation, "acting_for": self.acting_for}


def _int_claim(claims: dict[str, Any], name: str) -> int:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, int):
        raise RejectedError("claims_invalid", f"`{name}` must be an integer NumericDate")
    return value


def _str_claim(claims: dict[str, Any], name: str) -> str:
    value = claims.get(name)
    if not isinstance(value, str) or not value:
        raise RejectedError("claims_invalid", f"`{name}` must be a non-empty string")
    return value


def _freeze(value: Any) -> Any:
    """A read-only deep copy: cached principals are shared, so nobody may edit them.

    Claims come from the JSON decoder, so only ``dict`` and ``list`` can be mutable; the
    concrete type checks keep this off the abstract-base-class path, which costs more
    than the rest of the copy on an uncached verification.
    """
    kind = type(value)
    if kind is dict:
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    if kind is list or kind is tuple:
        return tuple(_freeze(v) for v in value)
    if isinstance(value, Mapping):
        return MappingProxyType({k: _freeze(v) for k, v in value.items()})
    return value


def parse_act(claims: Mapping[str, Any], max_depth: int) -> list[str]:
    """Actors from the nested ``act`` claim, current actor first."""
    actors: list[str] = []
    act = claims.get("act")
    while act is not None:
        if not isinstance(act, Mapping) or set(act) - {"sub", "act", "iss"}:
            raise RejectedError("claims_invalid", "`act` must be an object with `sub` and `act`")
        sub = act.get("sub")
        if not isinstance(sub, str) or not sub:
            raise RejectedError("claims_invalid", "every `act` needs a string `sub`")
        actors.append(sub)
        if len(actors) > max_depth:
            raise RejectedError(
                "act_chain_too_long", f"delegation chain longer than {max_depth} actors"
            )
        act = act.get("act")
    return actors


@dataclass(frozen=True, slots=True)
class _Entry:
    principal: VerifiedPrincipal
    valid_from: float
    valid_until: float
    request_conditions: tuple[AccessConditions, ...]


class TokenVerifier:
    """Verifies ztgate access tokens against the shared store. One per process."""

    def __init__(
        self,
        settings: TokenSettings,
        registry: Registry,
        keys: SigningKeys,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        max_cache_entries: int = 100_000,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = registry.store
        self.keys = keys
        self._monotonic = monotonic
        self._max_entries = max_cache_entries
        self._lock = threading.Lock()
        self._cache: dict[str, _Entry] = {}
        self._profiles: dict[str, AgentProfile | None] = {}
        self._revoked: frozenset[str] | None = None
        self._revision = -1
        self._generation = -1
        self._next_poll = float("-inf")
        self._leeway = settings.leeway.total_seconds()

    # -- freshness -----------------------------------------------------------------------

    def _sync(self) -> None:
        """Drop caches if the store's identity revision moved (polled, bounded staleness)."""
        now = self._monotonic()
        generation = self.store.local_generation
        if generation == self._generation and now < self._next_poll:
            return
        try:
            revision = self.store.revision()
        except StoreError as error:
            raise RejectedError("store_unavailable", str(error)) from error
        with self._lock:
            self._generation = generation
            self._next_poll = now + self.settings.revocation_staleness
            if revision != self._revision:
                self._cache = {}
                self._profiles = {}
                self._revoked = None
                self._revision = revision

    def _profile(self, agent_id: str) -> AgentProfile | None:
        if agent_id in self._profiles:
            return self._profiles[agent_id]
        profile = self.registry.profile(agent_id)
        self._profiles[agent_id] = profile
        return profile

    def _revoked_set(self, now: datetime) -> frozenset[str]:
        revoked = self._revoked
        if revoked is None:
            revoked = self.store.revocations.active(now)
            self._revoked = revoked
        return revoked

    # -- the one call ----------------------------------------------------------------------

    def verify_access_token(
        self, unverified_token: str, *, now: datetime, source_ip: str | None = None
    ) -> VerifiedPrincipal:
        """Verify a bearer access token completely, or raise :class:`RejectedError`."""
        if now.tzinfo is None:
            raise RejectedError("clock_invalid", "`now` must be timezone-aware")
        self._sync()
        entry = self._cache.get(unverified_token)
        if entry is not None:
            ts = now.timestamp()
            if entry.valid_from <= ts < entry.valid_until:
                if entry.request_conditions:
                    failed = check_request(entry.request_conditions, now=now, source_ip=source_ip)
                    if failed is not None:
                        raise RejectedError(f"condition_failed:{failed}", "request condition")
                return entry.principal
        try:
            return self._verify_uncached(unverified_token, now=now, source_ip=source_ip)
        except StoreError as error:
            raise RejectedError("store_unavailable", str(error)) from error
        except UsageError as error:  # a registry record that no longer resolves
            raise RejectedError("registry_inconsistent", str(error)) from error

    def _verify_uncached(
        self, unverified_token: str, *, now: datetime, source_ip: str | None
    ) -> VerifiedPrincipal:
        settings = self.settings
        parsed = _jose.parse_compact(unverified_token, max_bytes=settings.max_token_bytes)
        header = parsed.header
        alg = header["alg"]
        if alg not in _jose.ACCESS_TOKEN_ALGORITHMS:
            raise RejectedError("alg_not_allowed", f"algorithm `{alg}` is not accepted")
        typ = header.get("typ")
        if not isinstance(typ, str) or typ.lower() not in _TYPES:
            raise RejectedError("typ_invalid", f"`typ` is `{typ}`, expected `{ACCESS_TOKEN_TYP}`")
        kid = header.get("kid")
        keyset = self.keys.snapshot(self._revision)
        known = keyset.verifiers.get(kid) if isinstance(kid, str) else None
        if known is None:
            raise RejectedError("kid_unknown", f"`kid` `{kid}` is not a ztgate signing key")
        key_alg, key, key_expires = known
        if key_alg != _jose.normalize_alg(alg):
            raise RejectedError(
                "alg_key_mismatch", f"key `{kid}` is `{key_alg}`, token says `{alg}`"
            )
        if key_expires is not None and now >= key_expires:
            raise RejectedError("kid_expired", f"signing key `{kid}` is no longer valid")
        if not _jose.verify_signature(parsed, alg, key):
            raise RejectedError("signature_invalid", "signature does not verify")

        claims = parsed.payload
        iss = claims.get("iss")
        if iss != settings.issuer:
            raise RejectedError("iss_invalid", f"issuer `{iss}` is not `{settings.issuer}`")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or settings.audience not in audiences:
            raise RejectedError(
                "aud_invalid", f"audience `{aud}` does not name `{settings.audience}`"
            )
        exp = _int_claim(claims, "exp")
        iat = _int_claim(claims, "iat")
        nbf = _int_claim(claims, "nbf") if "nbf" in claims else None
        ts = now.timestamp()
        if ts >= exp + self._leeway:
            raise RejectedError("expired", f"token expired at {exp}")
        not_before = nbf if nbf is not None else iat
        if ts < not_before - self._leeway:
            raise RejectedError("not_yet_valid", f"token not valid before {not_before}")
        if exp - iat > MAX_LIFETIME.total_seconds():
            raise RejectedError("lifetime_too_long", "token lifetime exceeds the maximum")
        subject = _str_claim(claims, "sub")
        client_id = _str_claim(claims, "client_id")
        jti = _str_claim(claims, "jti")
        scope = claims.get("scope", "")
        if not isinstance(scope, str):
            raise RejectedError("claims_invalid", "`scope` must be a string")
        actors = parse_act(claims, settings.max_chain_depth)
        if actors:
            if actors[0] != client_id:
                raise RejectedError("claims_invalid", "current actor is not the client")
        elif subject != client_id:
            raise RejectedError("claims_invalid", "`sub` differs from `client_id` without `act`")
        if jti in self._revoked_set(now):
            raise RejectedError("jti_revoked", f"token `{jti}` was revoked")

        chain_agents = [client_id, *actors[1:]]
        if not subject.startswith(USER_PREFIX) and subject != client_id:
            chain_agents.append(subject)
        valid_until = float(exp) + self._leeway
        request_conditions: list[AccessConditions] = []
        for agent_id in chain_agents:
            if agent_id.startswith(USER_PREFIX):
                continue
            profile = self._profile(agent_id)
            if profile is None:
                raise RejectedError("agent_unknown", f"agent `{agent_id}` is not registered")
            failed = check_standing(profile.agent, profile.conditions, now)
            if failed is not None:
                code = failed if failed.startswith("agent_") else f"condition_failed:{failed}"
                raise RejectedError(code, f"agent `{agent_id}` fails `{failed}`")
            limit = standing_valid_until(profile.agent, profile.conditions)
            if limit is not None:
                valid_until = min(valid_until, limit.timestamp())
            request_conditions.extend(c for c in profile.conditions if c.depends_on_request)
        failed = check_request(request_conditions, now=now, source_ip=source_ip)
        if failed is not None:
            raise RejectedError(f"condition_failed:{failed}", "request condition")

        principal = VerifiedPrincipal(
            agent_id=client_id,
            client_id=client_id,
            subject=subject,
            scopes=frozenset(scope.split()),
            delegation=tuple([subject, *reversed(actors[1:])]) if actors else (),
            acting_for=subject[len(USER_PREFIX) :] if subject.startswith(USER_PREFIX) else None,
            jti=jti,
            expires_at=datetime.fromtimestamp(exp, UTC),
            issued_at=datetime.fromtimestamp(iat, UTC),
            claims=_freeze(claims),
        )
        with self._lock:
            if len(self._cache) >= self._max_entries:
                self._cache = {}
            self._cache[unverified_token] = _Entry(
                principal, float(not_before) - self._leeway, valid_until, tuple(request_conditions)
            )
        return principal
