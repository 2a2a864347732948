"""HTTP endpoints of the authorization server, as a Starlette app or route list.

``oauth_routes(server)`` gives the routes so ``ztgate serve`` can mount them next to the
AuthZEN API; ``create_oauth_app(server)`` is a standalone app for tests and local use.

- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata;
- ``GET /oauth/jwks``: the JWKS that verifies ztgate access tokens;
- ``POST /oauth/token``: the token endpoint (form-encoded, each parameter at most once).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Route

from ztgate.identity.authorization import AuthorizationServer, OAuthError

MAX_FORM_BYTES = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def _error(error: str, status: int = 400) -> JSONResponse:
    headers = dict(_NO_STORE)
    if status == 401:
        headers["WWW-Authenticate"] = 'Bearer error="invalid_client"'
    return JSONResponse({"error": error}, status_code=status, headers=headers)


async def _read_form(request: Request) -> dict[str, str] | None:
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type != "application/x-www-form-urlencoded":
        return None
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            return None
    try:
        pairs = parse_qsl(body.decode("utf-8"), keep_blank_values=False, strict_parsing=False)
    except (UnicodeDecodeError, ValueError):
        return None
    form: dict[str, str] = {}
    for key, value in pairs:
        if key in form:  # RFC 6749 section 3.2: parameters must not repeat
            return None
        form[key] = value
    return form


def oauth_routes(server: AuthorizationServer, *, clock: Clock = _utcnow) -> list[BaseRoute]:
    """The metadata, JWKS and token routes bound to ``server``."""

    async def metadata(_: Request) -> JSONResponse:
        return JSONResponse(server.metadata())

    async def jwks(_: Request) -> JSONResponse:
        return JSONResponse(server.jwks(clock()), headers={"Cache-Control": "max-age=60"})

    async def token(request: Request) -> JSONResponse:
        form = await _read_form(request)
        if form is None:
            return _error("invalid_request")
        source_ip = request.client.host if request.client is not None else None
        try:
            body = server.token(form, now=clock(), source_ip=source_ip)
        except OAuthError as refused:
            return _error(refused.error, refused.status)
        return JSONResponse(body, headers=_NO_STORE)

    return [
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/oauth/jwks", jwks, methods=["GET"]),
        Route("/oauth/token", token, methods=["POST"]),
    ]


def create_oauth_app(server: AuthorizationServer, *, clock: Clock = _utcnow) -> Starlette:
    """A standalone Starlette application serving only the OAuth endpoints."""
    return Starlette(routes=oauth_routes(server, clock=clock))
