"""The in-process Gate: policy lifecycle, grants, sessions, quotas and fail-closed paths."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ztgate import Context, Effect, Gate, ReasonCode
from ztgate.core.policy import load_policy
from ztgate.errors import PolicyError, UsageError

EXAMPLES = Path(__file__).resolve().parents[3] / "examples"
MONDAY = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
PAY = {"amount": 100, "currency": "EUR", "recipient": "globex"}


@pytest.fixture
def gate() -> Gate:
    return Gate.from_file(EXAMPLES / "finance" / "policy.yaml", clock=lambda: MONDAY)


def test_quick_start_contract() -> None:
    gate = Gate.from_file(EXAMPLES / "bench-finance" / "policy.yaml")
    decision = gate.authorize(
        agent="fin-1", tool="payment.send", args={"amount": 50, "recipient": "vendor-a"}
    )
    assert decision.allowed
    assert decision.effect == "allow"
    assert decision.rule_ids == ("finance-small-vendor-payments",)
    assert decision.reasons[0].code is ReasonCode.ALLOWED
    assert decision.policy_version.startswith("sha256:")
    denied = gate.authorize(agent="fin-1", tool="shell.exec", args={"cmd": "id"})
    assert not denied.allowed
    assert denied.rule_ids == ("no-shell",)


def test_a_gate_without_policy_denies_everything() -> None:
    decision = Gate().authorize(agent="fin-1", tool="payment.send", args={})
    assert decision.effect is Effect.DENY
    assert decision.reason_codes == ("no_policy",)


def test_invalid_policy_file_raises_with_location(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nagnets: {}\n")
    with pytest.raises(PolicyError) as caught:
        Gate.from_file(bad)
    assert "bad.yaml:2" in str(caught.value)
    assert "unknown key `agnets`" in str(caught.value)


def test_missing_policy_file_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError):
        Gate.from_file(tmp_path / "absent.yaml")


def test_reload_swaps_atomically_and_keeps_old_policy_on_error(tmp_path: Path) -> None:
    file = tmp_path / "p.yaml"
    open_text = (EXAMPLES / "bench-finance" / "policy.yaml").read_text()
    file.write_text(open_text)
    gate = Gate.from_file(file)
    before = gate.policy_version
    assert gate.authorize(
        agent="fin-1", tool="payment.send", args={"amount": 5, "recipient": "vendor-a"}
    ).allowed
    file.write_text(open_text.replace("max: 100", "max: 1"))
    after = gate.reload()
    assert after != before
    assert not gate.authorize(
        agent="fin-1", tool="payment.send", args={"amount": 5, "recipient": "vendor-a"}
    ).allowed
    file.write_text("version: 1\nbroken: [\n")
    with pytest.raises(PolicyError):
        gate.reload()
    assert gate.policy_version == after


def test_load_none_denies_everything(gate: Gate) -> None:
    gate.load(None)
    assert gate.authorize(agent="fin-1", tool="calendar.read").effect is Effect.DENY


def test_task_grant_lifecycle(gate: Gate) -> None:
    args = {"amount": 80, "order_id": "ORD-123456"}
    assert gate.authorize(agent="fin-1", tool="payment.refund", args=args).reason_codes == (
        "grant_required",
    )
    grant = gate.grant(agent="fin-1", permission="refund", justification="ticket 7", ttl=60)
    assert gate.authorize(agent="fin-1", tool="payment.refund", args=args).allowed
    # Grants are per agent.
    assert not gate.authorize(agent="fin-2", tool="payment.refund", args=args).allowed
    # Expired at the boundary.
    late = MONDAY + timedelta(seconds=60)
    assert gate.authorize(
        agent="fin-1", tool="payment.refund", args=args, now=late
    ).reason_codes == ("grant_expired",)
    gate.release(grant.id)
    assert not gate.authorize(agent="fin-1", tool="payment.refund", args=args).allowed
    with pytest.raises(UsageError):
        gate.release(grant.id)


def test_elevated_grant_needs_a_human_other_than_the_agent(gate: Gate) -> None:
    with pytest.raises(UsageError, match="approver"):
        gate.grant(agent="fin-1", permission="wire-transfer", justification="x")
    with pytest.raises(UsageError, match="approver"):
        gate.grant(
            agent="fin-1", permission="wire-transfer", justification="x", approved_by="fin-1"
        )
    gate.grant(agent="fin-1", permission="wire-transfer", justification="x", approved_by="alice")
    args = {"amount": 5000, "iban": "DE89370400440532013000"}
    assert gate.authorize(agent="fin-1", tool="payment.wire", args=args).allowed


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"permission": "read-ledger"}, "no task or elevated permission"),
        ({"permission": "no-ledger-writes"}, "no task or elevated permission"),
        ({"permission": "refund", "justification": "  "}, "justification"),
        ({"permission": "refund", "ttl": 0}, "lifetime"),
        ({"permission": "refund", "ttl": timedelta(days=2)}, "lifetime"),
    ],
)
def test_grant_refusals(gate: Gate, kwargs: dict[str, object], message: str) -> None:
    params: dict[str, object] = {"agent": "fin-1", "justification": "task"} | kwargs
    with pytest.raises(UsageError, match=message):
        gate.grant(**params)  # type: ignore[arg-type]


def test_denied_permissions_beat_grants(gate: Gate) -> None:
    gate.grant(agent="fin-1", permission="refund", justification="t")
    assert gate.authorize(agent="fin-1", tool="ledger.write").rule_ids == (
        "finance-bot/no-ledger-writes",
    )


def test_session_labels_require_approval_after_untrusted_content(gate: Gate) -> None:
    assert gate.authorize(agent="fin-1", tool="payment.send", args=PAY, session="s1").allowed
    gate.label_session("s1", "untrusted_content_seen")
    decision = gate.authorize(agent="fin-1", tool="payment.send", args=PAY, session="s1")
    assert decision.effect is Effect.APPROVAL_REQUIRED
    assert decision.rule_ids == ("pay-after-untrusted-content-needs-approval",)
    # Other sessions are unaffected.
    assert gate.authorize(agent="fin-1", tool="payment.send", args=PAY, session="s2").allowed


def test_context_may_be_a_mapping(gate: Gate) -> None:
    assert not gate.authorize(
        agent="fin-1", tool="payment.send", args=PAY, context={"risk": "critical"}
    ).allowed
    assert gate.authorize(
        agent="fin-1", tool="payment.send", args=PAY, context=Context(risk="low")
    ).allowed
    bad = gate.authorize(agent="fin-1", tool="payment.send", args=PAY, context={"rsk": "low"})
    assert bad.reason_codes == ("evaluation_error",)


def test_daily_spending_cap_accumulates(gate: Gate) -> None:
    spent = 0
    for _ in range(25):
        decision = gate.authorize(agent="fin-1", tool="payment.send", args=PAY)
        if decision.allowed:
            spent += PAY["amount"]  # type: ignore[operator]
        else:
            assert decision.reason_codes == ("quota_exceeded",)
            assert decision.rule_ids == ("daily-spend",)
    assert spent == 2000
    # Another agent has its own budget; the next day starts afresh.
    assert gate.authorize(agent="fin-2", tool="payment.send", args=PAY).allowed
    tomorrow = MONDAY + timedelta(days=1)
    assert gate.authorize(agent="fin-1", tool="payment.send", args=PAY, now=tomorrow).allowed


def test_rate_quota_counts_calls() -> None:
    policy = load_policy(
        """
