"""client_credentials with private_key_jwt: issuance, refusals and their audit reasons."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.identity.identity_support import (
    ISSUER,
    T0,
    AgentKey,
    FakeClock,
    client_assertion,
    register_agent,
)
from ztgate.identity import AuthorizationServer, OAuthError, Registry
from ztgate.identity._jose import public_jwk
from ztgate.store import Store

CC = "client_credentials"
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def _form(assertion: str, **extra: str) -> dict[str, str]:
    return {
        "grant_type": CC,
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": assertion,
        **extra,
    }


def _refused(
    server: AuthorizationServer,
    form: dict[str, str],
    clock: FakeClock,
    *,
    source_ip: str | None = "10.0.0.5",
) -> OAuthError:
    with pytest.raises(OAuthError) as caught:
        server.token(form, now=clock.now, source_ip=source_ip)
    return caught.value


def _last_denial(store: Store) -> Any:
    return store.events.list(kind="token_denied")[-1]


@pytest.fixture
def bot(registry: Registry) -> AgentKey:
    return register_agent(registry, "bot-1", scopes=("read", "write"))


def test_issues_a_verifiable_rfc9068_token(
    server: AuthorizationServer, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    body = server.token(_form(client_assertion(bot, clock.now)), now=clock.now, source_ip=None)
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 600
    assert body["scope"] == "read write"
    header = jwt.get_unverified_header(body["access_token"])
    assert header["typ"] == "at+jwt"
    assert header["alg"] == "EdDSA"
    claims = jwt.decode(body["access_token"], options={"verify_signature": False})
    assert {"iss", "sub", "aud", "client_id", "iat", "exp", "jti", "scope"} <= set(claims)
    assert claims["sub"] == claims["client_id"] == "bot-1"
    principal = server.verifier.verify_access_token(body["access_token"], now=clock.now)
    assert principal.scopes == {"read", "write"}
    issued = store.events.list(kind="token_issued")
    assert issued[-1].subject == "bot-1"
    assert issued[-1].detail["jti"] == principal.jti


def test_scope_can_only_narrow(
    server: AuthorizationServer, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    body = server.token(
        _form(client_assertion(bot, clock.now), scope="read"), now=clock.now, source_ip=None
    )
    assert body["scope"] == "read"
    error = _refused(server, _form(client_assertion(bot, clock.now), scope="read admin"), clock)
    assert error.error == "invalid_scope"
    assert _last_denial(store).reason == "scope_widened"


def test_audience_parameter_must_be_ours(
    server: AuthorizationServer, bot: AgentKey, clock: FakeClock
) -> None:
    error = _refused(server, _form(client_assertion(bot, clock.now), resource="urn:x"), clock)
    assert error.error == "invalid_target"


def test_es256_client_key_and_issuer_audience(
    server: AuthorizationServer, registry: Registry, clock: FakeClock
) -> None:
    registry.create_agent("ec-bot", owners=["o"], sponsors=["s"], scopes=["read"])
    private = ec.generate_private_key(ec.SECP256R1())
    registry.add_client_key("ec-bot", {**public_jwk(private.public_key()), "kid": "ec"})
    assertion = jwt.encode(
        {
            "iss": "ec-bot",
            "sub": "ec-bot",
            "aud": ISSUER,
            "exp": int(clock.now.timestamp()) + 60,
            "jti": "j-ec",
        },
        private,
        algorithm="ES256",
        headers={"kid": "ec"},
    )
    body = server.token(_form(assertion, client_id="ec-bot"), now=clock.now, source_ip=None)
    assert body["scope"] == "read"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda k, now: client_assertion(k, now, aud="https://elsewhere/token"),
            "assertion_aud_invalid",
        ),
        (
            lambda k, now: client_assertion(k, now, exp=int(now.timestamp()) - 120),
            "assertion_expired",
        ),
        (
            lambda k, now: client_assertion(k, now, exp=int(now.timestamp()) + 7200),
            "assertion_lifetime_too_long",
        ),
        (
            lambda k, now: client_assertion(k, now, iat=int(now.timestamp()) + 600),
            "assertion_not_yet_valid",
        ),
        (lambda k, now: client_assertion(k, now, jti=None), "assertion_invalid"),
        (lambda k, now: client_assertion(k, now, sub="other"), "assertion_invalid"),
        (lambda k, now: client_assertion(k, now, iss="ghost", sub="ghost"), "agent_unknown"),
        (
            lambda k, now: jwt.encode(
                {
                    "iss": "bot-1",
                    "sub": "bot-1",
                    "aud": ISSUER,
                    "exp": int(now.timestamp()) + 60,
                    "jti": "x",
                },
                ec.generate_private_key(ec.SECP256R1()),
                algorithm="ES256",
            ),
            "assertion_signature_invalid",
        ),
        (
            lambda k, now: jwt.encode(
                {
                    "iss": "bot-1",
                    "sub": "bot-1",
                    "aud": ISSUER,
                    "exp": int(now.timestamp()) + 60,
                    "jti": "x",
                },
                "a-shared-secret-that-is-long-enough",
                algorithm="HS256",
            ),
            "alg_not_allowed",
        ),
    ],
)
def test_bad_client_assertions(
    server: AuthorizationServer,
    bot: AgentKey,
    clock: FakeClock,
    store: Store,
    mutate: Any,
    reason: str,
) -> None:
    error = _refused(server, _form(mutate(bot, clock.now)), clock)
    assert error.error == "invalid_client"
    assert error.status == 401
    assert _last_denial(store).reason == reason


def test_assertion_replay_is_refused(
    server: AuthorizationServer, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    assertion = client_assertion(bot, clock.now)
    server.token(_form(assertion), now=clock.now, source_ip=None)
    error = _refused(server, _form(assertion), clock)
    assert error.error == "invalid_client"
    assert _last_denial(store).reason == "assertion_replayed"


def test_revoked_client_key_no_longer_authenticates(
    server: AuthorizationServer, registry: Registry, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    registry.revoke_client_key("bot-1", bot.kid)
    _refused(server, _form(client_assertion(bot, clock.now)), clock)
    assert _last_denial(store).reason == "assertion_signature_invalid"


def test_request_shape_refusals(
    server: AuthorizationServer, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    error = _refused(server, {"grant_type": CC, "client_id": "bot-1", "client_secret": "s"}, clock)
    assert error.error == "invalid_client"
    assert _last_denial(store).reason == "client_secret_refused"
    error = _refused(server, {"grant_type": CC}, clock)
    assert _last_denial(store).reason == "client_auth_missing"
    error = _refused(server, {"grant_type": "password"}, clock)
    assert error.error == "unsupported_grant_type"
    form = _form(client_assertion(bot, clock.now))
    form["client_assertion_type"] = "urn:other"
    assert _refused(server, form, clock).error == "invalid_client"
    error = _refused(server, _form(client_assertion(bot, clock.now), client_id="bot-2"), clock)
    assert _last_denial(store).reason == "client_id_mismatch"
    error = _refused(server, _form("not-a-jwt"), clock)
    assert error.error == "invalid_client"
    assert _last_denial(store).reason == "assertion_malformed"


def test_store_failure_is_a_503_not_a_token(
    server: AuthorizationServer, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    from sqlalchemy import text

    from ztgate.store import _schema

    with store.engine.begin() as conn:
        conn.execute(text("DROP TABLE used_assertions"))
    try:
        error = _refused(server, _form(client_assertion(bot, clock.now)), clock)
        assert error.error == "temporarily_unavailable"
        assert error.status == 503
        assert store.events.list(kind="token_issued") == []
    finally:
        with store.engine.begin() as conn:  # the PostgreSQL schema is shared by the run
            _schema.used_assertions.create(conn)


def test_blueprint_can_forbid_private_key_jwt(
    server: AuthorizationServer, registry: Registry, clock: FakeClock, store: Store
) -> None:
    registry.create_blueprint("fed-only", credential_types=["federated"])
    key = register_agent(registry, "fed-bot", blueprint="fed-only")
    _refused(server, _form(client_assertion(key, clock.now)), clock)
    assert _last_denial(store).reason == "credential_type_not_allowed"


def test_inactive_agents_get_no_token(
    server: AuthorizationServer, registry: Registry, bot: AgentKey, clock: FakeClock, store: Store
) -> None:
    registry.suspend("bot-1", reason="incident")
    error = _refused(server, _form(client_assertion(bot, clock.now)), clock)
    assert error.error == "invalid_client"
    assert _last_denial(store).reason == "agent_suspended"


@pytest.mark.parametrize(
    ("conditions", "source_ip", "advance", "reason"),
    [
        ({"source_cidrs": ["192.168.0.0/16"]}, "10.0.0.5", 0, "condition_failed:source_cidr"),
        ({"source_cidrs": ["192.168.0.0/16"]}, None, 0, "condition_failed:source_ip_unknown"),
        (
            {"source_cidrs": ["192.168.0.0/16"]},
            "not-an-ip",
            0,
            "condition_failed:source_ip_invalid",
        ),
        ({"source_cidrs": ["10.0.0.0/8"]}, "10.0.0.5", 0, None),
        ({"source_cidrs": ["10.0.0.0/8"]}, "::ffff:10.0.0.5", 0, None),
        (
            {"time_windows": [{"days": ["sat", "sun"], "start": "00:00", "end": "23:59"}]},
            "10.0.0.5",
            0,
            "condition_failed:time_window",
        ),
        (
            {"time_windows": [{"days": ["mon"], "start": "09:00", "end": "11:00"}]},
            "10.0.0.5",
            0,
            None,
        ),
        ({"max_risk": "low"}, "10.0.0.5", 0, "condition_failed:risk_level"),
        ({"max_attestation_age_seconds": 3600}, "10.0.0.5", 0, "condition_failed:attestation_age"),
    ],
)
def test_conditional_access_at_issuance(
    server: AuthorizationServer,
    registry: Registry,
    clock: FakeClock,
    store: Store,
    conditions: dict[str, Any],
    source_ip: str | None,
    advance: int,
    reason: str | None,
) -> None:
    key = register_agent(registry, "cond-bot", conditions=conditions, risk_level="medium")
    clock.advance(advance)
    form = _form(client_assertion(key, clock.now))
    if reason is None:
        body = server.token(form, now=clock.now, source_ip=source_ip)
        principal = server.verifier.verify_access_token(
            body["access_token"], now=clock.now, source_ip=source_ip
        )
        assert principal.agent_id == "cond-bot"
        return
    error = _refused(server, form, clock, source_ip=source_ip)
    assert error.error == "access_denied"
    assert str(error) == "access_denied"  # the caller never sees which condition
    assert _last_denial(store).reason == reason


def test_conditions_are_checked_again_at_verification(
    server: AuthorizationServer, registry: Registry, clock: FakeClock
) -> None:
    registry.create_blueprint("office", conditions={"source_cidrs": ["10.0.0.0/8"]})
    key = register_agent(
        registry,
        "office-bot",
        blueprint="office",
        conditions={"max_attestation_age_seconds": 300},
    )
    registry.attest("office-bot")
    body = server.token(
        _form(client_assertion(key, clock.now)), now=clock.now, source_ip="10.1.2.3"
    )
    token = body["access_token"]
    verifier = server.verifier
    assert verifier.verify_access_token(token, now=clock.now, source_ip="10.1.2.3")
    with pytest.raises(Exception, match="invalid token") as caught:
        verifier.verify_access_token(token, now=clock.now, source_ip="8.8.8.8")
    assert caught.value.reason == "condition_failed:source_cidr"  # type: ignore[attr-defined]
    later = clock.now + timedelta(seconds=301)
    with pytest.raises(Exception, match="invalid token") as caught:
        verifier.verify_access_token(token, now=later, source_ip="10.1.2.3")
    assert caught.value.reason == "condition_failed:attestation_age"  # type: ignore[attr-defined]


def test_metadata_names_endpoints_and_methods(server: AuthorizationServer) -> None:
    meta = server.metadata()
    assert meta["issuer"] == ISSUER
    assert meta["token_endpoint"] == ISSUER + "/oauth/token"
    assert meta["jwks_uri"] == ISSUER + "/oauth/jwks"
    assert "client_credentials" in meta["grant_types_supported"]
    assert "urn:ietf:params:oauth:grant-type:token-exchange" in meta["grant_types_supported"]
    assert meta["token_endpoint_auth_methods_supported"] == ["private_key_jwt"]


def test_jwks_follows_rotation(server: AuthorizationServer, clock: FakeClock) -> None:
    first = server.keys.ensure(clock.now)
    assert [k["kid"] for k in server.jwks(clock.now)["keys"]] == [first.kid]
    second = server.keys.rotate(clock.now, retire_after=timedelta(minutes=20))
    kids = [k["kid"] for k in server.jwks(clock.now)["keys"]]
    assert kids == [first.kid, second.kid]
    assert all("d" not in k for k in server.jwks(clock.now)["keys"])
    assert [k["kid"] for k in server.jwks(T0 + timedelta(minutes=21))["keys"]] == [second.kid]
