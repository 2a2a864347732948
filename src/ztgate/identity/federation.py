"""Workload identity federation: trust external issuers via OIDC discovery + JWKS.

An agent presents the token its platform already gives it (Kubernetes service-account
token, CI OIDC token, SPIFFE JWT-SVID, an IdP token); ztgate checks it against the
trusted issuer's published keys and maps ``(iss, sub)`` to a registered agent. Keys are
fetched with httpx and cached for ``ttl`` seconds; an unknown ``kid`` triggers a refetch
(at most every ``min_refresh`` seconds), which is how issuer key rotation is followed.
Any fetch or parse failure rejects the token.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from ztgate.errors import RejectedError, UsageError
from ztgate.identity import _jose
from ztgate.store import FederationTrust, Store

MAX_DOCUMENT_BYTES = 256 * 1024
_LOOPBACK_NAMES = frozenset({"localhost"})


def check_fetch_url(url: str) -> None:
    """Issuer and key URLs must be https; plain http is accepted for loopback only."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return
    if parts.scheme == "http" and host:
        if host in _LOOPBACK_NAMES:
            return
        try:
            if ipaddress.ip_address(host).is_loopback:
                return
        except ValueError:
            pass
    raise UsageError(f"`{url}` must be an https URL (http only for loopback)")


@dataclass(frozen=True, slots=True)
class _IssuerKeys:
    keys: dict[str, tuple[str, _jose.PublicKey]]
    anonymous: tuple[tuple[str, _jose.PublicKey], ...]
    fetched_at: float


@dataclass(frozen=True, slots=True)
class ExternalToken:
    """A verified external token: its trust, subject and claims."""

    trust: FederationTrust
    subject: str
    claims: dict[str, Any]
    expires_at: int


