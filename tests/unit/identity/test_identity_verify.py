"""The attack suite: every mutation of a valid token is refused with a precise reason."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from tests.integration.identity.identity_support import (
    T0,
    AgentKey,
    Backend,
    FakeClock,
    register_agent,
    token_for,
)
from ztgate.core.models import Context
from ztgate.errors import RejectedError
from ztgate.identity import AuthorizationServer, Registry, TokenSettings, TokenVerifier
from ztgate.identity._jose import b64url_encode, sign_compact
from ztgate.store import Revocation

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "identity" / "access_token_cases.json").read_text()
)["cases"]


def _b64(obj: Any) -> str:
    return b64url_encode(json.dumps(obj, separators=(",", ":")).encode())


def _split(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    head, body, _ = token.split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)  # noqa: E731
    return (
        json.loads(base64.urlsafe_b64decode(pad(head))),
        json.loads(base64.urlsafe_b64decode(pad(body))),
    )


@dataclass
class World:
    registry: Registry
    server: AuthorizationServer
    verifier: TokenVerifier
    clock: FakeClock
    key: AgentKey
    token: str


@pytest.fixture
def backend(sqlite_backend: Backend) -> Backend:
    """Engine-independent logic: SQLite only (the store tests cover PostgreSQL)."""
    return sqlite_backend


@pytest.fixture
def world(registry: Registry, server: AuthorizationServer, clock: FakeClock) -> World:
    registry.create_blueprint(
        "std", permissions=["read", "write"], conditions={"max_risk": "medium"}
    )
    key = register_agent(registry, "bot-1", blueprint="std", expires_at=T0 + timedelta(minutes=5))
    token = token_for(server, key, clock.now)
    return World(registry, server, server.verifier, clock, key, token)


def _build(world: World, case: dict[str, Any]) -> Any:
    raw = case.get("raw")
    header, claims = _split(world.token)
    if raw == "duplicate_claim":
        head, body, sig = world.token.split(".")
        text = json.dumps(claims)[:-1] + ', "sub": "bot-1"}'
        return f"{head}.{b64url_encode(text.encode())}.{sig}"
    if raw == "two_segments":
        return ".".join(world.token.split(".")[:2])
    if raw == "padded":
        head, body, sig = world.token.split(".")
        return f"{head}.{body}==.{sig}"
    if raw == "array_payload":
        head, _, sig = world.token.split(".")
        return f"{head}.{_b64([claims])}.{sig}"
    if raw == "bytes":
        return world.token.encode()
    now = int(world.clock.now.timestamp())
    for name, value in case.get("header", {}).items():
        if value is None:
            header.pop(name, None)
        elif value == "@client":
            header[name] = world.key.kid
        else:
            header[name] = value
    for name, value in case.get("claims", {}).items():
        if value is None:
            claims.pop(name, None)
        elif value == "@oversize":
            claims[name] = "x" * 9000
        elif case.get("relative"):
            claims[name] = now + value
        else:
            claims[name] = value
    sign = case["sign"]
    head, body = _b64(header), _b64(claims)
    signing_input = f"{head}.{body}".encode()
    if sign == "keep":
        return f"{head}.{body}.{world.token.split('.')[2]}"
    if sign == "none":
        return f"{head}.{body}."
    if sign == "hs256-public":
        public = world.server.keys.snapshot().signer_key.public_key()  # type: ignore[union-attr]
        secret = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        mac = hmac.new(secret, signing_input, hashlib.sha256).digest()
        return f"{head}.{body}.{b64url_encode(mac)}"
    if sign == "attacker":
        sig = ed25519.Ed25519PrivateKey.generate().sign(signing_input)
        return f"{head}.{body}.{b64url_encode(sig)}"
    if sign == "client":
        return f"{head}.{body}.{b64url_encode(world.key.private.sign(signing_input))}"
    assert sign == "server"
    signer = world.server.keys.snapshot().signer_key
    assert signer is not None
    return sign_compact(header, claims, "EdDSA", signer)


def _act(world: World, action: str | None) -> None:
    if action is None:
        return
    if action == "revoke":
        _, claims = _split(world.token)
        world.registry.store.revocations.revoke(
            Revocation(claims["jti"], world.clock.now, world.clock.now + timedelta(hours=1))
        )
    elif action == "suspend":
        world.registry.suspend("bot-1")
    elif action == "decommission":
        world.registry.decommission("bot-1")
    elif action == "agent_expires":
        world.clock.advance(6 * 60)
    elif action == "raise_risk":
        world.registry.set_risk("bot-1", "high")
    elif action == "rotate_no_grace":
        world.server.keys.rotate(world.clock.now, retire_after=timedelta(0))
    elif action == "rotate_with_grace":
        world.server.keys.rotate(world.clock.now, retire_after=timedelta(minutes=20))
    else:  # pragma: no cover - a typo in the vectors must fail loudly
        raise AssertionError(f"unknown action {action}")


@pytest.mark.parametrize("case", VECTORS, ids=[c["name"] for c in VECTORS])
def test_access_token_vectors(world: World, case: dict[str, Any]) -> None:
    token = _build(world, case)
    # warm the cache with the genuine token first: a cached verdict must not leak through
    world.verifier.verify_access_token(world.token, now=world.clock.now)
    _act(world, case.get("action"))
    if case["reason"] is None:
        principal = world.verifier.verify_access_token(token, now=world.clock.now)
        assert principal.agent_id == "bot-1"
        return
    with pytest.raises(RejectedError) as caught:
        world.verifier.verify_access_token(token, now=world.clock.now)
    assert caught.value.reason == case["reason"], caught.value.diagnostics()
    assert str(caught.value) == "invalid token"  # the caller learns nothing more


def test_principal_fields_and_context(world: World) -> None:
    principal = world.verifier.verify_access_token(world.token, now=world.clock.now)
    assert principal.client_id == "bot-1"
    assert principal.scopes == {"read", "write"}
    assert principal.delegation == ()
    assert principal.acting_for is None
    assert principal.expires_at == T0 + timedelta(minutes=10)
    context = Context(**principal.context_fields())
    assert context.delegation == ()


def test_cached_verdict_respects_expiry(world: World) -> None:
    world.verifier.verify_access_token(world.token, now=world.clock.now)
    world.verifier.verify_access_token(world.token, now=world.clock.now)  # cached
    later = world.clock.now + timedelta(minutes=11)
    with pytest.raises(RejectedError) as caught:
        world.verifier.verify_access_token(world.token, now=later)
    assert caught.value.reason in {"expired", "agent_expired"}


def test_cache_is_bounded(world: World, settings: TokenSettings) -> None:
    verifier = TokenVerifier(settings, world.registry, world.server.keys, max_cache_entries=2)
    tokens = [token_for(world.server, world.key, world.clock.now) for _ in range(3)]
    for token in tokens:
        verifier.verify_access_token(token, now=world.clock.now)
    assert len(verifier._cache) <= 2


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(position=st.integers(min_value=0), replacement=st.characters(codec="ascii"))
def test_any_single_character_change_is_rejected(
    world: World, position: int, replacement: str
) -> None:
    token = world.token
    index = position % len(token)
    if token[index] == replacement:
        return
    mutated = token[:index] + replacement + token[index + 1 :]
    try:
        principal = world.verifier.verify_access_token(mutated, now=world.clock.now)
    except RejectedError:
        return
    # base64url has slack bits in the last character of a segment: a change there can
    # decode to identical bytes, which is the same token, never a different one
    assert _split(mutated) == _split(token)
    assert principal.jti == _split(token)[1]["jti"]


def test_principal_is_read_only(world: World) -> None:
    principal = world.verifier.verify_access_token(world.token, now=world.clock.now)
    with pytest.raises(TypeError):
        principal.claims["scope"] = "admin"  # type: ignore[index]
    again = world.verifier.verify_access_token(world.token, now=world.clock.now)
    assert again.claims["scope"] == "read write"


def test_registry_record_that_no_longer_resolves_is_refused(world: World) -> None:
    from sqlalchemy import text

    with world.registry.store.transaction() as conn:
        conn.execute(text("DELETE FROM blueprints WHERE id = 'std'"))
        world.registry.store.bump_revision(conn)
    with pytest.raises(RejectedError) as caught:
        world.verifier.verify_access_token(world.token, now=world.clock.now)
    assert caught.value.reason == "registry_inconsistent"


def test_naive_clock_is_refused(world: World) -> None:
    with pytest.raises(RejectedError) as caught:
        world.verifier.verify_access_token(world.token, now=world.clock.now.replace(tzinfo=None))
    assert caught.value.reason == "clock_invalid"