version: 1
agents: {a: {}}
policies:
  - id: p
    rules: [{id: r, effect: allow, subjects: any, tools: [ping]}]
    quotas: [{id: rate, subjects: any, tools: [ping], window: 1m, limit: 3}]
"""
    )
    gate = Gate(policy, clock=lambda: MONDAY)
    results = [gate.authorize(agent="a", tool="ping").allowed for _ in range(5)]
    assert results == [True, True, True, False, False]
    assert gate.authorize(agent="a", tool="ping", now=MONDAY + timedelta(minutes=1)).allowed


def test_quota_is_exact_under_concurrency() -> None:
    policy = load_policy(
        """
version: 1
agents: {a: {}}
policies:
  - id: p
    rules: [{id: r, effect: allow, subjects: any, tools: [pay], args: {amount: {type: integer, min: 1}}}]
    quotas: [{id: cap, subjects: any, tools: [pay], window: 1d, sum: amount, limit: 1000}]
"""
    )
    gate = Gate(policy, clock=lambda: MONDAY)
    allowed: list[int] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(200):
            if gate.authorize(agent="a", tool="pay", args={"amount": 7}).allowed:
                with lock:
                    allowed.append(7)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(allowed) == 994  # 142 payments of 7: the largest total not above 1000


def test_shadow_outcome_is_reported_not_enforced(gate: Gate) -> None:
    args = PAY | {"amount": 300}
    decision = gate.authorize(agent="fin-1", tool="payment.send", args=args)
    assert decision.allowed
    assert decision.shadow is not None
    assert decision.shadow.effect is Effect.DENY
    assert decision.shadow.rule_ids == ("trial-cap-200",)
    small = gate.authorize(agent="fin-1", tool="payment.send", args=PAY)
    assert small.shadow is not None
    assert small.shadow.effect is Effect.ALLOW


def test_explain_names_the_failing_argument(gate: Gate) -> None:
    result = gate.explain(agent="fin-1", tool="payment.send", args=PAY | {"recipient": "mallory"})
    assert result.decision.effect is Effect.DENY
    traces = {t.rule_id: t for t in result.candidates}
    checks = {c.subject: c.outcome for c in traces["finance-bot/pay-approved-vendors"].checks}
    assert checks["argument `recipient` (string)"] == "failed"
    assert checks["argument `amount` (integer)"] == "satisfied"


def test_finished_quota_windows_are_pruned() -> None:
    from ztgate.core.models import QuotaCharge
    from ztgate.service.memory import MAX_COUNTERS_BEFORE_PRUNE, MemoryState

    state = MemoryState()
    for i in range(MAX_COUNTERS_BEFORE_PRUNE + 1):
        assert state.apply_charges((QuotaCharge("q", f"q|a{i}|0", 1, 5, 60, 0),)) is None
    # A charge in a later window prunes every counter of windows that have ended.
    assert state.apply_charges((QuotaCharge("q", "q|a|60", 1, 5, 60, 60),)) is None
    assert dict(state.usage) == {"q|a|60": 1.0}
