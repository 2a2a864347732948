"""The streamable HTTP gateway: discovery, 401/403 as the MCP authorization spec says,
sessions bound to their principal, a suspended agent, and calls through the official
``mcp`` client with ztgate access tokens."""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx
import httpx2
import pytest
import uvicorn
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.fixtures.mcp_servers.http_upstream import build_app
from tests.integration.gateway.support import CHANGING_SERVER, Setup, text_of, write_setup
from tests.integration.identity.identity_support import LocalIssuer
from ztgate.gateway.config import load_config
from ztgate.gateway.http import create_app
from ztgate.gateway.runtime import Runtime, open_runtime
from ztgate.identity import Registry, SigningKeys, TokenIssuer, TokenSettings
from ztgate.store import open_store

ISSUER = "https://auth.ztgate.test"

WORKLOAD = "system:serviceaccount:prod:clerk"
UPSTREAM_SECRET = "Bearer gateway-own-upstream-credential"

POLICY = """\
version: 1
blueprints:
  clerk:
    permissions:
      base:
        - id: lookup
          tools: [lookup]
          servers: [records, remote]
          args:
            record_id: {type: string, prefix: "r"}
agents:
  clerk-1: {blueprint: clerk}
  clerk-2: {blueprint: clerk}
"""


@dataclass
class Gateway:
    setup: Setup
    runtime: Runtime
    base: str
    registry: Registry
    issuer: TokenIssuer
    upstream_saw: list[str | None]
    external: LocalIssuer

    @property
    def endpoint(self) -> str:
        return self.base + "/mcp/records"

    def token(self, agent: str, *, scopes: tuple[str, ...] = ("mcp",), **kw: Any) -> str:
        return self.issuer.issue(
            subject=kw.pop("subject", agent),
            client_id=agent,
            scopes=scopes,
            now=datetime.now(UTC),
            **kw,
        ).token


def _serve(app: Any, port: int) -> tuple[uvicorn.Server, threading.Thread]:
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "server did not start"
        time.sleep(0.05)
    return server, thread


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gateway]:
    tmp = tmp_path_factory.mktemp("http-gateway")
    upstream_saw: list[str | None] = []
    upstream_port = _free_port()
    upstream, upstream_thread = _serve(build_app(upstream_saw), upstream_port)
    os.environ["ZTGATE_TEST_UPSTREAM_AUTH"] = UPSTREAM_SECRET
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    state = tmp / "state.txt"
    state.write_text("v1")
    setup = write_setup(
        tmp / "gw",
        POLICY,
        upstreams=f"""\
        - name: records
          command: {sys.executable}
          args: [{CHANGING_SERVER}]
          env: {{ZTGATE_FIXTURE_STATE: {state}}}
        - name: remote
          url: http://127.0.0.1:{upstream_port}/mcp
          headers_from_env: {{Authorization: ZTGATE_TEST_UPSTREAM_AUTH}}
        """,
        extra=f"""\
        identity: {{store: ids, issuer: "{ISSUER}", required_scopes: [mcp], external_issuers: true}}
        http: {{host: 127.0.0.1, port: {port}, public_url: "{base}"}}
        """,
    )
    store = open_store(setup.root / "ids")
    registry = Registry(store)
    for agent in ("clerk-1", "clerk-2"):
        registry.create_agent(agent, owners=["alice"], sponsors=["bob"], scopes=("mcp", "other"))
    issuer = TokenIssuer(TokenSettings(issuer=ISSUER, audience=base + "/mcp"), SigningKeys(store))
    external = LocalIssuer()
    registry.trust_issuer(external.url, kind="workload", audiences=[base + "/mcp"])
    registry.map_subject(external.url, WORKLOAD, "clerk-1")
    runtime = open_runtime(load_config(setup.config), need_store=True)
    server, thread = _serve(create_app(runtime), port)
    yield Gateway(setup, runtime, base, registry, issuer, upstream_saw, external)
    server.should_exit = True
    thread.join(timeout=10)
    upstream.should_exit = True
    upstream_thread.join(timeout=10)
    os.environ.pop("ZTGATE_TEST_UPSTREAM_AUTH", None)
    external.close()
    runtime.close()
    store.close()


def _post(gw: Gateway, token: str | None, url: str | None = None) -> httpx.Response:
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "initialize",
        "params": {
            "protocolVersion": "2025-11-25",
            "capabilities": {},
            "clientInfo": {"name": "t", "version": "1"},
        },
    }
    return httpx.post(url or gw.endpoint, json=body, headers=headers, timeout=20)


def test_protected_resource_metadata_and_authentication_failures(gateway: Gateway) -> None:
    prm = httpx.get(gateway.base + "/.well-known/oauth-protected-resource/mcp", timeout=10)
    assert prm.status_code == 200
    metadata = prm.json()
    assert metadata["resource"] == gateway.base + "/mcp"
    assert metadata["authorization_servers"] == [ISSUER]
    assert metadata["scopes_supported"] == ["mcp"]
    per_endpoint = httpx.get(
        gateway.base + "/.well-known/oauth-protected-resource/mcp/records", timeout=10
    )
    assert per_endpoint.json() == metadata

    expected_rm = f'resource_metadata="{gateway.base}/.well-known/oauth-protected-resource/mcp"'
    missing = _post(gateway, None)
    assert missing.status_code == 401
    challenge = missing.headers["www-authenticate"]
    assert challenge.startswith("Bearer ")
    assert expected_rm in challenge
    assert "error=" not in challenge  # no credentials: no error code (RFC 6750 section 3.1)

    garbage = _post(gateway, "not-a-token")
    assert garbage.status_code == 401
    assert 'error="invalid_token"' in garbage.headers["www-authenticate"]
    assert expected_rm in garbage.headers["www-authenticate"]

    other_audience = TokenIssuer(
        TokenSettings(issuer=ISSUER, audience="https://elsewhere.example"),
        SigningKeys(gateway.registry.store),
    ).issue(subject="clerk-1", client_id="clerk-1", scopes=["mcp"], now=datetime.now(UTC))
    assert _post(gateway, other_audience.token).status_code == 401

    no_scope = _post(gateway, gateway.token("clerk-1", scopes=("other",)))
    assert no_scope.status_code == 403
    assert 'error="insufficient_scope"' in no_scope.headers["www-authenticate"]
    assert 'scope="mcp"' in no_scope.headers["www-authenticate"]

    unknown = _post(gateway, gateway.token("clerk-1"), gateway.base + "/mcp/nope")
    assert unknown.status_code == 404


