"""The AuthZEN 1.0 decision API over the real app, in process, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.integration.service.support import PAY, Clock
from ztgate.server.app import create_app
from ztgate.service.control import ControlPlane
from ztgate.store import AdminRole, KillScope


def body(agent: str, tool: str, args: dict[str, Any] | None = None, **context: Any) -> dict:
    resource: dict[str, Any] = {"type": "tool", "id": tool}
    if args is not None:
        resource["properties"] = {"arguments": args}
    out: dict[str, Any] = {
        "subject": {"type": "agent", "id": agent},
        "action": {"name": "call"},
        "resource": resource,
    }
    if context:
        out["context"] = context
    return out


@pytest.fixture
def client(control: ControlPlane) -> TestClient:
    return TestClient(create_app(control, base_url="https://pdp.test"))


def test_allow_is_true_and_deny_is_200_false_with_only_a_code(client: TestClient) -> None:
    allowed = client.post("/access/v1/evaluation", json=body("fin-1", "payment.send", PAY))
    assert allowed.status_code == 200
    assert allowed.json() == {"decision": True}

    denied = client.post(
        "/access/v1/evaluation", json=body("fin-1", "payment.send", {**PAY, "amount": 9000})
    )
    assert denied.status_code == 200
    payload = denied.json()
    assert payload["decision"] is False
    assert payload["context"]["reason"] == "constraint_failed"
    # Vague to callers: no rule id, no message, no policy detail.
    assert set(payload["context"]) == {"reason", "request_id"}
    # The caller's own arguments are not echoed (the request id is random, so look at
    # everything but it).
    echoed = {k: v for k, v in payload["context"].items() if k != "request_id"}
    assert "9000" not in str(echoed)
    assert "pay-approved-vendors" not in denied.text


def test_request_id_is_echoed_and_reaches_the_audit_log(
    client: TestClient, control: ControlPlane
) -> None:
    response = client.post(
        "/access/v1/evaluation",
        json=body("fin-1", "ledger.write"),
        headers={"X-Request-ID": "req-42"},
    )
    assert response.headers["x-request-id"] == "req-42"
    assert response.json()["context"]["request_id"] == "req-42"
    assert control.audit is not None
    records = control.audit.backend.query(_filter(agent="fin-1"), limit=5, newest_first=True)
    assert any('"request_id":"req-42"' in r.record for r in records)
    assert any("no-ledger-writes" in r.record for r in records)  # detail for operators
    minted = client.post("/access/v1/evaluation", json=body("fin-1", "ledger.read"))
    other = client.post("/access/v1/evaluation", json=body("fin-1", "ledger.read"))
    assert len(minted.headers["x-request-id"]) == 24
    assert minted.headers["x-request-id"] != other.headers["x-request-id"]
    hostile = client.post(
        "/access/v1/evaluation",
        json=body("fin-1", "ledger.read"),
        headers={"X-Request-ID": "bad id\twith spaces"},
    )
    assert hostile.headers["x-request-id"] != "bad id\twith spaces"


def _filter(**kw: Any) -> Any:
    from ztgate.audit.backends import QueryFilter

    return QueryFilter(**kw)


def test_unknown_agent_wrong_shapes_and_bad_bodies_deny_or_400(client: TestClient) -> None:
    ghost = client.post("/access/v1/evaluation", json=body("ghost", "ledger.read")).json()
    assert ghost["decision"] is False
    assert ghost["context"]["reason"] == "unknown_agent"
    wrong = body("fin-1", "ledger.read")
    wrong["subject"]["type"] = "user"
    assert client.post("/access/v1/evaluation", json=wrong).json()["decision"] is False
    bad_args = body("fin-1", "ledger.read")
    bad_args["resource"]["properties"] = {"arguments": [1, 2]}
    assert client.post("/access/v1/evaluation", json=bad_args).json()["context"]["reason"] == (
        "invalid_request"
    )
    assert client.post("/access/v1/evaluation", json={"subject": {}}).status_code == 400
    assert client.post("/access/v1/evaluation", content=b"{not json").status_code == 400


def test_batch_semantics(client: TestClient) -> None:
    items = [
        {"resource": {"type": "tool", "id": "ledger.read"}},
        {"resource": {"type": "tool", "id": "ledger.write"}},
        {"resource": {"type": "tool", "id": "calendar.read"}},
    ]
    base = {"subject": {"type": "agent", "id": "fin-1"}, "action": {"name": "call"}}

    def run(semantic: str | None) -> list[bool]:
        payload: dict[str, Any] = {**base, "evaluations": items}
        if semantic:
            payload["options"] = {"evaluations_semantic": semantic}
        response = client.post("/access/v1/evaluations", json=payload)
        assert response.status_code == 200
        return [e["decision"] for e in response.json()["evaluations"]]

    assert run(None) == [True, False, True]
    assert run("execute_all") == [True, False, True]
    assert run("deny_on_first_deny") == [True, False]
    assert run("permit_on_first_permit") == [True]
    # Items override the defaults they name.
    override = {
        **base,
        "evaluations": [
            {
                "subject": {"type": "agent", "id": "intern-bot"},
                "resource": {"type": "tool", "id": "ledger.read"},
            }
        ],
    }
    result = client.post("/access/v1/evaluations", json=override).json()["evaluations"][0]
    assert result["decision"] is False
    # Without an `evaluations` array the batch endpoint answers one evaluation.
    single = client.post(
        "/access/v1/evaluations", json={**base, "resource": {"type": "tool", "id": "ledger.read"}}
    )
    assert single.json() == {"decision": True}


def test_discovery_and_oauth_metadata(client: TestClient) -> None:
    meta = client.get("/.well-known/authzen-configuration").json()
    assert meta["policy_decision_point"] == "https://pdp.test"
    assert meta["access_evaluation_endpoint"] == "https://pdp.test/access/v1/evaluation"
    assert meta["access_evaluations_endpoint"] == "https://pdp.test/access/v1/evaluations"
    oauth = client.get("/.well-known/oauth-authorization-server")
    assert oauth.status_code == 200
    assert oauth.json()["jwks_uri"].endswith("/oauth/jwks")
    assert client.get("/oauth/jwks").status_code == 200


def test_token_in_subject_is_verified_and_must_match(
    client: TestClient, control: ControlPlane, clock: Clock
) -> None:
    assert control.oauth is not None
    token = control.oauth.issuer.issue(
        subject="fin-1", client_id="fin-1", scopes=[], now=clock()
    ).token
    ok = body("fin-1", "ledger.read")
    ok["subject"]["properties"] = {"token": token}
    assert client.post("/access/v1/evaluation", json=ok).json() == {"decision": True}
    mismatch = body("fin-2", "ledger.read")
    mismatch["subject"]["properties"] = {"token": token}
    assert client.post("/access/v1/evaluation", json=mismatch).json()["decision"] is False
    forged = body("fin-1", "ledger.read")
    forged["subject"]["properties"] = {"token": token[:-4] + "AAAA"}
    assert client.post("/access/v1/evaluation", json=forged).json()["decision"] is False
    control.kill(KillScope.AGENT, "fin-1", actor="root", reason="test")
    assert client.post("/access/v1/evaluation", json=ok).json()["decision"] is False


def test_approval_required_names_the_approval(client: TestClient, control: ControlPlane) -> None:
    control.state.add_labels("s1", frozenset({"untrusted_content_seen"}), control.clock())
    request = body("fin-1", "payment.send", PAY, session_id="s1", acting_for="alice")
    first = client.post("/access/v1/evaluation", json=request).json()
    assert first["decision"] is False
    assert first["context"]["outcome"] == "approval_required"
    approval_id = first["context"]["approval_id"]
    key = control.create_admin_key("carol", AdminRole.APPROVER)
    decided = client.post(
        f"/admin/v1/approvals/{approval_id}/approve",
        json={"note": "checked the invoice"},
        headers={"Authorization": f"Bearer {key}"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "approved"
    assert client.post("/access/v1/evaluation", json=request).json() == {"decision": True}
    again = client.post("/access/v1/evaluation", json=request).json()
    assert again["decision"] is False
    assert again["context"]["approval_id"] != approval_id


def test_health_ready_and_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}
    client.post("/access/v1/evaluation", json=body("fin-1", "ledger.read"))
    client.post("/access/v1/evaluation", json=body("fin-1", "ledger.write"))
    text = client.get("/metrics").text
    assert 'ztgate_decisions_total{effect="allow",reason="allowed"} 1.0' in text
    assert 'ztgate_decisions_total{effect="deny",reason="forbidden"} 1.0' in text
    assert "ztgate_decision_latency_seconds_bucket" in text
