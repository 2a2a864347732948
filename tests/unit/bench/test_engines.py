"""Each engine adapter against the reference on a sample that covers every category.

The peers are in the ``bench`` extra, not ``dev``: their tests skip when the package is
not installed. A peer's disagreements are findings, so they are asserted exactly as
``docs/benchmarks.md`` reports them; if a new release changes them, the docs change too.
ztgate itself must agree everywhere.
"""

from __future__ import annotations

import importlib
import math
from typing import Any

import pytest
from bench import engines, timing
from bench.workload import CATEGORIES, generate, reference

SAMPLE = generate(2_000, seed=99)


def _disagreements(engine: engines.Engine) -> dict[str, dict[str, int]]:
    # The benchmark's own loop: an exception from the engine counts as a deny.
    prepared = [engine.prepare(r.agent, r.tool, r.args) for r in SAMPLE]
    answers = timing.measure(engine.decide, prepared, warmup=0).answers
    _total, by_category = timing.disagreements(
        answers, [r.expected for r in SAMPLE], [r.category for r in SAMPLE]
    )
    return by_category


def _decide(engine: engines.Engine, agent: str, tool: str, args: dict[str, Any]) -> bool:
    """One decision; an engine error is a deny, as in the benchmark loop."""
    try:
        return engine.decide(engine.prepare(agent, tool, args))
    except Exception:
        return False


def _payment(amount: Any) -> dict[str, Any]:
    return {"amount": amount, "recipient": "vendor-a"}


def test_sample_covers_every_category() -> None:
    assert {r.category for r in SAMPLE} == set(CATEGORIES)


def test_ztgate_agrees_with_the_reference_everywhere() -> None:
    ztgate = importlib.import_module("ztgate")
    if not hasattr(ztgate, "Gate"):
        pytest.skip("ztgate.Gate is not available on this branch yet")
    engine = engines.ZtgateEngine(engines.REPO_ROOT / "examples/bench-finance/policy.yaml")
    assert _disagreements(engine) == {}


def test_cedar_agrees_with_the_reference_everywhere() -> None:
    pytest.importorskip("cedarpy")
    engine = engines.CedarEngine()
    assert _disagreements(engine) == {}
    # The ways Cedar gets there: a type error skips the permit, an unrepresentable value
    # fails the request; either way the answer is not Allow.
    assert _decide(engine, "fin-1", "payment.send", _payment(50)) is True
    for amount in ("50", True, None, 50.0, math.nan, math.inf, 10**30, 2**63):
        assert _decide(engine, "fin-1", "payment.send", _payment(amount)) is False
    assert _decide(engine, "fin-1", "payment.send", _payment(2**63 - 1)) is False
    assert _decide(engine, "fin-1", "payment.send", _payment(-(2**63))) is True


def test_rego_disagrees_only_on_integral_floats() -> None:
    try:
        engines.import_regorus()
    except ImportError:
        pytest.skip("regorus is not installed")
    engine = engines.RegoEngine()
    found = _disagreements(engine)
    assert set(found) == {"amount_float"}
    assert set(found["amount_float"]) == {"false_allow"}
    # Rego numbers are JSON numbers: 50.0 is 50 once decoded, 99.5 is not an integer.
    assert _decide(engine, "fin-1", "payment.send", _payment(50.0)) is True
    assert _decide(engine, "fin-1", "payment.send", _payment(99.5)) is False
    for amount in ("50", True, None, math.nan, math.inf, 10**30):
        assert _decide(engine, "fin-1", "payment.send", _payment(amount)) is False


AGT_FALSE_ALLOWS = {
    "amount_missing",
    "amount_none",
    "amount_string",
    "amount_bool",
    "amount_float",
    "amount_inf",
}


def test_agt_disagreements_are_the_documented_false_allows() -> None:
    try:
        engines.import_agt_policy_engine()
    except ImportError:
        pytest.skip("agent-governance-toolkit-core is not installed")
    engine = engines.AgtEngine()
    found = _disagreements(engine)
    assert set(found) == AGT_FALSE_ALLOWS
    assert all(set(kinds) == {"false_allow"} for kinds in found.values())
    # Each documented finding, one request at a time.
    assert _decide(engine, "fin-1", "payment.send", {"recipient": "vendor-a"}) is True
    for amount in (None, "50", True, False, 50.0, -math.inf):
        assert _decide(engine, "fin-1", "payment.send", _payment(amount)) is True
    for amount in (math.nan, math.inf, 10**30, 101):
        assert _decide(engine, "fin-1", "payment.send", _payment(amount)) is False
    # What it gets right: the forbid, unknown agents, other blueprints, other tools.
    assert _decide(engine, "fin-1", "shell.exec", _payment(5)) is False
    assert _decide(engine, "intruder", "payment.send", _payment(5)) is False
    assert _decide(engine, "sup-1", "payment.send", _payment(5)) is False
    assert _decide(engine, "fin-1", "email.send", _payment(5)) is False


def test_a_peer_that_cannot_load_is_skipped_with_its_reason() -> None:
    def broken() -> engines.Engine:
        raise ImportError("no module named `nothing`")

    outcome = engines.load("cedar", broken)
    assert outcome == engines.Skipped("cedar", "ImportError: no module named `nothing`")


@pytest.mark.parametrize(("agent", "tool"), [("fin-1", "payment.send"), ("sup-1", "shell.exec")])
def test_reference_is_the_yardstick(agent: str, tool: str) -> None:
    # Guards against the sample silently losing its allowed requests.
    assert reference(agent, tool, _payment(5)) is (tool == "payment.send")
    assert sum(r.expected for r in SAMPLE) > len(SAMPLE) // 5
