"""The admin API: authentication, roles, and each operator action over HTTP."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from tests.integration.service.support import FINANCE, PAY
from ztgate.server.app import create_app
from ztgate.service.control import ControlPlane
from ztgate.store import AdminRole


@pytest.fixture
def client(control: ControlPlane) -> TestClient:
    return TestClient(create_app(control))


def auth(control: ControlPlane, name: str, role: AdminRole) -> dict[str, str]:
    return {"Authorization": f"Bearer {control.create_admin_key(name, role)}"}


def decide(client: TestClient, agent: str, tool: str, args: dict | None = None) -> bool:
    body = {
        "subject": {"type": "agent", "id": agent},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": tool, "properties": {"arguments": args or {}}},
    }
    return bool(client.post("/access/v1/evaluation", json=body).json()["decision"])


def test_authentication_and_roles(client: TestClient, control: ControlPlane) -> None:
    assert client.get("/admin/v1/agents").status_code == 401
    bogus = {"Authorization": "Bearer ztadm_not-a-key"}
    assert client.get("/admin/v1/agents", headers=bogus).status_code == 401
    viewer = auth(control, "vera", AdminRole.VIEWER)
    auditor = auth(control, "aude", AdminRole.AUDITOR)
    approver = auth(control, "appro", AdminRole.APPROVER)
    assert client.get("/admin/v1/agents", headers=viewer).status_code == 200
    kill = {"scope": "all", "reason": "x"}
    for headers in (viewer, auditor, approver):
        assert client.post("/admin/v1/kill-switches", json=kill, headers=headers).status_code == 403
    assert client.get("/admin/v1/audit", headers=viewer).status_code == 403
    assert client.get("/admin/v1/audit", headers=auditor).status_code == 200
    control.store.admin_keys.revoke("vera", control.clock())
    assert client.get("/admin/v1/agents", headers=viewer).status_code == 401


def test_kill_switch_suspend_and_agents_over_http(
    client: TestClient, control: ControlPlane
) -> None:
    admin = auth(control, "root", AdminRole.ADMIN)
    assert decide(client, "fin-1", "ledger.read")
    engaged = client.post(
        "/admin/v1/kill-switches",
        json={"scope": "blueprint", "target": "finance-bot", "reason": "incident"},
        headers=admin,
    )
    assert engaged.status_code == 201
    assert not decide(client, "fin-1", "ledger.read")
    assert not decide(client, "fin-2", "ledger.read")
    listed = client.get("/admin/v1/kill-switches", headers=admin).json()
    assert listed[0]["actor"] == "root"
    released = client.delete("/admin/v1/kill-switches/blueprint/finance-bot", headers=admin)
    assert released.json() == {"released": True}
    assert decide(client, "fin-1", "ledger.read")
    assert (
        client.post("/admin/v1/agents/fin-1/suspend", json={}, headers=admin).json()["status"]
        == "suspended"
    )
    assert not decide(client, "fin-1", "ledger.read")
    assert client.post("/admin/v1/agents/fin-1/resume", headers=admin).status_code == 200
    assert decide(client, "fin-1", "ledger.read")
    assert client.post("/admin/v1/agents/ghost/suspend", json={}, headers=admin).status_code == 404
    created = client.post(
        "/admin/v1/agents",
        json={"id": "fin-9", "owners": ["o"], "sponsors": ["s"], "blueprint": "finance-bot"},
        headers=admin,
    )
    assert created.status_code == 201
    duplicate = client.post(
        "/admin/v1/agents", json={"id": "fin-9", "owners": ["o"], "sponsors": ["s"]}, headers=admin
    )
    assert duplicate.status_code == 409


def test_policies_over_http(client: TestClient, control: ControlPlane) -> None:
    admin = auth(control, "root", AdminRole.ADMIN)
    bad = client.post(
        "/admin/v1/policies/validate", json={"text": "version: 1\nx: 1\n"}, headers=admin
    )
    assert bad.json()["valid"] is False
    assert bad.json()["problems"]
    assert (
        client.post(
            "/admin/v1/policies", json={"text": "version: 1\nx: 1\n"}, headers=admin
        ).status_code
        == 400
    )
    locked = FINANCE.replace("tools: [ledger.read, ledger.search]", "tools: [ledger.search]")
    uploaded = client.post(
        "/admin/v1/policies", json={"text": locked, "activate": True}, headers=admin
    ).json()
    assert uploaded["active"] is True
    assert not decide(client, "fin-1", "ledger.read")
    rolled = client.post("/admin/v1/policies/rollback", headers=admin).json()
    assert rolled["number"] == uploaded["number"] - 1
    assert decide(client, "fin-1", "ledger.read")
    assert client.post("/admin/v1/policies/99/activate", headers=admin).status_code == 404
    assert [v["active"] for v in client.get("/admin/v1/policies", headers=admin).json()] == [
        True,
        False,
    ]


def test_grants_and_approvals_over_http(client: TestClient, control: ControlPlane) -> None:
    admin = auth(control, "root", AdminRole.ADMIN)
    approver = auth(control, "carol", AdminRole.APPROVER)
    refund = {"amount": 10, "order_id": "ORD-000001"}
    grant = client.post(
        "/admin/v1/grants",
        json={"agent": "fin-1", "permission": "refund", "justification": "t", "ttl_seconds": 60},
        headers=admin,
    ).json()
    assert grant["status"] == "active"
    assert decide(client, "fin-1", "payment.refund", refund)
    client.post(f"/admin/v1/grants/{grant['id']}/release", headers=admin)
    assert not decide(client, "fin-1", "payment.refund", refund)
    wire = client.post(
        "/admin/v1/grants",
        json={
            "agent": "fin-1",
            "permission": "wire-transfer",
            "justification": "t",
            "ttl_seconds": 60,
        },
        headers=admin,
    ).json()
    assert wire["status"] == "pending"
    # The requester (the admin key's name) cannot approve its own elevated grant.
    self_approve = client.post(f"/admin/v1/grants/{wire['id']}/approve", headers=admin)
    assert self_approve.status_code == 400
    assert (
        client.post(f"/admin/v1/grants/{wire['id']}/approve", headers=approver).json()["status"]
        == "active"
    )
    control.state.add_labels("s", frozenset({"untrusted_content_seen"}), control.clock())
    body = {
        "subject": {"type": "agent", "id": "fin-1"},
        "action": {"name": "call"},
        "resource": {"type": "tool", "id": "payment.send", "properties": {"arguments": PAY}},
        "context": {"session_id": "s"},
    }
    approval_id = client.post("/access/v1/evaluation", json=body).json()["context"]["approval_id"]
    pending = client.get("/admin/v1/approvals?status=pending", headers=approver).json()
    assert [a["id"] for a in pending] == [approval_id]
    denied = client.post(f"/admin/v1/approvals/{approval_id}/deny", json={}, headers=approver)
    assert denied.json()["status"] == "denied"
    again = client.post(f"/admin/v1/approvals/{approval_id}/approve", json={}, headers=approver)
    assert again.status_code == 400
    assert client.get("/admin/v1/approvals/apr_nope", headers=approver).status_code == 404
    audit = client.get(
        "/admin/v1/audit?agent=fin-1&limit=5", headers=auth(control, "aude", AdminRole.AUDITOR)
    ).json()
    assert audit
    assert all(r["record"]["event"]["agent"] == "fin-1" for r in audit)