class FederationVerifier:
    """Verifies tokens from trusted issuers; caches each issuer's JWKS."""

    def __init__(
        self,
        store: Store,
        *,
        http: httpx.Client | None = None,
        ttl: float = 300.0,
        min_refresh: float = 30.0,
        leeway: float = 30.0,
        max_token_bytes: int = 16384,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self._http = http or httpx.Client(timeout=5.0, follow_redirects=False)
        self._ttl = ttl
        self._min_refresh = min_refresh
        self._leeway = leeway
        self._max_bytes = max_token_bytes
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._keys: dict[str, _IssuerKeys] = {}

    def _get_json(self, url: str) -> dict[str, Any]:
        check_fetch_url(url)
        try:
            response = self._http.get(url, headers={"Accept": "application/json"})
        except httpx.HTTPError as error:
            raise RejectedError("federation_fetch_failed", f"`{url}`: {error}") from error
        if response.status_code != 200 or len(response.content) > MAX_DOCUMENT_BYTES:
            raise RejectedError(
                "federation_fetch_failed", f"`{url}` answered {response.status_code}"
            )
        try:
            document = response.json()
        except ValueError as error:
            raise RejectedError("federation_fetch_failed", f"`{url}` is not JSON") from error
        if not isinstance(document, dict):
            raise RejectedError("federation_fetch_failed", f"`{url}` is not a JSON object")
        return document

    def _fetch_keys(self, trust: FederationTrust) -> _IssuerKeys:
        jwks_uri = trust.jwks_uri
        if jwks_uri is None:
            discovery = trust.discovery_url or (
                trust.issuer.rstrip("/") + "/.well-known/openid-configuration"
            )
            document = self._get_json(discovery)
            if document.get("issuer") != trust.issuer:
                raise RejectedError(
                    "federation_discovery_mismatch",
                    f"discovery names issuer `{document.get('issuer')}`, expected `{trust.issuer}`",
                )
            uri = document.get("jwks_uri")
            if not isinstance(uri, str):
                raise RejectedError("federation_fetch_failed", "discovery has no `jwks_uri`")
            jwks_uri = uri
        jwks = self._get_json(jwks_uri)
        raw_keys = jwks.get("keys")
        if not isinstance(raw_keys, list):
            raise RejectedError("federation_fetch_failed", "JWKS has no `keys` list")
        keys: dict[str, tuple[str, _jose.PublicKey]] = {}
        anonymous: list[tuple[str, _jose.PublicKey]] = []
        for raw in raw_keys:
            if not isinstance(raw, dict) or raw.get("use", "sig") != "sig":
                continue
            try:
                alg, key = _jose.public_key_from_jwk(raw)
            except ValueError:
                continue  # keys we cannot use (other types, encryption keys) are skipped
            kid = raw.get("kid")
            if isinstance(kid, str):
                keys[kid] = (alg, key)
            else:
                anonymous.append((alg, key))
        return _IssuerKeys(keys, tuple(anonymous), self._monotonic())

    def _issuer_keys(self, trust: FederationTrust, *, force: bool) -> _IssuerKeys:
        cached = self._keys.get(trust.issuer)
        now = self._monotonic()
        if cached is not None:
            age = now - cached.fetched_at
            if age < self._ttl and not (force and age >= self._min_refresh):
                return cached
        with self._lock:
            fresh = self._fetch_keys(trust)
            self._keys[trust.issuer] = fresh
            return fresh

    def verify(self, unverified_token: str, *, kind: str, now: datetime) -> ExternalToken:
        """Verify a token from a trusted issuer of ``kind`` (``workload`` or ``user``)."""
        parsed = _jose.parse_compact(unverified_token, max_bytes=self._max_bytes)
        unverified_iss = parsed.payload.get("iss")
        trust = (
            self.store.federation.get_trust(unverified_iss)
            if isinstance(unverified_iss, str)
            else None
        )
        if trust is None or trust.kind != kind:
            raise RejectedError(
                "issuer_untrusted", f"issuer `{unverified_iss}` is not a trusted {kind} issuer"
            )
        alg = parsed.header["alg"]
        if _jose.normalize_alg(alg) not in {_jose.normalize_alg(a) for a in trust.algorithms}:
            raise RejectedError("alg_not_allowed", f"algorithm `{alg}` not accepted for issuer")
        kid = parsed.header.get("kid")
        candidates = self._candidates(trust, kid, force=False)
        if not candidates:
            candidates = self._candidates(trust, kid, force=True)
        if not candidates:
            raise RejectedError("kid_unknown", f"issuer has no key `{kid}`")
        if not any(
            key_alg == _jose.normalize_alg(alg) and _jose.verify_signature(parsed, alg, key)
            for key_alg, key in candidates
        ):
            raise RejectedError("signature_invalid", "external token signature does not verify")
        claims = parsed.payload
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        if not isinstance(audiences, list) or not set(trust.audiences) & {
            a for a in audiences if isinstance(a, str)
        }:
            raise RejectedError("aud_invalid", f"audience `{aud}` not accepted for issuer")
        exp = claims.get("exp")
        if isinstance(exp, bool) or not isinstance(exp, int):
            raise RejectedError("claims_invalid", "external token has no integer `exp`")
        ts = now.timestamp()
        if ts >= exp + self._leeway:
            raise RejectedError("expired", "external token expired")
        for name in ("nbf", "iat"):
            value = claims.get(name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise RejectedError("claims_invalid", f"`{name}` must be a number")
            if ts < value - self._leeway:
                raise RejectedError("not_yet_valid", f"external token `{name}` is in the future")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub:
            raise RejectedError("claims_invalid", "external token has no `sub`")
        return ExternalToken(trust, sub, claims, exp)

    def _candidates(
        self, trust: FederationTrust, kid: object, *, force: bool
    ) -> list[tuple[str, _jose.PublicKey]]:
        keys = self._issuer_keys(trust, force=force)
        if isinstance(kid, str):
            found = keys.keys.get(kid)
            return [found] if found is not None else []
        return [*keys.keys.values(), *keys.anonymous]
