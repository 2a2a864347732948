"""The streamable HTTP transport: one gateway, several upstreams, authenticated clients.

Each configured upstream is served at ``/mcp/<name>``. Every HTTP request must carry a
bearer access token: a ztgate token whose audience is this gateway, or (when enabled) a
token from an external issuer the registry trusts, mapped to a registered agent. As the
MCP authorization specification asks:

- no or an invalid token: ``401`` with ``WWW-Authenticate: Bearer`` naming the
  Protected Resource Metadata document (``resource_metadata=``; ``error="invalid_token"``
  when one was presented). Suspended, expired or unknown agents fail here;
- a valid token without the required scopes: ``403`` with
  ``error="insufficient_scope"`` and the scopes needed;
- Protected Resource Metadata (RFC 9728) at ``/.well-known/oauth-protected-resource``
  (and under each endpoint path) names the authorization server.

An MCP session belongs to the principal that opened it: a request for a session with a
token of another agent is answered as if the session did not exist. The client's token
is never forwarded: each session opens its own connection to the upstream with the
gateway's own credentials (``headers_from_env``).
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import sys
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import anyio
import anyio.abc
import httpx2
from mcp.client.stdio import stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.server.streamable_http import StreamableHTTPServerTransport
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from ztgate.errors import RejectedError, UsageError
from ztgate.gateway.authorizer import Caller
from ztgate.gateway.channels import Channel, SdkChannel
from ztgate.gateway.config import Upstream
from ztgate.gateway.relay import Relay
from ztgate.gateway.runtime import Runtime
from ztgate.gateway.stdio import upstream_parameters
from ztgate.identity import FederationVerifier, SigningKeys, TokenSettings, TokenVerifier
from ztgate.identity.conditions import check_standing
from ztgate.store import CredentialType

log = logging.getLogger("ztgate.gateway")

SESSION_HEADER = "mcp-session-id"
PRM_PATH = "/.well-known/oauth-protected-resource"
MAX_SESSIONS = 1000
SESSION_IDLE_TIMEOUT = 900.0  # seconds without a request in flight before a session ends


@dataclass(frozen=True, slots=True)
class Principal:
    agent: str
    delegation: tuple[str, ...]
    acting_for: str | None
    scopes: frozenset[str]


class Authenticator:
    """Turns a bearer token into a :class:`Principal` or raises :class:`RejectedError`."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        issuer: str,
        audience: str,
        clock: Callable[[], datetime],
        federation: FederationVerifier | None = None,
    ) -> None:
        if runtime.registry is None:
            raise UsageError("the HTTP gateway needs an identity store (`identity.store`)")
        self.registry = runtime.registry
        settings = TokenSettings(issuer=issuer, audience=audience)
        self.verifier = TokenVerifier(
            settings, runtime.registry, SigningKeys(runtime.registry.store)
        )
        self.federation = federation
        self.clock = clock
        self.issuer = issuer

    def authenticate(self, unverified_token: str, source_ip: str | None) -> Principal:
        now = self.clock()
        if self.federation is None or _unverified_issuer(unverified_token) == self.issuer:
            verified = self.verifier.verify_access_token(
                unverified_token, now=now, source_ip=source_ip
            )
            return Principal(
                verified.agent_id, verified.delegation, verified.acting_for, verified.scopes
            )
        external = self.federation.verify(unverified_token, kind="workload", now=now)
        agent = self.registry.store.federation.agent_for(external.trust.issuer, external.subject)
        if agent is None:
            raise RejectedError("federated_subject_unmapped", "no agent for this subject")
        profile = self.registry.profile(agent)
        if profile is None:
            raise RejectedError("agent_unknown", f"agent `{agent}` is not registered")
        if CredentialType.FEDERATED not in profile.credential_types:
            raise RejectedError("credential_type_not_allowed", "federation not allowed")
        failed = check_standing(profile.agent, profile.conditions, now)
        if failed is not None:
            raise RejectedError(failed, f"agent `{agent}` fails `{failed}`")
        scope = external.claims.get("scope", "")
        scopes = frozenset(scope.split()) if isinstance(scope, str) else frozenset()
        return Principal(agent, (), None, scopes)


def _unverified_issuer(unverified_token: str) -> str | None:
    """The ``iss`` a token claims, read without trusting it: it only picks the verifier
    (ztgate's own or the federation one), which then checks everything."""
    parts = unverified_token.split(".")
    if len(parts) != 3 or len(parts[1]) > 16384:
        return None
    try:
        payload = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    except (ValueError, TypeError):
        return None
    issuer = payload.get("iss") if isinstance(payload, dict) else None
    return issuer if isinstance(issuer, str) else None


