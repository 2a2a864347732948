"""The OAuth 2.0 authorization server for agents, free of any web framework.

Grants:

- ``client_credentials`` with ``private_key_jwt`` (RFC 7523 client assertion signed by a
  key registered for the agent) or with a federated assertion (a token from a trusted
  workload issuer whose ``(iss, sub)`` maps to the agent);
- ``urn:ietf:params:oauth:grant-type:jwt-bearer`` (RFC 7523 section 2.1) with a federated
  token as ``assertion``;
- ``urn:ietf:params:oauth:grant-type:token-exchange`` (RFC 8693): subject token (a user
  token from a trusted ``user`` issuer, or a ztgate token) plus actor token (the agent's
  own ztgate token) yields a token with the nested ``act`` chain; scopes only narrow and
  the chain is bounded.

There are no client secrets: ``client_secret_*`` methods are not implemented at all.
Every refusal raises :class:`OAuthError` with a generic OAuth error for the caller and
emits a ``token.denied`` event naming the precise reason for operators.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ztgate.errors import RejectedError, StoreError, UsageError
from ztgate.identity import _jose
from ztgate.identity.conditions import check_request, check_standing
from ztgate.identity.federation import FederationVerifier
from ztgate.identity.registry import AgentProfile, Registry
from ztgate.identity.signing import SigningKeys
from ztgate.identity.tokens import IssuedToken, TokenIssuer, TokenSettings
from ztgate.identity.verify import USER_PREFIX, TokenVerifier, parse_act
from ztgate.store import CredentialType, LifecycleEvent

JWT_BEARER_ASSERTION = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
GRANT_CLIENT_CREDENTIALS = "client_credentials"
GRANT_JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
GRANT_TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"  # noqa: S105
TOKEN_TYPE_ACCESS = "urn:ietf:params:oauth:token-type:access_token"  # noqa: S105
TOKEN_TYPE_JWT = "urn:ietf:params:oauth:token-type:jwt"  # noqa: S105
CLIENT_ALGORITHMS = ("EdDSA", "Ed25519", "ES256", "RS256")


class OAuthError(RejectedError):
    """A refused token request: ``error`` and ``status`` are what the caller gets."""

    def __init__(self, error: str, reason: str, detail: str = "", *, status: int = 400) -> None:
        super().__init__(reason, detail, public=error)
        self.error = error
        self.status = status

    def response(self) -> dict[str, str]:
        return {"error": self.error}


def _replay_key(issuer: str, jti: str) -> str:
    """A fixed-size, byte-safe key for (issuer, jti) replay tracking."""
    return hashlib.sha256(json.dumps([issuer, jti]).encode()).hexdigest()


def _printable(unverified: str | None) -> str:
    """Caller-supplied text made safe for the event log (no control characters)."""
    if not unverified:
        return "unknown"
    return "".join(c if c.isprintable() else "?" for c in unverified[:200])


def _client_error(reason: str, detail: str = "") -> OAuthError:
    return OAuthError("invalid_client", reason, detail, status=401)


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A client that proved it is ``profile.agent`` with ``method``."""

    profile: AgentProfile
    method: CredentialType


