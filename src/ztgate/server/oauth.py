"""HTTP endpoints of the authorization server, as a Starlette app or route list.

``oauth_endpoints(server)`` gives the handlers with their OpenAPI operations so
``ztgate serve`` documents them next to the AuthZEN API; ``oauth_routes(server)`` the
same as plain Starlette routes; ``create_oauth_app(server)`` is a standalone app for
tests and local use.

- ``GET /.well-known/oauth-authorization-server``: RFC 8414 metadata;
- ``GET /oauth/jwks``: the JWKS that verifies ztgate access tokens;
- ``POST /oauth/token``: the token endpoint (form-encoded, each parameter at most once).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
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


@dataclass(frozen=True, slots=True)
class OAuthEndpoint:
    """One endpoint: where it lives, its handler, and its OpenAPI operation fields."""

    path: str
    method: str
    handler: Callable[[Request], Awaitable[Response]]
    summary: str
    openapi: dict[str, Any]


def _json_schema(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["error"],
    "properties": {"error": {"type": "string"}},
}
_TOKEN_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["access_token", "token_type", "expires_in", "scope"],
    "properties": {
        "access_token": {"type": "string"},
        "token_type": {"type": "string", "enum": ["Bearer"]},
        "expires_in": {"type": "integer", "minimum": 0},
        "scope": {"type": "string"},
        "issued_token_type": {"type": "string"},
    },
}
_FORM_FIELDS = (
    "grant_type",
    "client_id",
    "client_assertion_type",
    "client_assertion",
    "assertion",
    "scope",
    "subject_token",
    "subject_token_type",
    "actor_token",
    "actor_token_type",
    "requested_token_type",
)
_TOKEN_REQUEST: dict[str, Any] = {
    "required": True,
    "content": {
        "application/x-www-form-urlencoded": {
            "schema": {
                "type": "object",
                "required": ["grant_type"],
                "properties": {name: {"type": "string"} for name in _FORM_FIELDS},
            }
        }
    },
}


def oauth_endpoints(server: AuthorizationServer, *, clock: Clock = _utcnow) -> list[OAuthEndpoint]:
    """The metadata, JWKS and token endpoints bound to ``server``, with their documentation."""

    async def metadata(_: Request) -> Response:
        return JSONResponse(server.metadata())

    async def jwks(_: Request) -> Response:
        return JSONResponse(server.jwks(clock()), headers={"Cache-Control": "max-age=60"})

    async def token(request: Request) -> Response:
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
        OAuthEndpoint(
            "/.well-known/oauth-authorization-server",
            "GET",
            metadata,
            "RFC 8414 authorization server metadata",
            {"responses": {"200": _json_schema({"type": "object"}, "Server metadata")}},
        ),
        OAuthEndpoint(
            "/oauth/jwks",
            "GET",
            jwks,
            "The JWKS that verifies ztgate access tokens",
            {
                "responses": {
                    "200": _json_schema(
                        {
                            "type": "object",
                            "required": ["keys"],
                            "properties": {"keys": {"type": "array", "items": {"type": "object"}}},
                        },
                        "Published signing keys",
                    )
                }
            },
        ),
        OAuthEndpoint(
            "/oauth/token",
            "POST",
            token,
            "Token endpoint: client_credentials, jwt-bearer and token exchange (RFC 8693)",
            {
                "requestBody": _TOKEN_REQUEST,
                "responses": {
                    "200": _json_schema(_TOKEN_SCHEMA, "An access token"),
                    "400": _json_schema(_ERROR_SCHEMA, "The request was refused"),
                    "401": _json_schema(_ERROR_SCHEMA, "Client authentication failed"),
                },
            },
        ),
    ]


def oauth_routes(server: AuthorizationServer, *, clock: Clock = _utcnow) -> list[BaseRoute]:
    """The endpoints as plain Starlette routes (for apps without an OpenAPI document)."""
    return [
        Route(endpoint.path, endpoint.handler, methods=[endpoint.method])
        for endpoint in oauth_endpoints(server, clock=clock)
    ]


def create_oauth_app(server: AuthorizationServer, *, clock: Clock = _utcnow) -> Starlette:
    """A standalone Starlette application serving only the OAuth endpoints."""
    return Starlette(routes=oauth_routes(server, clock=clock))
