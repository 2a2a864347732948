"""The control plane end to end on SQLite and PostgreSQL: approvals, grants, policy
versions, kill switches, conditional access, session labels, audit."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from datetime import timedelta
from typing import Any

import pytest

from tests.integration.service.support import PAY, Clock, Target, seed
from ztgate.core.models import Effect
from ztgate.errors import PolicyError, UsageError
from ztgate.service.control import ControlPlane
from ztgate.service.pipeline import Call, Outcome
from ztgate.store import ApprovalStatus, GrantStatus, KillScope


def call(control: ControlPlane, agent: str, tool: str, args: Any = None, **kw: Any) -> Outcome:
    return control.pipeline.authorize(Call(tool=tool, agent=agent, args=args or {}, **kw))


def taint(control: ControlPlane, session: str) -> None:
    control.state.add_labels(session, frozenset({"untrusted_content_seen"}), control.clock())


# -- approvals --------------------------------------------------------------------------


def test_approval_is_bound_to_the_exact_call_and_used_once(control: ControlPlane) -> None:
    taint(control, "s1")
    first = call(control, "fin-1", "payment.send", PAY, session="s1", context={"acting_for": "al"})
    assert first.effect is Effect.APPROVAL_REQUIRED
    assert first.approval_id is not None
    # Asking again before a decision returns the same pending approval.
    same = call(control, "fin-1", "payment.send", PAY, session="s1", context={"acting_for": "al"})
    assert same.approval_id == first.approval_id
    control.approve(first.approval_id, approver="carol")
    # A different amount, session or agent is a different call: not approved.
    other = call(control, "fin-1", "payment.send", {**PAY, "amount": 121}, session="s1")
    assert other.effect is Effect.APPROVAL_REQUIRED
    assert other.approval_id != first.approval_id
    approved = call(control, "fin-1", "payment.send", PAY, session="s1")
    assert approved.allowed
    assert approved.approval_id == first.approval_id
    replay = call(control, "fin-1", "payment.send", PAY, session="s1")
    assert not replay.allowed
    assert replay.approval_id != first.approval_id
    record = control.approvals.get(first.approval_id, control.clock())
    assert record.status is ApprovalStatus.CONSUMED
    assert record.decided_by == "carol"


def test_requester_cannot_approve_and_denied_or_timed_out_approvals_deny(
    control: ControlPlane, clock: Clock
) -> None:
    taint(control, "s2")
    ctx = {"acting_for": "alice"}
    first = call(control, "fin-1", "payment.send", PAY, session="s2", context=ctx)
    assert first.approval_id is not None
    for self_approver in ("alice", "fin-1", "", "  "):
        with pytest.raises(UsageError):
            control.approve(first.approval_id, approver=self_approver)
    control.deny(first.approval_id, approver="carol", note="not on the invoice list")
    with pytest.raises(UsageError):
        control.approve(first.approval_id, approver="dave")
    second = call(control, "fin-1", "payment.send", PAY, session="s2", context=ctx)
    assert not second.allowed
    assert second.approval_id != first.approval_id
    clock.advance(16 * 60)  # past the 15 minute timeout: a timeout is a deny
    with pytest.raises(UsageError, match="timed out"):
        control.approve(second.approval_id or "", approver="carol")
    assert control.approvals.get(second.approval_id or "", clock()).status is (
        ApprovalStatus.EXPIRED
    )
    assert not call(control, "fin-1", "payment.send", PAY, session="s2", context=ctx).allowed


def test_an_approved_call_must_be_used_within_its_window(
    control: ControlPlane, clock: Clock
) -> None:
    taint(control, "s3")
    first = call(control, "fin-1", "payment.send", PAY, session="s3")
    control.approve(first.approval_id or "", approver="carol")
    clock.advance(16 * 60)
    late = call(control, "fin-1", "payment.send", PAY, session="s3")
    assert not late.allowed


def test_approval_notifier_is_told_and_its_failure_does_not_block(
    target: Target, clock: Clock
) -> None:
    seen: list[str] = []

    def broken(_: Any) -> None:
        raise RuntimeError("webhook down")

    plane = target.open_control(clock, notifiers=(broken, lambda r: seen.append(r.id)))
    try:
        seed(plane)
        taint(plane, "s")
        outcome = call(plane, "fin-1", "payment.send", PAY, session="s")
        assert outcome.effect is Effect.APPROVAL_REQUIRED
        assert seen == [outcome.approval_id]
    finally:
        plane.close()


# -- grants -----------------------------------------------------------------------------


def test_task_grant_allows_until_released(control: ControlPlane) -> None:
    refund = {"amount": 50, "order_id": "ORD-123456"}
    assert call(control, "fin-1", "payment.refund", refund).decision.reason_codes == (
        "grant_required",
    )
    grant = control.request_grant(
        agent="fin-1",
        permission="refund",
        justification="ticket 7",
        ttl=timedelta(minutes=5),
        requested_by="alice",
    )
    assert grant.status is GrantStatus.ACTIVE
    assert call(control, "fin-1", "payment.refund", refund).allowed
    assert not call(control, "fin-2", "payment.refund", refund).allowed
    control.release_grant(grant.id, actor="alice")
    assert not call(control, "fin-1", "payment.refund", refund).allowed


def test_task_grant_expires(control: ControlPlane, clock: Clock) -> None:
    control.request_grant(
        agent="fin-1",
        permission="refund",
        justification="ticket 8",
        ttl=timedelta(seconds=30),
        requested_by="alice",
    )
    refund = {"amount": 50, "order_id": "ORD-123456"}
    assert call(control, "fin-1", "payment.refund", refund).allowed
    clock.advance(31)
    assert call(control, "fin-1", "payment.refund", refund).decision.reason_codes == (
        "grant_expired",
    )


def test_elevated_grant_needs_another_human(control: ControlPlane) -> None:
    wire = {"amount": 10000, "iban": "DE44500105175407324931"}
    grant = control.request_grant(
        agent="fin-1",
        permission="wire-transfer",
        justification="quarterly tax",
        ttl=timedelta(minutes=10),
        requested_by="alice",
    )
    assert grant.status is GrantStatus.PENDING
    assert not call(control, "fin-1", "payment.wire", wire).allowed
    with pytest.raises(UsageError):
        control.approve_grant(grant.id, approver="alice")
    approved = control.approve_grant(grant.id, approver="carol")
    assert approved.status is GrantStatus.ACTIVE
    assert call(control, "fin-1", "payment.wire", wire).allowed


@pytest.mark.parametrize(
    ("permission", "justification", "ttl"),
    [
        ("read-ledger", "x", 60),  # a base permission is not grantable
        ("no-such", "x", 60),
        ("refund", " ", 60),
        ("refund", "x", 0),
        ("refund", "x", 25 * 3600),
    ],
)
def test_invalid_grant_requests_are_refused(
    control: ControlPlane, permission: str, justification: str, ttl: int
) -> None:
    with pytest.raises(UsageError):
        control.request_grant(
            agent="fin-1",
            permission=permission,
            justification=justification,
            ttl=timedelta(seconds=ttl),
            requested_by="alice",
        )


# -- policies ---------------------------------------------------------------------------


def test_policy_upload_activate_and_rollback(control: ControlPlane) -> None:
    assert call(control, "fin-1", "ledger.read").allowed
    locked = textwrap.dedent(
        """
        version: 1
        blueprints:
          finance-bot: {permissions: {base: [{id: cal, tools: [calendar.read]}]}}
        agents:
          fin-1: {blueprint: finance-bot}
        """
    )
    version = control.upload_policy(locked, actor="root", comment="lock down")
    assert call(control, "fin-1", "ledger.read").allowed  # uploaded, not yet active
    control.activate_policy(version.number, actor="root")
    assert not call(control, "fin-1", "ledger.read").allowed
    assert call(control, "fin-1", "calendar.read").allowed
    control.rollback_policy(actor="root")
    assert call(control, "fin-1", "ledger.read").allowed
    assert control.store.policies.active().number == version.number - 1  # type: ignore[union-attr]
    with pytest.raises(PolicyError):
        control.upload_policy("version: 1\nbogus: true\n", actor="root")


def test_no_active_policy_denies_everything(target: Target, clock: Clock) -> None:
    plane = target.open_control(clock)
    try:
        plane.registry.create_agent("a1", owners=["o"], sponsors=["s"])
        outcome = call(plane, "a1", "ledger.read")
        assert outcome.decision.reason_codes == ("no_policy",)
    finally:
        plane.close()


# -- kill switch and conditional access -------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "target_name", "fin2_denied"),
    [
        (KillScope.AGENT, "fin-1", False),
        (KillScope.BLUEPRINT, "finance-bot", True),
        (KillScope.ALL, "*", True),
    ],
)
def test_kill_switch_scopes(
    control: ControlPlane, scope: KillScope, target_name: str, fin2_denied: bool
) -> None:
    assert call(control, "fin-1", "ledger.read").allowed
    control.kill(scope, target_name, actor="root", reason="incident 12")
    first = call(control, "fin-1", "ledger.read")
    assert first.decision.reason_codes == ("agent_inactive",)
    assert call(control, "fin-2", "ledger.read").allowed is not fin2_denied
    assert call(control, "intern-bot", "calendar.read").allowed is (scope is not KillScope.ALL)
    control.release_kill(scope, target_name, actor="root")
    assert call(control, "fin-1", "ledger.read").allowed


def test_suspended_expired_and_unknown_agents_are_denied(
    control: ControlPlane, clock: Clock
) -> None:
    control.suspend_agent("fin-1", actor="root", reason="odd behaviour")
    assert call(control, "fin-1", "ledger.read").decision.reason_codes == ("agent_inactive",)
    control.resume_agent("fin-1", actor="root")
    assert call(control, "fin-1", "ledger.read").allowed
    control.registry.create_agent(
        "temp-bot",
        owners=["o"],
        sponsors=["s"],
        blueprint="finance-bot",
        expires_at=clock() + timedelta(minutes=1),
    )
    clock.advance(120)
    assert not call(control, "temp-bot", "ledger.read").allowed
    assert call(control, "ghost", "ledger.read").decision.reason_codes == ("unknown_agent",)


def test_session_labels_persist_and_change_decisions(control: ControlPlane) -> None:
    assert call(control, "fin-1", "payment.send", PAY, session="s9").allowed
    taint(control, "s9")
    assert control.store.sessions.labels("s9") == frozenset({"untrusted_content_seen"})
    assert not call(control, "fin-1", "payment.send", PAY, session="s9").allowed
    assert call(control, "fin-1", "payment.send", PAY, session="other").allowed


def test_quota_counters_persist_across_handles(target: Target, clock: Clock) -> None:
    plane = target.open_control(clock)
    seed(plane)
    big = {**PAY, "amount": 500}
    for _ in range(4):
        assert call(plane, "fin-1", "payment.send", big).allowed
    plane.close()
    again = target.open_control(clock)
    try:
        refused = call(again, "fin-1", "payment.send", big)
        assert refused.decision.reason_codes == ("quota_exceeded",)
    finally:
        again.close()


def test_every_decision_and_operator_action_is_audited(control: ControlPlane) -> None:
    call(control, "fin-1", "ledger.write", {"text": "token sk_live_abcdefghijklmnopqrstuvwx"})
    control.kill(KillScope.AGENT, "fin-2", actor="root", reason="x")
    assert control.audit is not None
    records = [r.record for r in control.audit.backend.records(0)]
    assert any('"effect":"deny"' in r and "ledger.write" in r for r in records)
    assert any('"kind":"kill_switch"' in r for r in records)
    assert any('"kind":"policy_activated"' in r for r in records)
    assert not any("sk_live_abcdefghijklmnopqrstuvwx" in r for r in records)


def test_a_broken_audit_log_denies(control: ControlPlane) -> None:
    assert control.audit is not None
    control.audit.close()
    outcome = call(control, "fin-1", "ledger.read")
    assert not outcome.allowed
    assert outcome.decision.reason_codes == ("evaluation_error",)


# -- across processes -------------------------------------------------------------------

_SUSPEND = """
import sys
from ztgate.service.control import ControlPlane
from ztgate.store import KillScope, open_store
store = open_store(sys.argv[1], schema=(sys.argv[2] or None))
plane = ControlPlane(store)
if sys.argv[3] == "suspend":
    plane.suspend_agent("fin-1", actor="root", reason="cross-process test")