class AuthorizationServer:
    """Token endpoint logic, metadata and JWKS over a shared store."""

    def __init__(
        self,
        settings: TokenSettings,
        registry: Registry,
        *,
        keys: SigningKeys | None = None,
        verifier: TokenVerifier | None = None,
        federation: FederationVerifier | None = None,
    ) -> None:
        self.settings = settings
        self.registry = registry
        self.store = registry.store
        self.keys = keys or SigningKeys(self.store, events=registry.events)
        self.issuer = TokenIssuer(settings, self.keys)
        self.verifier = verifier or TokenVerifier(settings, registry, self.keys)
        self.federation = federation or FederationVerifier(
            self.store, leeway=settings.leeway.total_seconds()
        )

    # -- discovery -------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """RFC 8414 authorization server metadata."""
        return {
            "issuer": self.settings.issuer,
            "token_endpoint": self.settings.token_endpoint,
            "jwks_uri": self.settings.jwks_uri,
            "grant_types_supported": [
                GRANT_CLIENT_CREDENTIALS,
                GRANT_JWT_BEARER,
                GRANT_TOKEN_EXCHANGE,
            ],
            "token_endpoint_auth_methods_supported": ["private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": list(CLIENT_ALGORITHMS),
            "response_types_supported": [],
            "scopes_supported": [],
            "access_token_signing_alg_values_supported": [self.keys.alg],
        }

    def jwks(self, now: datetime) -> dict[str, Any]:
        """The published keys; a fresh store gets its first signing key here."""
        self.keys.ensure(now)
        return self.keys.jwks(now)

    # -- the token endpoint ----------------------------------------------------------------

    def token(
        self, form: Mapping[str, str], *, now: datetime, source_ip: str | None
    ) -> dict[str, Any]:
        """Handle one token request (already form-decoded, each parameter at most once)."""
        try:
            issued, extra = self._dispatch(form, now=now, source_ip=source_ip)
        except OAuthError as error:
            self._event(
                "token_denied", _printable(form.get("client_id")), now, error.reason, error.detail
            )
            raise
        except RejectedError as error:  # a rejected assertion or token: never an oracle
            self._event(
                "token_denied", _printable(form.get("client_id")), now, error.reason, error.detail
            )
            raise OAuthError("invalid_grant", error.reason, error.detail) from error
        except UsageError as error:  # a registry record that no longer resolves
            self._event(
                "token_denied",
                _printable(form.get("client_id")),
                now,
                "registry_inconsistent",
                str(error),
            )
            raise OAuthError(
                "invalid_client", "registry_inconsistent", str(error), status=401
            ) from error
        except StoreError as error:  # fail closed; nothing can be recorded either
            raise OAuthError(
                "temporarily_unavailable", "store_unavailable", str(error), status=503
            ) from error
        self._event(
            "token_issued",
            issued.claims["client_id"],
            now,
            None,
            "",
            jti=issued.jti,
            sub=issued.claims["sub"],
            scope=issued.claims["scope"],
        )
        body = {
            "access_token": issued.token,
            "token_type": "Bearer",
            "expires_in": max(0, int(issued.expires_at.timestamp() - now.timestamp())),
            "scope": " ".join(issued.scopes),
            **extra,
        }
        return body

    def _event(
        self, kind: str, subject: str, now: datetime, reason: str | None, detail: str, **more: Any
    ) -> None:
        payload = {"detail": detail, **more} if detail else more
        self.registry.events.emit(
            LifecycleEvent(kind=kind, subject=subject[:200], at=now, reason=reason, detail=payload)
        )

    def _dispatch(
        self, form: Mapping[str, str], *, now: datetime, source_ip: str | None
    ) -> tuple[IssuedToken, dict[str, str]]:
        grant = form.get("grant_type")
        if "client_secret" in form:
            raise _client_error("client_secret_refused", "client secrets are not supported")
        if grant == GRANT_CLIENT_CREDENTIALS:
            client = self._authenticate(form, now=now, required=True)
            assert client is not None
            return self._client_credentials(client, form, now=now, source_ip=source_ip), {}
        if grant == GRANT_JWT_BEARER:
            assertion = form.get("assertion")
            if not assertion:
                raise OAuthError("invalid_request", "assertion_missing", "no `assertion`")
            client = self._federated(assertion, now=now)
            return self._client_credentials(client, form, now=now, source_ip=source_ip), {}
        if grant == GRANT_TOKEN_EXCHANGE:
            client = self._authenticate(form, now=now, required=False)
            issued = self._exchange(client, form, now=now, source_ip=source_ip)
            return issued, {"issued_token_type": TOKEN_TYPE_ACCESS}
        raise OAuthError("unsupported_grant_type", "grant_unsupported", f"grant `{grant}`")

    # -- client authentication -------------------------------------------------------------

    def _authenticate(
        self, form: Mapping[str, str], *, now: datetime, required: bool
    ) -> Authenticated | None:
        assertion_type = form.get("client_assertion_type")
        assertion = form.get("client_assertion")
        if assertion_type is None and assertion is None:
            if required:
                raise _client_error("client_auth_missing", "no client assertion")
            return None
        if assertion_type != JWT_BEARER_ASSERTION or not assertion:
            raise _client_error("client_assertion_type_invalid", f"type `{assertion_type}`")
        try:
            parsed = _jose.parse_compact(assertion, max_bytes=self.settings.max_token_bytes)
        except RejectedError as error:
            raise _client_error(f"assertion_{error.reason}", error.detail) from error
        unverified_iss = parsed.payload.get("iss")
        client_id = form.get("client_id")
        # Agent ids cannot contain ":", so an issuer that does (a URL) can only be an
        # external workload issuer: route it to federation, which names it untrusted.
        if isinstance(unverified_iss, str) and ":" in unverified_iss:
            client = self._federated(assertion, now=now)
        else:
            client = self._private_key_jwt(parsed, now=now)
        if client_id is not None and client_id != client.profile.agent.id:
            raise _client_error("client_id_mismatch", f"`{client_id}` vs assertion")
        return client

    def _profile_or_fail(self, agent_id: str) -> AgentProfile:
        profile = self.registry.profile(agent_id)
        if profile is None:
            raise _client_error("agent_unknown", f"agent `{agent_id}` is not registered")
        return profile

    def _private_key_jwt(self, parsed: _jose.ParsedJWS, *, now: datetime) -> Authenticated:
        claims = parsed.payload
        iss, sub = claims.get("iss"), claims.get("sub")
        if not isinstance(iss, str) or iss != sub:
            raise _client_error("assertion_invalid", "`iss` and `sub` must both name the client")
        alg = parsed.header["alg"]
        if alg not in CLIENT_ALGORITHMS:
            raise _client_error("alg_not_allowed", f"client assertion algorithm `{alg}`")
        profile = self._profile_or_fail(iss)
        if CredentialType.PRIVATE_KEY_JWT not in profile.credential_types:
            raise _client_error("credential_type_not_allowed", "private_key_jwt not allowed")
        kid = parsed.header.get("kid")
        keys = self.store.client_keys.list_for(iss)
        if isinstance(kid, str):
            keys = [k for k in keys if k.kid == kid]
        verified = False
        for record in keys:
            key_alg, key = _jose.public_key_from_jwk(record.public_jwk)
            if key_alg == _jose.normalize_alg(alg) and _jose.verify_signature(parsed, alg, key):
                verified = True
                break
        if not verified:
            raise _client_error("assertion_signature_invalid", f"no active key of `{iss}` verifies")
        aud = claims.get("aud")
        audiences = [aud] if isinstance(aud, str) else aud
        accepted = {self.settings.token_endpoint, self.settings.issuer}
        if not isinstance(audiences, list) or not accepted & {
            a for a in audiences if isinstance(a, str)
        }:
            raise _client_error("assertion_aud_invalid", f"audience `{aud}`")
        exp, jti = claims.get("exp"), claims.get("jti")
        if isinstance(exp, bool) or not isinstance(exp, int | float):
            raise _client_error("assertion_invalid", "no numeric `exp`")
        ts, leeway = now.timestamp(), self.settings.leeway.total_seconds()
        if ts >= exp + leeway:
            raise _client_error("assertion_expired", "client assertion expired")
        if exp - ts > self.settings.client_assertion_max_lifetime.total_seconds():
            raise _client_error("assertion_lifetime_too_long", "client assertion lives too long")
        nbf = claims.get("nbf", claims.get("iat"))
        if isinstance(nbf, int | float) and not isinstance(nbf, bool) and ts < nbf - leeway:
            raise _client_error("assertion_not_yet_valid", "client assertion not yet valid")
        if not isinstance(jti, str) or not jti:
            raise _client_error("assertion_invalid", "no `jti`")
        expires = datetime.fromtimestamp(float(exp) + leeway, now.tzinfo)
        if not self.store.assertions.remember(_replay_key(iss, jti), expires, now):
            raise _client_error("assertion_replayed", f"assertion `{jti}` was already used")
        return Authenticated(profile, CredentialType.PRIVATE_KEY_JWT)

    def _federated(self, assertion: str, *, now: datetime) -> Authenticated:
        try:
            external = self.federation.verify(assertion, kind="workload", now=now)
        except RejectedError as error:
            raise _client_error(f"federated_{error.reason}", error.detail) from error
        agent_id = self.store.federation.agent_for(external.trust.issuer, external.subject)
        if agent_id is None:
            raise _client_error(
                "federated_subject_unmapped",
                f"`{external.subject}` of `{external.trust.issuer}` maps to no agent",
            )
        profile = self._profile_or_fail(agent_id)
        if CredentialType.FEDERATED not in profile.credential_types:
            raise _client_error("credential_type_not_allowed", "federation not allowed")
        jti = external.claims.get("jti")
        if isinstance(jti, str) and jti:
            expires = datetime.fromtimestamp(external.expires_at, now.tzinfo)
            key = _replay_key(external.trust.issuer, jti)
            if not self.store.assertions.remember(key, expires, now):
                raise _client_error("assertion_replayed", f"federated token `{jti}` reused")
        return Authenticated(profile, CredentialType.FEDERATED)

    # -- conditional access and scopes -----------------------------------------------------

    def _admit(self, profile: AgentProfile, *, now: datetime, source_ip: str | None) -> None:
        failed = check_standing(profile.agent, profile.conditions, now)
        if failed is not None:
            if failed.startswith("agent_"):
                raise _client_error(failed, f"agent `{profile.agent.id}` is not usable")
            raise OAuthError("access_denied", f"condition_failed:{failed}", profile.agent.id)
        failed = check_request(profile.conditions, now=now, source_ip=source_ip)
        if failed is not None:
            raise OAuthError("access_denied", f"condition_failed:{failed}", profile.agent.id)

    @staticmethod
    def _narrow(requested: str | None, allowed: frozenset[str]) -> tuple[str, ...]:
        if requested is None or not requested.strip():
            return tuple(sorted(allowed))
        wanted = set(requested.split())
        wider = wanted - allowed
        if wider:
            raise OAuthError("invalid_scope", "scope_widened", f"not allowed: {sorted(wider)}")
        return tuple(sorted(wanted))

    def _check_audience(self, form: Mapping[str, str]) -> None:
        for name in ("audience", "resource"):
            value = form.get(name)
            if value is not None and value != self.settings.audience:
                raise OAuthError("invalid_target", "audience_unknown", f"`{name}` `{value}`")

    def _client_credentials(
        self,
        client: Authenticated,
        form: Mapping[str, str],
        *,
        now: datetime,
        source_ip: str | None,
    ) -> IssuedToken:
        self._admit(client.profile, now=now, source_ip=source_ip)
        self._check_audience(form)
        scopes = self._narrow(form.get("scope"), client.profile.scopes)
        agent_id = client.profile.agent.id
        return self.issuer.issue(subject=agent_id, client_id=agent_id, scopes=scopes, now=now)

    # -- token exchange ----------------------------------------------------------------------

    def _exchange(
        self,
        client: Authenticated | None,
        form: Mapping[str, str],
        *,
        now: datetime,
        source_ip: str | None,
    ) -> IssuedToken:
        requested_type = form.get("requested_token_type", TOKEN_TYPE_ACCESS)
        if requested_type != TOKEN_TYPE_ACCESS:
            raise OAuthError("invalid_request", "token_type_unsupported", requested_type)
        subject_token = form.get("subject_token")
        actor_token = form.get("actor_token")
        if not subject_token or form.get("subject_token_type") not in (
            TOKEN_TYPE_ACCESS,
            TOKEN_TYPE_JWT,
        ):
            raise OAuthError("invalid_request", "subject_token_missing", "subject token and type")
        if not actor_token or form.get("actor_token_type") != TOKEN_TYPE_ACCESS:
            raise OAuthError("invalid_request", "actor_token_missing", "actor token and type")
        self._check_audience(form)

        actor = self.verifier.verify_access_token(actor_token, now=now, source_ip=source_ip)
        if actor.delegation or actor.subject != actor.agent_id:
            raise OAuthError(
                "invalid_grant", "actor_token_delegated", "actor token must be the agent's own"
            )
        if client is not None and client.profile.agent.id != actor.agent_id:
            raise _client_error("client_actor_mismatch", "client is not the actor")
        profile = self._profile_or_fail(actor.agent_id)
        self._admit(profile, now=now, source_ip=source_ip)

        unverified_iss = _jose.parse_compact(
            subject_token, max_bytes=self.settings.max_token_bytes
        ).payload.get("iss")
        if unverified_iss == self.settings.issuer:
            subject = self.verifier.verify_access_token(subject_token, now=now, source_ip=source_ip)
            subject_name = subject.subject
            prior_actors = parse_act(subject.claims, self.settings.max_chain_depth)
            if not prior_actors and subject.agent_id == subject_name:
                prior_actors = []
            ceiling = subject.scopes
            not_after = subject.expires_at
        else:
            external = self.federation.verify(subject_token, kind="user", now=now)
            subject_name = USER_PREFIX + external.subject
            prior_actors = []
            ceiling = profile.scopes
            not_after = datetime.fromtimestamp(external.expires_at, now.tzinfo)

        if actor.agent_id == subject_name or actor.agent_id in prior_actors:
            raise OAuthError("invalid_grant", "delegation_loop", "actor already in the chain")
        actors = [actor.agent_id, *prior_actors]
        if len(actors) > self.settings.max_chain_depth:
            raise OAuthError(
                "invalid_grant",
                "act_chain_too_long",
                f"{len(actors)} actors, limit {self.settings.max_chain_depth}",
            )
        allowed = ceiling & profile.scopes & actor.scopes
        scopes = self._narrow(form.get("scope"), frozenset(allowed))
        return self.issuer.issue(
            subject=subject_name,
            client_id=actor.agent_id,
            scopes=scopes,
            now=now,
            actors=actors,
            not_after=not_after,
        )
