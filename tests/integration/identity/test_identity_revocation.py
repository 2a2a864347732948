"""Revocation and suspension reach every process sharing the store, within a stated bound.

Two store handles on one database stand for two processes. The verifier on handle B
caches verdicts; a change made through handle A is enforced by B at its next
verification once ``revocation_staleness`` has elapsed (0: immediately), never later.
"""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import pytest

from tests.integration.identity.identity_support import (
    Backend,
    FakeClock,
    make_server,
    register_agent,
    token_for,
)
from ztgate.errors import RejectedError
from ztgate.identity import Registry, SigningKeys, TokenSettings, TokenVerifier
from ztgate.store import Revocation, open_store


def _verifier(backend: Backend, clock: FakeClock, staleness: float) -> TokenVerifier:
    handle = backend.open()
    settings = TokenSettings(issuer="https://ztgate.test", revocation_staleness=staleness)
    registry = Registry(handle, clock=clock)
    return TokenVerifier(settings, registry, SigningKeys(handle), monotonic=clock.monotonic)


def _reason(verifier: TokenVerifier, token: str, clock: FakeClock) -> str | None:
    try:
        verifier.verify_access_token(token, now=clock.now)
    except RejectedError as error:
        return error.reason
    return None


@pytest.fixture
def issued(
    backend: Backend, registry: Registry, settings: TokenSettings, clock: FakeClock
) -> tuple[Registry, str]:
    server = make_server(registry, settings, clock)
    key = register_agent(registry, "bot-1")
    return registry, token_for(server, key, clock.now)


def test_suspension_in_one_process_is_seen_by_another_at_once(
    backend: Backend, issued: tuple[Registry, str], clock: FakeClock
) -> None:
    registry_a, token = issued
    verifier_b = _verifier(backend, clock, staleness=0.0)
    assert _reason(verifier_b, token, clock) is None
    assert _reason(verifier_b, token, clock) is None  # now cached
    registry_a.suspend("bot-1", reason="kill switch")
    assert _reason(verifier_b, token, clock) == "agent_suspended"
    registry_a.resume("bot-1")
    assert _reason(verifier_b, token, clock) is None


def test_jti_revocation_in_one_process_is_seen_by_another(
    backend: Backend, issued: tuple[Registry, str], clock: FakeClock
) -> None:
    import jwt

    registry_a, token = issued
    verifier_b = _verifier(backend, clock, staleness=0.0)
    assert _reason(verifier_b, token, clock) is None
    jti = jwt.decode(token, options={"verify_signature": False})["jti"]
    registry_a.store.revocations.revoke(
        Revocation(jti, clock.now, clock.now + timedelta(hours=1), "leaked")
    )
    assert _reason(verifier_b, token, clock) == "jti_revoked"


def test_staleness_bound_is_exact(
    backend: Backend, issued: tuple[Registry, str], clock: FakeClock
) -> None:
    registry_a, token = issued
    verifier_b = _verifier(backend, clock, staleness=2.0)
    assert _reason(verifier_b, token, clock) is None
    registry_a.suspend("bot-1")
    # within the bound, the other process may still serve its cached verdict ...
    clock.mono += 1.9
    assert _reason(verifier_b, token, clock) is None
    # ... and once the bound has elapsed, it must not
    clock.mono += 0.2
    assert _reason(verifier_b, token, clock) == "agent_suspended"


def test_same_handle_changes_apply_immediately_whatever_the_bound(
    backend: Backend, clock: FakeClock
) -> None:
    handle = backend.open()
    registry = Registry(handle, clock=clock)
    settings = TokenSettings(issuer="https://ztgate.test", revocation_staleness=3600.0)
    server = make_server(registry, settings, clock)
    key = register_agent(registry, "bot-1")
    token = token_for(server, key, clock.now)
    assert server.verifier.verify_access_token(token, now=clock.now)
    registry.suspend("bot-1")
    with pytest.raises(RejectedError) as caught:
        server.verifier.verify_access_token(token, now=clock.now)
    assert caught.value.reason == "agent_suspended"


def test_key_rotation_elsewhere_is_picked_up(
    backend: Backend, issued: tuple[Registry, str], clock: FakeClock
) -> None:
    registry_a, _ = issued
    verifier_b = _verifier(backend, clock, staleness=0.0)
    settings = TokenSettings(issuer="https://ztgate.test")
    server_a = make_server(registry_a, settings, clock)
    server_a.keys.rotate(clock.now, retire_after=timedelta(minutes=20))
    token = token_for(server_a, register_agent(registry_a, "bot-2"), clock.now)
    assert _reason(verifier_b, token, clock) is None


def test_unreachable_store_fails_closed(tmp_path: Path, clock: FakeClock) -> None:
    data = tmp_path / "data"
    handle = open_store(data)
    registry = Registry(handle, clock=clock)
    settings = TokenSettings(issuer="https://ztgate.test", revocation_staleness=0.0)
    server = make_server(registry, settings, clock)
    token = token_for(server, register_agent(registry, "bot-1"), clock.now)
    assert server.verifier.verify_access_token(token, now=clock.now)
    handle.engine.dispose()
    for name in os.listdir(data):
        (data / name).unlink()
    with pytest.raises(RejectedError) as caught:
        server.verifier.verify_access_token(token, now=clock.now)
    assert caught.value.reason == "store_unavailable"
    handle.close()
