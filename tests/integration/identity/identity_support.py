"""Shared fixtures for the identity and store tests (imported by their conftest files).

``backend`` runs a test on SQLite and, when ``ZTGATE_TEST_POSTGRES_URL`` is set, on a
real PostgreSQL in a schema unique to the test, dropped afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from sqlalchemy import create_engine, text

from ztgate.identity import AuthorizationServer, Registry, SigningKeys, TokenSettings
from ztgate.identity._jose import public_jwk
from ztgate.store import Store, open_store

ISSUER = "https://ztgate.test"
T0 = datetime(2026, 3, 2, 10, 0, 0, tzinfo=UTC)  # a Monday


@dataclass
class FakeClock:
    """A wall clock and a monotonic clock that only move when told to."""

    now: datetime = T0
    mono: float = 1000.0

    def __call__(self) -> datetime:
        return self.now

    def monotonic(self) -> float:
        return self.mono

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)
        self.mono += seconds


def postgres_url() -> str | None:
    return os.environ.get("ZTGATE_TEST_POSTGRES_URL") or None


@dataclass
class Backend:
    """Opens handles on one database: ``open()`` twice gives two independent handles."""

    kind: str
    target: str
    schema: str | None
    handles: list[Store] = field(default_factory=list)

    def open(self) -> Store:
        store = open_store(self.target, schema=self.schema)
        self.handles.append(store)
        return store


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend("sqlite", str(tmp_path / "data"), None)
        yield b
        for h in b.handles:
            h.close()
        return
    url = postgres_url()
    if url is None:
        pytest.skip("ZTGATE_TEST_POSTGRES_URL is not set")
    schema = f"zt_{uuid.uuid4().hex[:16]}"
    b = Backend("postgres", url, schema)
    yield b
    for h in b.handles:
        h.close()
    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture
def store(backend: Backend) -> Store:
    return backend.open()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def registry(store: Store, clock: FakeClock) -> Registry:
    return Registry(store, clock=clock)


@pytest.fixture
def settings() -> TokenSettings:
    return TokenSettings(issuer=ISSUER, revocation_staleness=0.0)


def make_server(
    registry: Registry, settings: TokenSettings, clock: FakeClock, **kw: Any
) -> AuthorizationServer:
    from ztgate.identity import TokenVerifier

    keys = SigningKeys(registry.store)
    verifier = TokenVerifier(settings, registry, keys, monotonic=clock.monotonic)
    return AuthorizationServer(settings, registry, keys=keys, verifier=verifier, **kw)


@pytest.fixture
def server(registry: Registry, settings: TokenSettings, clock: FakeClock) -> AuthorizationServer:
    return make_server(registry, settings, clock)


@dataclass
class AgentKey:
    agent_id: str
    private: ed25519.Ed25519PrivateKey
    kid: str


def register_agent(
    registry: Registry, agent_id: str, *, scopes: tuple[str, ...] = ("read", "write"), **kw: Any
) -> AgentKey:
    registry.create_agent(agent_id, owners=["alice"], sponsors=["bob"], scopes=scopes, **kw)
    private = ed25519.Ed25519PrivateKey.generate()
    key = registry.add_client_key(agent_id, public_jwk(private.public_key()))
    return AgentKey(agent_id, private, key.kid)


def client_assertion(
    key: AgentKey, now: datetime, *, aud: str = ISSUER + "/oauth/token", **overrides: Any
) -> str:
    """A private_key_jwt assertion signed with PyJWT (a library ztgate does not use)."""
    claims: dict[str, Any] = {
        "iss": key.agent_id,
        "sub": key.agent_id,
        "aud": aud,
        "iat": int(now.timestamp()),
        "exp": int(now.timestamp()) + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(overrides)
    return jwt.encode(claims, key.private, algorithm="EdDSA", headers={"kid": key.kid})


def cc_form(key: AgentKey, now: datetime, **extra: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": client_assertion(key, now),
        **extra,
    }


def token_for(
    server: AuthorizationServer,
    key: AgentKey,
    now: datetime,
    source_ip: str | None = "127.0.0.1",
    **extra: str,
) -> str:
    body = server.token(cc_form(key, now, **extra), now=now, source_ip=source_ip)
    return str(body["access_token"])


Factory = Callable[..., Any]