else:
    plane.kill(KillScope.BLUEPRINT, "finance-bot", actor="root", reason="cross-process test")
plane.close()
"""


@pytest.mark.parametrize("how", ["suspend", "kill"])
def test_a_suspension_in_another_process_denies_the_next_decision(
    target: Target, clock: Clock, how: str
) -> None:
    plane = target.open_control(clock)
    plane.state.staleness = 0.25  # the production bound, not 0
    try:
        seed(plane)
        assert call(plane, "fin-1", "ledger.read").allowed  # the cache is warm
        subprocess.run(
            [sys.executable, "-c", _SUSPEND, target.location, target.schema or "", how],
            check=True,
            timeout=60,
        )
        time.sleep(0.3)  # one staleness period
        outcome = call(plane, "fin-1", "ledger.read")
        assert outcome.decision.reason_codes == ("agent_inactive",)
    finally:
        plane.close()


def test_racing_retries_spend_an_approval_exactly_once(control: ControlPlane) -> None:
    import threading

    taint(control, "race")
    first = call(control, "fin-1", "payment.send", PAY, session="race")
    control.approve(first.approval_id or "", approver="carol")
    results: list[bool] = []
    lock = threading.Lock()
    barrier = threading.Barrier(6)

    def retry() -> None:
        barrier.wait()
        outcome = call(control, "fin-1", "payment.send", PAY, session="race")
        with lock:
            results.append(outcome.allowed)

    threads = [threading.Thread(target=retry) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1