async def _session_calls(gw: Gateway, token: str) -> tuple[set[str], Any, Any, str | None]:
    session_ids: list[str] = []

    async def remember(response: httpx2.Response) -> None:
        sid = response.headers.get("mcp-session-id")
        if sid:
            session_ids.append(sid)

    async with (
        httpx2.AsyncClient(
            headers={"Authorization": f"Bearer {token}"},
            event_hooks={"response": [remember]},
            timeout=httpx2.Timeout(30, read=60),
        ) as client,
        streamable_http_client(gw.endpoint, http_client=client) as (read, write),
        ClientSession(read, write) as session,
    ):
        await session.initialize()
        names = {t.name for t in (await session.list_tools()).tools}
        allowed = await session.call_tool("lookup", {"record_id": "r42"})
        denied = await session.call_tool("lookup", {"record_id": "x42"})
        # Another agent's token cannot use this session.
        hijack = httpx.post(
            gw.endpoint,
            json={"jsonrpc": "2.0", "id": 9, "method": "tools/list"},
            headers={
                "Authorization": f"Bearer {gw.token('clerk-2')}",
                "mcp-session-id": session_ids[0],
                "Accept": "application/json, text/event-stream",
                "mcp-protocol-version": "2025-11-25",
            },
            timeout=10,
        )
        assert hijack.status_code == 404
        return names, allowed, denied, session_ids[0] if session_ids else None


def test_mcp_session_with_delegated_token_is_decided_and_audited(gateway: Gateway) -> None:
    token = gateway.token("clerk-1", subject="user:alice", actors=["clerk-1"])
    names, allowed, denied, session_id = anyio.run(_session_calls, gateway, token)
    assert names == {"lookup"}
    assert text_of(allowed) == "record r42"
    assert denied.is_error
    assert text_of(denied) == "ztgate: call denied (constraint_failed)"
    gateway.runtime.audit.flush()  # type: ignore[union-attr]
    events = [
        d for d in gateway.setup.decisions("lookup") if d["session_id"] == f"http-{session_id}"
    ]
    assert [e["effect"] for e in events] == ["allow", "deny"]
    assert all(e["acting_for"] == "alice" for e in events)
    assert all(e["delegation"] == ["user:alice"] for e in events)
    assert all(e["agent"] == "clerk-1" and e["server"] == "records" for e in events)
    metrics = httpx.get(gateway.base + "/metrics", timeout=10).text
    assert (
        'ztgate_gateway_calls_total{server="records",tool="lookup",effect="allow",code="allowed"}'
        in metrics
    )


def test_suspended_agent_gets_401(gateway: Gateway) -> None:
    token = gateway.token("clerk-2")
    assert _post(gateway, token).status_code == 200
    gateway.registry.suspend("clerk-2", reason="incident", actor="ops")
    time.sleep(0.4)  # beyond the verifier's revocation staleness bound
    refused = _post(gateway, token)
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused.headers["www-authenticate"]
    assert _post(gateway, gateway.token("clerk-1")).status_code == 200


def test_http_upstream_gets_the_gateways_credentials_never_the_clients(gateway: Gateway) -> None:
    client_token = gateway.token("clerk-1")

    async def scenario() -> tuple[set[str], str, bool]:
        async with (
            httpx2.AsyncClient(headers={"Authorization": f"Bearer {client_token}"}) as client,
            streamable_http_client(gateway.base + "/mcp/remote", http_client=client) as (r, w),
            ClientSession(r, w) as session,
        ):
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            ok = await session.call_tool("lookup", {"record_id": "r9"})
            bad = await session.call_tool("lookup", {"record_id": "x9"})
            return names, text_of(ok), bad.is_error

    names, ok, bad_is_error = anyio.run(scenario)
    assert names == {"lookup"}
    assert ok == "remote record r9"
    assert bad_is_error
    assert gateway.upstream_saw  # the upstream was reached over HTTP
    assert set(gateway.upstream_saw) == {UPSTREAM_SECRET}
    assert not any(client_token in (seen or "") for seen in gateway.upstream_saw)


def test_tokens_of_a_trusted_external_issuer_map_to_the_registered_agent(gateway: Gateway) -> None:
    now = datetime.now(UTC)
    audience = gateway.base + "/mcp"
    mapped = gateway.external.mint(WORKLOAD, audience, now, scope="mcp")
    assert _post(gateway, mapped).status_code == 200
    unmapped = gateway.external.mint("system:serviceaccount:prod:other", audience, now, scope="mcp")
    assert _post(gateway, unmapped).status_code == 401
    elsewhere = gateway.external.mint(WORKLOAD, "https://elsewhere.example", now, scope="mcp")
    assert _post(gateway, elsewhere).status_code == 401
    no_scope = gateway.external.mint(WORKLOAD, audience, now)
    assert _post(gateway, no_scope).status_code == 403
