"""Shared fixtures for the identity and store tests (imported by their conftest files).

``backend`` runs a test on SQLite and, when ``ZTGATE_TEST_POSTGRES_URL`` is set, on a
real PostgreSQL in a schema unique to the test, dropped afterwards.
"""

from __future__ import annotations

import json
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


@pytest.fixture(scope="session")
def postgres_schema() -> Iterator[str]:
    """One schema per test run, migrated once; each test starts from empty tables."""
    url = postgres_url()
    if url is None:
        pytest.skip("ZTGATE_TEST_POSTGRES_URL is not set")
    schema = f"zt_{uuid.uuid4().hex[:16]}"
    open_store(url, schema=schema).close()
    yield schema
    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def _empty_postgres(url: str, schema: str) -> None:
    from ztgate.store import _schema

    engine = create_engine(
        "postgresql+psycopg://" + url.split("://", 1)[1],
        connect_args={"options": f"-csearch_path={schema}"},
    )
    names = [t.name for t in _schema.metadata.sorted_tables if t.name != "schema_versions"]
    with engine.begin() as conn:
        for name in names:  # DELETE beats TRUNCATE on tiny tables (no exclusive locks)
            conn.execute(text(f"DELETE FROM {name}"))
        conn.execute(text("INSERT INTO revisions (name, value) VALUES ('identity', 0)"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        b = Backend("sqlite", str(tmp_path / "data"), None)
    else:
        url = postgres_url()
        if url is None:
            pytest.skip("ZTGATE_TEST_POSTGRES_URL is not set")
        schema = request.getfixturevalue("postgres_schema")
        _empty_postgres(url, schema)
        b = Backend("postgres", url, schema)
    yield b
    for h in b.handles:
        h.close()


@pytest.fixture
def sqlite_backend(tmp_path: Path) -> Iterator[Backend]:
    """For tests of logic that does not depend on the database engine."""
    b = Backend("sqlite", str(tmp_path / "data"), None)
    yield b
    for h in b.handles:
        h.close()


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

    keys = SigningKeys(registry.store, events=registry.events)
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


_RSA_POOL: list[Any] = []
_RSA_NEXT = [0]


def _rsa_key() -> Any:
    """RSA generation is slow; tests draw from a small pool of distinct keys."""
    from cryptography.hazmat.primitives.asymmetric import rsa

    if len(_RSA_POOL) < 4:
        _RSA_POOL.append(rsa.generate_private_key(public_exponent=65537, key_size=2048))
        return _RSA_POOL[-1]
    _RSA_NEXT[0] = (_RSA_NEXT[0] + 1) % len(_RSA_POOL)
    return _RSA_POOL[_RSA_NEXT[0]]


class LocalIssuer:
    """A real OIDC issuer on a loopback port: discovery, JWKS, and tokens it signs.

    Stands in for a Kubernetes API server, a CI OIDC provider or an enterprise IdP. Keys
    are generated here; ``rotate()`` swaps the signing key as a real issuer would.
    """

    def __init__(self, alg: str = "RS256") -> None:
        import http.server
        import threading

        self.alg = alg
        self.keys: list[tuple[str, Any]] = []
        self.fetches: dict[str, int] = {"discovery": 0, "jwks": 0}
        self.discovery_issuer_override: str | None = None
        self.rotate()
        issuer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                if self.path == "/.well-known/openid-configuration":
                    issuer.fetches["discovery"] += 1
                    body = {
                        "issuer": issuer.discovery_issuer_override or issuer.url,
                        "jwks_uri": issuer.url + "/keys",
                    }
                elif self.path == "/keys":
                    issuer.fetches["jwks"] += 1
                    body = {"keys": [issuer._jwk(kid, key) for kid, key in issuer.keys]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}"
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def _jwk(self, kid: str, key: Any) -> dict[str, Any]:
        return {**public_jwk(key.public_key()), "kid": kid, "use": "sig", "alg": self.alg}

    def rotate(self, *, keep_old: bool = False) -> str:
        from cryptography.hazmat.primitives.asymmetric import ec

        if self.alg == "RS256":
            key: Any = _rsa_key()
        else:
            key = ec.generate_private_key(ec.SECP256R1())
        kid = uuid.uuid4().hex[:8]
        self.keys = [*self.keys, (kid, key)] if keep_old else [(kid, key)]
        return kid

    def mint(
        self,
        sub: str,
        aud: str | list[str],
        now: datetime,
        *,
        drop: tuple[str, ...] = (),
        **claims: Any,
    ) -> str:
        kid, key = self.keys[-1]
        payload: dict[str, Any] = {
            "iss": self.url,
            "sub": sub,
            "aud": aud,
            "iat": int(now.timestamp()),
            "exp": int(now.timestamp()) + 600,
            "jti": uuid.uuid4().hex,
        }
        payload.update(claims)
        for name in drop:
            payload.pop(name, None)
        return jwt.encode(payload, key, algorithm=self.alg, headers={"kid": kid})

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


@pytest.fixture
def local_issuer() -> Iterator[LocalIssuer]:
    issuer = LocalIssuer()
    yield issuer
    issuer.close()
