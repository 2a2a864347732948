"""Every example policy is valid and passes the test cases that sit next to it."""

from __future__ import annotations

from pathlib import Path

import pytest

from ztgate.core.policy import evaluate, load_policy
from ztgate.core.policy.cases import load_cases

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"
PAIRS = sorted(p.parent for p in EXAMPLES.glob("*/cases.yaml"))


def test_every_example_has_cases() -> None:
    policies = {p.parent for p in EXAMPLES.glob("*/policy.yaml")}
    assert {"finance", "support", "coding"} <= {p.name for p in policies}
    assert set(PAIRS) >= policies - {EXAMPLES / "bench-finance"}


@pytest.mark.parametrize("folder", PAIRS, ids=lambda p: p.name)
def test_example_cases(folder: Path) -> None:
    policy = load_policy((folder / "policy.yaml").read_text(encoding="utf-8"), "policy.yaml")
    cases = load_cases((folder / "cases.yaml").read_text(encoding="utf-8"), "cases.yaml")
    assert len(cases) >= 10
    failures = []
    for case in cases:
        decision = evaluate(policy, case.request)
        ok = decision.effect is case.expect
        if case.expect_rules is not None:
            ok = ok and set(case.expect_rules) == set(decision.rule_ids)
        if case.expect_reason is not None:
            ok = ok and case.expect_reason in decision.reason_codes
        if not ok:
            failures.append(f"{case.location} {case.name}: {decision.to_dict()}")
    assert not failures, "\n".join(failures)


def test_bench_finance_semantics() -> None:
    text = (EXAMPLES / "bench-finance" / "policy.yaml").read_text(encoding="utf-8")
    policy = load_policy(text, "bench-finance")
    from datetime import UTC, datetime

    from ztgate.core.models import Request

    now = datetime(2026, 1, 5, tzinfo=UTC)

    def allowed(agent: str, tool: str, args: dict[str, object]) -> bool:
        return evaluate(policy, Request(agent, tool, args, now)).allowed

    assert allowed("fin-1", "payment.send", {"amount": 100, "recipient": "vendor-a"})
    assert allowed("fin-2", "payment.send", {"amount": 0, "recipient": "vendor-b"})
    assert not allowed("fin-1", "payment.send", {"amount": 101, "recipient": "vendor-a"})
    assert not allowed("fin-1", "payment.send", {"amount": 50.0, "recipient": "vendor-a"})
    assert not allowed("fin-1", "payment.send", {"amount": True, "recipient": "vendor-a"})
    assert not allowed("fin-1", "payment.send", {"recipient": "vendor-a"})
    assert not allowed("fin-1", "payment.send", {"amount": 5, "recipient": "vendor-c"})
    assert not allowed("sup-1", "payment.send", {"amount": 5, "recipient": "vendor-a"})
    assert not allowed("fin-1", "shell.exec", {"cmd": "ls"})
    assert not allowed("intruder", "payment.send", {"amount": 5, "recipient": "vendor-a"})
    assert not allowed("fin-1", "email.send", {})
