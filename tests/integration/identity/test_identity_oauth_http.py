"""The OAuth endpoints over HTTP, and interoperability with libraries ztgate does not use:
Authlib's OAuth 2.0 client authenticates with private_key_jwt against a real uvicorn server,
and PyJWT verifies the token it gets through the published JWKS."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import jwt
import pytest
import uvicorn
from authlib.integrations.httpx_client import OAuth2Client
from authlib.oauth2.rfc7523 import PrivateKeyJWT
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from joserfc.jwk import ECKey, OKPKey
from starlette.testclient import TestClient

from tests.integration.identity.identity_support import (
    FakeClock,
    client_assertion,
    make_server,
    register_agent,
)
from ztgate.identity import AuthorizationServer, Registry, TokenSettings
from ztgate.identity._jose import public_jwk
from ztgate.server.oauth import create_oauth_app
from ztgate.store import Store

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@pytest.fixture
def client(server: AuthorizationServer, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_oauth_app(server, clock=clock)) as test_client:
        yield test_client


def test_metadata_and_jwks_over_http(client: TestClient, server: AuthorizationServer) -> None:
    meta = client.get("/.well-known/oauth-authorization-server").json()
    assert meta == server.metadata()
    jwks = client.get("/oauth/jwks").json()
    assert len(jwks["keys"]) == 1
    assert jwks["keys"][0]["kty"] == "OKP"
    assert jwks["keys"][0]["use"] == "sig"


def test_token_endpoint_over_http(
    client: TestClient, registry: Registry, clock: FakeClock, store: Store
) -> None:
    key = register_agent(registry, "bot-1")
    form = {
        "grant_type": "client_credentials",
        "client_assertion_type": ASSERTION_TYPE,
        "client_assertion": client_assertion(key, clock.now),
        "scope": "read",
    }
    response = client.post("/oauth/token", data=form)
    assert response.status_code == 200, response.text
    assert response.headers["cache-control"] == "no-store"
    assert response.json()["scope"] == "read"
    # a replay is a 401 with a generic error, the reason only in the event log
    again = client.post("/oauth/token", data=form)
    assert again.status_code == 401
    assert again.json() == {"error": "invalid_client"}
    assert store.events.list(kind="token_denied")[-1].reason == "assertion_replayed"


def test_token_endpoint_refuses_malformed_requests(client: TestClient) -> None:
    assert client.post("/oauth/token", json={"grant_type": "client_credentials"}).json() == {
        "error": "invalid_request"
    }
    repeated = client.post(
        "/oauth/token",
        content=b"grant_type=client_credentials&grant_type=password",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert repeated.status_code == 400
    assert repeated.json() == {"error": "invalid_request"}
    huge = client.post(
        "/oauth/token",
        content=b"a=" + b"x" * 70_000,
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert huge.json() == {"error": "invalid_request"}
    assert client.get("/oauth/token").status_code == 405


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def live(registry: Registry) -> Iterator[tuple[str, AuthorizationServer]]:
    """A real uvicorn server on a free loopback port, with the real clock."""
    port = _free_port()
    issuer = f"http://127.0.0.1:{port}"
    settings = TokenSettings(issuer=issuer, revocation_staleness=0.0)
    live_registry = Registry(registry.store)
    server = make_server(live_registry, settings, FakeClock())
    server.verifier._monotonic = time.monotonic
    config = uvicorn.Config(
        create_oauth_app(server), host="127.0.0.1", port=port, log_level="error", lifespan="off"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not uv.started and time.monotonic() < deadline:
        time.sleep(0.02)
    assert uv.started, "uvicorn did not start"
    try:
        yield issuer, server
    finally:
        uv.should_exit = True
        thread.join(timeout=10)


@pytest.mark.parametrize("alg", ["RS256", "ES256", "Ed25519"])
def test_authlib_client_gets_a_token_pyjwt_verifies_it(
    live: tuple[str, AuthorizationServer], registry: Registry, alg: str
) -> None:
    issuer, server = live
    agent_id = f"interop-{alg.lower()}"
    registry.create_agent(agent_id, owners=["alice"], sponsors=["bob"], scopes=["tickets.read"])
    if alg == "RS256":
        private_rsa = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        registry.add_client_key(agent_id, public_jwk(private_rsa.public_key()))
        secret: object = private_rsa.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode()
    elif alg == "ES256":
        private_ec = ec.generate_private_key(ec.SECP256R1())
        registry.add_client_key(agent_id, public_jwk(private_ec.public_key()))
        secret = ECKey.import_key(
            private_ec.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
    else:
        private_ed = ed25519.Ed25519PrivateKey.generate()
        registry.add_client_key(agent_id, public_jwk(private_ed.public_key()))
        secret = OKPKey.import_key(
            private_ed.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )

    # discover the endpoints the way a client would
    meta = httpx.get(f"{issuer}/.well-known/oauth-authorization-server").json()
    token_endpoint = meta["token_endpoint"]
    with OAuth2Client(
        client_id=agent_id,
        client_secret=secret,
        token_endpoint_auth_method=PrivateKeyJWT(token_endpoint, alg=alg),
    ) as oauth:
        token = oauth.fetch_token(token_endpoint, grant_type="client_credentials")
    access_token = token["access_token"]
    assert token["token_type"].lower() == "bearer"

    # an independent library verifies it with the published JWKS
    signing_key = jwt.PyJWKClient(meta["jwks_uri"]).get_signing_key_from_jwt(access_token)
    claims = jwt.decode(
        access_token,
        signing_key.key,
        algorithms=["EdDSA", "ES256"],
        audience="urn:ztgate:api",
        issuer=issuer,
        options={"require": ["exp", "iat", "iss", "aud", "sub", "jti"]},
    )
    assert jwt.get_unverified_header(access_token)["typ"] == "at+jwt"
    assert claims["client_id"] == claims["sub"] == agent_id
    assert claims["scope"] == "tickets.read"
    assert claims["exp"] - claims["iat"] <= 15 * 60

    principal = server.verifier.verify_access_token(access_token, now=datetime.now(UTC))
    assert principal.agent_id == agent_id