@dataclass
class _Session:
    transport: StreamableHTTPServerTransport
    owner: Principal
    upstream: str


@asynccontextmanager
async def upstream_channel(upstream: Upstream) -> AsyncIterator[Channel]:
    """Open the gateway's own connection to an upstream (never with client credentials):
    raw pipes for a command on POSIX, the SDK's client transports otherwise."""
    if upstream.transport == "stdio" and sys.platform != "win32":
        from ztgate.gateway.pipes import open_upstream

        async with open_upstream(upstream_parameters(upstream)) as channel:
            yield channel
        return
    async with upstream_streams(upstream) as (read, write):
        yield SdkChannel(read, write, server_side=False)


@asynccontextmanager
async def upstream_streams(upstream: Upstream) -> AsyncIterator[tuple[Any, Any]]:
    """The SDK's streams to an upstream (never opened with client credentials)."""
    if upstream.transport == "stdio":
        async with stdio_client(upstream_parameters(upstream)) as streams:
            yield streams
        return
    headers = {}
    for header, variable in upstream.headers_from_env.items():
        value = os.environ.get(variable)
        if value is None:
            raise UsageError(
                f"environment variable `{variable}` for upstream `{upstream.name}` is unset"
            )
        headers[header] = value
    assert upstream.url is not None
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(30, read=300)) as client,
        streamable_http_client(upstream.url, http_client=client) as streams,
    ):
        yield streams


def _utcnow() -> datetime:
    return datetime.now(UTC)


