"""Workload identity federation against a real local OIDC issuer (discovery + JWKS)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.identity.identity_support import Backend, FakeClock, LocalIssuer, make_server
from ztgate.identity import (
    AuthorizationServer,
    FederationVerifier,
    OAuthError,
    Registry,
    TokenSettings,
)
from ztgate.store import Store

SA = "system:serviceaccount:prod:triage"
AUD = "ztgate"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"


@pytest.fixture
def backend(sqlite_backend: Backend) -> Backend:
    """Engine-independent logic: SQLite only (the store tests cover PostgreSQL)."""
    return sqlite_backend


@pytest.fixture
def fed(
    registry: Registry, settings: TokenSettings, clock: FakeClock, local_issuer: LocalIssuer
) -> AuthorizationServer:
    registry.create_agent("k8s-bot", owners=["alice"], sponsors=["bob"], scopes=["read"])
    registry.trust_issuer(local_issuer.url, kind="workload", audiences=[AUD])
    registry.map_subject(local_issuer.url, SA, "k8s-bot")
    federation = FederationVerifier(registry.store, monotonic=clock.monotonic, min_refresh=30)
    return make_server(registry, settings, clock, federation=federation)


def _cc(assertion: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
    }


def _denied(server: AuthorizationServer, form: dict[str, str], clock: FakeClock) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        server.token(form, now=clock.now, source_ip=None)
    return caught.value


def _reason(store: Store) -> str | None:
    return store.events.list(kind="token_denied")[-1].reason


def test_platform_token_authenticates_the_mapped_agent(
    fed: AuthorizationServer, local_issuer: LocalIssuer, clock: FakeClock
) -> None:
    body = fed.token(_cc(local_issuer.mint(SA, AUD, clock.now)), now=clock.now, source_ip=None)
    principal = fed.verifier.verify_access_token(body["access_token"], now=clock.now)
    assert principal.agent_id == "k8s-bot"
    assert principal.scopes == {"read"}
    # the jwt-bearer grant (RFC 7523 section 2.1) takes the same token as `assertion`
    form = {"grant_type": JWT_BEARER, "assertion": local_issuer.mint(SA, [AUD, "x"], clock.now)}
    assert fed.token(form, now=clock.now, source_ip=None)["scope"] == "read"
    assert local_issuer.fetches == {"discovery": 1, "jwks": 1}  # cached between calls


@pytest.mark.parametrize(
    ("mint", "reason"),
    [
        (
            lambda i, now: i.mint("system:serviceaccount:prod:other", AUD, now),
            "federated_subject_unmapped",
        ),
        (lambda i, now: i.mint(SA, "someone-else", now), "federated_aud_invalid"),
        (lambda i, now: i.mint(SA, AUD, now, exp=int(now.timestamp()) - 600), "federated_expired"),
        (
            lambda i, now: i.mint(SA, AUD, now, nbf=int(now.timestamp()) + 600),
            "federated_not_yet_valid",
        ),
        (lambda i, now: i.mint(SA, AUD, now, drop=("sub",)), "federated_claims_invalid"),
        (lambda i, now: i.mint(SA, AUD, now, exp="soon"), "federated_claims_invalid"),
        (
            lambda i, now: i.mint(SA, AUD, now, iss="https://untrusted.example"),
            "federated_issuer_untrusted",
        ),
    ],
)
def test_refused_platform_tokens(
    fed: AuthorizationServer,
    local_issuer: LocalIssuer,
    clock: FakeClock,
    store: Store,
    mint: Any,
    reason: str,
) -> None:
    error = _denied(fed, _cc(mint(local_issuer, clock.now)), clock)
    assert error.error == "invalid_client"
    assert _reason(store) == reason


def test_untrusted_issuer_with_its_own_keys(
    fed: AuthorizationServer, clock: FakeClock, store: Store
) -> None:
    rogue = LocalIssuer()
    try:
        token = rogue.mint(SA, AUD, clock.now)
        _denied(fed, _cc(token), clock)
        assert _reason(store) == "federated_issuer_untrusted"
        _denied(fed, {"grant_type": JWT_BEARER, "assertion": token}, clock)
        assert _reason(store) == "federated_issuer_untrusted"
        assert rogue.fetches == {"discovery": 0, "jwks": 0}  # never even contacted
    finally:
        rogue.close()


def test_signature_by_a_key_the_issuer_does_not_publish(
    fed: AuthorizationServer, local_issuer: LocalIssuer, clock: FakeClock, store: Store
) -> None:
    import jwt
    from cryptography.hazmat.primitives.asymmetric import rsa

    fed.token(_cc(local_issuer.mint(SA, AUD, clock.now)), now=clock.now, source_ip=None)
    kid = local_issuer.keys[-1][0]
    forged = jwt.encode(
        {"iss": local_issuer.url, "sub": SA, "aud": AUD, "exp": int(clock.now.timestamp()) + 60},
        rsa.generate_private_key(public_exponent=65537, key_size=2048),
        algorithm="RS256",
        headers={"kid": kid},
    )
    _denied(fed, _cc(forged), clock)
    assert _reason(store) == "federated_signature_invalid"
    hs = jwt.encode(
        {"iss": local_issuer.url, "sub": SA, "aud": AUD, "exp": int(clock.now.timestamp()) + 60},
        "shared-secret-shared-secret-shared",
        algorithm="HS256",
        headers={"kid": kid},
    )
    _denied(fed, _cc(hs), clock)
    assert _reason(store) == "federated_alg_not_allowed"


def test_issuer_key_rotation_is_followed_with_a_bounded_refetch(
    fed: AuthorizationServer, local_issuer: LocalIssuer, clock: FakeClock, store: Store
) -> None:
    fed.token(_cc(local_issuer.mint(SA, AUD, clock.now)), now=clock.now, source_ip=None)
    assert local_issuer.fetches["jwks"] == 1
    local_issuer.rotate()
    # an unknown kid within min_refresh of the last fetch does not hammer the issuer
    clock.advance(5)
    _denied(fed, _cc(local_issuer.mint(SA, AUD, clock.now)), clock)
    assert _reason(store) == "federated_kid_unknown"
    assert local_issuer.fetches["jwks"] == 1
    # after min_refresh, an unknown kid triggers one refetch and the new key is used
    clock.advance(30)
    body = fed.token(_cc(local_issuer.mint(SA, AUD, clock.now)), now=clock.now, source_ip=None)
    assert body["scope"] == "read"
    assert local_issuer.fetches["jwks"] == 2


def test_discovery_must_name_the_trusted_issuer(
    fed: AuthorizationServer, local_issuer: LocalIssuer, clock: FakeClock, store: Store
) -> None:
    local_issuer.discovery_issuer_override = "https://impostor.example"
    _denied(fed, _cc(local_issuer.mint(SA, AUD, clock.now)), clock)
    assert _reason(store) == "federated_federation_discovery_mismatch"


def test_unreachable_issuer_fails_closed(
    fed: AuthorizationServer, local_issuer: LocalIssuer, clock: FakeClock, store: Store
) -> None:
    token = local_issuer.mint(SA, AUD, clock.now)
    local_issuer.close()
    _denied(fed, _cc(token), clock)
    assert _reason(store) == "federated_federation_fetch_failed"


def test_platform_token_replay_and_credential_type(
    fed: AuthorizationServer,
    registry: Registry,
    local_issuer: LocalIssuer,
    clock: FakeClock,
    store: Store,
) -> None:
    token = local_issuer.mint(SA, AUD, clock.now)
    fed.token(_cc(token), now=clock.now, source_ip=None)
    _denied(fed, _cc(token), clock)
    assert _reason(store) == "assertion_replayed"
    registry.create_blueprint("keys-only", credential_types=["private_key_jwt"])
    registry.create_agent("strict-bot", owners=["o"], sponsors=["s"], blueprint="keys-only")
    registry.map_subject(local_issuer.url, "system:serviceaccount:prod:strict", "strict-bot")
    _denied(fed, _cc(local_issuer.mint("system:serviceaccount:prod:strict", AUD, clock.now)), clock)
    assert _reason(store) == "credential_type_not_allowed"


def test_jwks_cache_expires_after_ttl(
    fed: AuthorizationServer, local_issuer: LocalIssuer, clock: FakeClock
) -> None:
    fed.token(_cc(local_issuer.mint(SA, AUD, clock.now)), now=clock.now, source_ip=None)
    clock.advance(301)
    fed.token(_cc(local_issuer.mint(SA, AUD, clock.now)), now=clock.now, source_ip=None)
    assert local_issuer.fetches["jwks"] == 2
