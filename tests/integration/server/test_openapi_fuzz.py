"""Schemathesis over the OpenAPI document, against the real app in process (no network):
no 5xx anywhere, every response matches its documented status, type and schema."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.integration.service.support import Clock, Target, seed
from ztgate.server.app import create_app
from ztgate.store import AdminRole

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


def test_api_conforms_to_its_openapi_document(tmp_path: Path) -> None:
    plane = Target("sqlite", str(tmp_path / "data"), None, tmp_path).open_control(Clock())
    try:
        seed(plane)
        headers = {"Authorization": f"Bearer {plane.create_admin_key('fuzzer', AdminRole.ADMIN)}"}
        api = schemathesis.openapi.from_asgi("/openapi.json", create_app(plane))
        operations = [result.ok() for result in api.get_all_operations()]
        assert len(operations) >= 30
        paths = {operation.path for operation in operations}
        assert {"/oauth/token", "/oauth/jwks", "/.well-known/oauth-authorization-server"} <= paths
        for operation in operations:

            @given(case=operation.as_strategy())
            @settings(
                max_examples=5,
                deadline=None,
                suppress_health_check=list(HealthCheck),
                derandomize=True,
                database=None,
            )
            def run(case: Any) -> None:
                case.call_and_validate(headers=headers, checks=CHECKS)

            run()
    finally:
        plane.close()
