"""The ``ztgate serve`` application: AuthZEN decision API, OAuth endpoints, admin API,
health and metrics, over one :class:`ControlPlane`.

Every response carries ``X-Request-ID``: the caller's (if it is a short printable token)
or a fresh one; the same id is the audit record's ``request_id``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ztgate._version import __version__
from ztgate.errors import StoreError
from ztgate.server.admin import admin_router
from ztgate.server.authzen import (
    ErrorBody,
    EvaluationRequest,
    EvaluationResponse,
    EvaluationsRequest,
    EvaluationsResponse,
    discovery,
    evaluate_many,
    evaluate_one,
)
from ztgate.server.metrics import CONTENT_TYPE_LATEST, Metrics
from ztgate.server.oauth import oauth_endpoints
from ztgate.service.control import ControlPlane
from ztgate.service.pipeline import new_request_id

REQUEST_ID_HEADER = "x-request-id"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_BAD_REQUEST: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The body is not a valid request"}
}


class RequestIdMiddleware:
    """Pure ASGI (no per-request task): reads or mints the id, echoes it on the response."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = ""
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                candidate = value.decode("latin-1")
                if _REQUEST_ID.match(candidate):
                    request_id = candidate
                break
        if not request_id:
            request_id = new_request_id()
        scope.setdefault("state", {})["request_id"] = request_id
        raw = request_id.encode("ascii")

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", []), (b"x-request-id", raw)]
            await send(message)

        await self.app(scope, receive, send_with_id)


def _request_id(request: Request) -> str:
    return str(request.state.request_id)


def _source_ip(request: Request) -> str | None:
    return request.client.host if request.client is not None else None


def create_app(
    control: ControlPlane,
    *,
    base_url: str = "http://127.0.0.1:8600",
    metrics: Metrics | None = None,
) -> FastAPI:
    """Build the app. ``base_url`` is what discovery documents advertise."""
    metrics = metrics if metrics is not None else Metrics()
    pipeline = control.pipeline
    pipeline.listeners = (*pipeline.listeners, metrics.observe)
    app = FastAPI(
        title="ztgate",
        version=__version__,
        description="Zero Trust control plane for AI agents: AuthZEN decisions and admin API",
    )
    app.state.control = control
    app.state.metrics = metrics

    @app.exception_handler(RequestValidationError)
    async def invalid_body(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = [
            {"loc": [str(p) for p in e.get("loc", ())], "msg": str(e.get("msg", ""))}
            for e in error.errors()
        ]
        return JSONResponse({"error": "invalid_request", "detail": problems}, status_code=400)

    @app.exception_handler(StoreError)
    async def store_down(_: Request, error: StoreError) -> JSONResponse:
        return JSONResponse({"error": "store_unavailable"}, status_code=503)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": str(error.detail)}, status_code=error.status_code, headers=error.headers
        )

    @app.post(
        "/access/v1/evaluation",
        response_model=EvaluationResponse,
        response_model_exclude_none=True,
        responses=_BAD_REQUEST,
        tags=["authzen"],
    )
    async def evaluation(body: EvaluationRequest, request: Request) -> EvaluationResponse:
        return evaluate_one(
            pipeline,
            body.subject,
            body.action,
            body.resource,
            body.context,
            request_id=_request_id(request),
            source_ip=_source_ip(request),
        )

    @app.post(
        "/access/v1/evaluations",
        response_model=EvaluationsResponse | EvaluationResponse,
        response_model_exclude_none=True,
        responses=_BAD_REQUEST,
        tags=["authzen"],
    )
    async def evaluations(
        body: EvaluationsRequest, request: Request
    ) -> EvaluationsResponse | EvaluationResponse:
        if body.evaluations is None:
            # No `evaluations` array: a single evaluation from the top-level fields.
            if body.subject is None or body.action is None or body.resource is None:
                return EvaluationResponse(
                    decision=False,
                    context={"reason": "invalid_request", "request_id": _request_id(request)},
                )
            return evaluate_one(
                pipeline,
                body.subject,
                body.action,
                body.resource,
                body.context,
                request_id=_request_id(request),
                source_ip=_source_ip(request),
            )
        return evaluate_many(
            pipeline, body, request_id=_request_id(request), source_ip=_source_ip(request)
        )

    @app.get("/.well-known/authzen-configuration", tags=["authzen"])
    async def authzen_configuration() -> dict[str, Any]:
        return discovery(base_url)

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(
        "/readyz",
        tags=["operations"],
        responses={503: {"model": ErrorBody, "description": "Not ready"}},
    )
    def readyz() -> Any:
        try:
            control.state.sync()
            control.store.revisions(("identity", "service", "sessions"))
            if control.audit is not None:
                control.audit.flush(timeout=2.0)
        except Exception as error:
            return JSONResponse(
                {"error": "not_ready", "detail": type(error).__name__}, status_code=503
            )
        return {"status": "ready"}

    @app.get(
        "/metrics",
        tags=["operations"],
        response_class=Response,
        responses={200: {"content": {CONTENT_TYPE_LATEST: {"schema": {"type": "string"}}}}},
    )
    async def metrics_endpoint() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    app.include_router(admin_router(control))
    if control.oauth is not None:
        for endpoint in oauth_endpoints(control.oauth, clock=control.clock):
            app.add_api_route(
                endpoint.path,
                endpoint.handler,
                methods=[endpoint.method],
                summary=endpoint.summary,
                tags=["oauth"],
                response_class=JSONResponse,
                responses={},
                openapi_extra=endpoint.openapi,
            )
    app.add_middleware(RequestIdMiddleware)
    return app