class HttpGateway:
    """The ASGI application state: authentication, sessions and their relays."""

    def __init__(
        self,
        runtime: Runtime,
        *,
        clock: Callable[[], datetime] = _utcnow,
        federation: FederationVerifier | None = None,
    ) -> None:
        config = runtime.config
        identity = config.identity
        self.runtime = runtime
        self.base_url = (
            config.public_url or f"http://{config.http_host}:{config.http_port}"
        ).rstrip("/")
        self.resource = identity.audience or self.base_url + "/mcp"
        if identity.issuer is None:
            raise UsageError("the HTTP gateway needs `identity.issuer` (the ztgate token issuer)")
        if federation is None and identity.external_issuers:
            federation = FederationVerifier(runtime.registry.store) if runtime.registry else None
        self.auth = Authenticator(
            runtime,
            issuer=identity.issuer,
            audience=self.resource,
            clock=clock,
            federation=federation,
        )
        self.issuer = identity.issuer
        self.required_scopes = identity.required_scopes
        self.upstreams = {u.name: u for u in config.upstreams}
        self.sessions: dict[str, _Session] = {}
        self.task_group: anyio.abc.TaskGroup | None = None

    # -- discovery -------------------------------------------------------------------------

    def metadata_url(self) -> str:
        return self.base_url + PRM_PATH + "/mcp"

    def resource_metadata(self) -> dict[str, Any]:
        """RFC 9728 Protected Resource Metadata for this gateway."""
        return {
            "resource": self.resource,
            "authorization_servers": [self.issuer],
            "bearer_methods_supported": ["header"],
            "scopes_supported": list(self.required_scopes),
            "resource_name": "ztgate MCP gateway",
        }

    def _challenge(self, status: int, error: str | None, description: str) -> Response:
        params = []
        if error is not None:
            params.append(f'error="{error}"')
            params.append(f'error_description="{description}"')
        if self.required_scopes:
            params.append(f'scope="{" ".join(self.required_scopes)}"')
        params.append(f'resource_metadata="{self.metadata_url()}"')
        body = {"error": error or "unauthorized", "error_description": description}
        return JSONResponse(
            body, status_code=status, headers={"WWW-Authenticate": "Bearer " + ", ".join(params)}
        )

    def authenticate(self, request: Request) -> Principal | Response:
        header = request.headers.get("authorization")
        if header is None:
            return self._challenge(401, None, "an access token is required")
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return self._challenge(401, "invalid_request", "use a bearer access token")
        source_ip = request.client.host if request.client is not None else None
        try:
            principal = self.auth.authenticate(token.strip(), source_ip)
        except RejectedError as error:
            log.info("token rejected: %s", error.reason)
            self.runtime.metrics.count("-", "-", "unauthenticated", error.reason)
            return self._challenge(401, "invalid_token", "the access token is not valid")
        except Exception:  # fail closed: an unusable verifier refuses
            log.exception("token verification failed")
            return self._challenge(401, "invalid_token", "the access token is not valid")
        missing = set(self.required_scopes) - principal.scopes
        if missing:
            self.runtime.metrics.count("-", "-", "forbidden", "insufficient_scope")
            return self._challenge(403, "insufficient_scope", "the token lacks a required scope")
        return principal

    # -- MCP endpoint ------------------------------------------------------------------------

    async def handle_mcp(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        name = request.path_params.get("upstream", "")
        upstream = self.upstreams.get(name)
        if upstream is None:
            await PlainTextResponse("not found", status_code=404)(scope, receive, send)
            return
        principal = self.authenticate(request)
        if isinstance(principal, Response):
            await principal(scope, receive, send)
            return
        session_id = request.headers.get(SESSION_HEADER)
        if session_id is not None:
            session = self.sessions.get(session_id)
            if session is None or session.owner != principal or session.upstream != name:
                await JSONResponse(
                    {
                        "jsonrpc": "2.0",
                        "id": None,
                        "error": {"code": -32600, "message": "Session not found"},
                    },
                    status_code=404,
                )(scope, receive, send)
                return
            await session.transport.handle_request(scope, receive, send)
            if session.transport.is_terminated:
                self.sessions.pop(session_id, None)
            return
        if request.method != "POST" or len(self.sessions) >= MAX_SESSIONS:
            await PlainTextResponse("a session starts with a POST", status_code=400)(
                scope, receive, send
            )
            return
        session_id = uuid.uuid4().hex
        transport = StreamableHTTPServerTransport(
            mcp_session_id=session_id, idle_timeout=SESSION_IDLE_TIMEOUT
        )
        self.sessions[session_id] = _Session(transport, principal, name)
        caller = Caller(
            agent=principal.agent,
            session="http-" + session_id,
            delegation=principal.delegation,
            acting_for=principal.acting_for,
            source_ip=request.client.host if request.client is not None else None,
            scopes=principal.scopes,
        )
        assert self.task_group is not None
        await self.task_group.start(self._run_session, session_id, transport, upstream, caller)
        await transport.handle_request(scope, receive, send)

    async def _run_session(
        self,
        session_id: str,
        transport: StreamableHTTPServerTransport,
        upstream: Upstream,
        caller: Caller,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        runtime = self.runtime
        relay = Relay(
            server=upstream.name,
            caller=caller,
            authorizer=runtime.authorizer,
            pins=runtime.pins,
            offload=runtime.config.audit_durability == "strict",
        )
        try:
            async with transport.connect() as (down_read, down_write):
                task_status.started()
                idle = transport.idle_scope or anyio.CancelScope()
                with idle:
                    async with upstream_channel(upstream) as up:
                        down = SdkChannel(down_read, down_write, server_side=True)
                        await relay.serve(down, up)
        except Exception:
            log.exception("session %s ended with an error", session_id)
        finally:
            self.sessions.pop(session_id, None)
            with contextlib.suppress(Exception):
                await transport.terminate()

    # -- the application ---------------------------------------------------------------------

    def app(self) -> Starlette:
        async def metadata(_: Request) -> JSONResponse:
            return JSONResponse(self.resource_metadata())

        async def metrics(_: Request) -> PlainTextResponse:
            return PlainTextResponse(self.runtime.metrics.prometheus())

        gateway = self

        class _Endpoint:
            async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
                await gateway.handle_mcp(scope, receive, send)

        @asynccontextmanager
        async def lifespan(_: Starlette) -> AsyncIterator[None]:
            async with anyio.create_task_group() as tg:
                self.task_group = tg
                try:
                    yield
                finally:
                    for session in list(self.sessions.values()):
                        with contextlib.suppress(Exception):
                            await session.transport.terminate()
                    tg.cancel_scope.cancel()

        return Starlette(
            routes=[
                Route(PRM_PATH, metadata, methods=["GET"]),
                Route(PRM_PATH + "/mcp", metadata, methods=["GET"]),
                Route(PRM_PATH + "/mcp/{upstream}", metadata, methods=["GET"]),
                Route("/metrics", metrics, methods=["GET"]),
                Route("/mcp/{upstream}", _Endpoint(), methods=["GET", "POST", "DELETE"]),
            ],
            lifespan=lifespan,
        )


def create_app(runtime: Runtime, **kwargs: Any) -> Starlette:
    """The Starlette application serving every configured upstream."""
    return HttpGateway(runtime, **kwargs).app()
