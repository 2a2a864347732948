"""Known-answer vectors for the AuthZEN mapping: valid requests with their decision and
public reason, and malformed bodies that must be a 400."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ztgate.server.app import create_app
from ztgate.service.control import ControlPlane

VECTORS = json.loads(
    (Path(__file__).resolve().parents[2] / "vectors/service/authzen.json").read_text()
)


@pytest.fixture
def client(control: ControlPlane) -> TestClient:
    return TestClient(create_app(control))


def test_decision_vectors(client: TestClient) -> None:
    for case in VECTORS["cases"]:
        answer: dict[str, Any] = client.post("/access/v1/evaluation", json=case["request"]).json()
        assert answer["decision"] is case["decision"], case["name"]
        if case["decision"]:
            assert "context" not in answer, case["name"]
        else:
            assert answer["context"]["reason"] == case["reason"], case["name"]
            assert set(answer["context"]) <= {"reason", "request_id", "outcome", "approval_id"}


def test_malformed_bodies_are_400(client: TestClient) -> None:
    for case in VECTORS["invalid_bodies"]:
        response = client.post("/access/v1/evaluation", json=case["body"])
        assert response.status_code == 400, case["name"]
        assert response.json()["error"] == "invalid_request"
