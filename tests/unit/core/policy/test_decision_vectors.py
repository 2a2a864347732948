"""Known-answer decisions for a policy that uses every constraint type."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ztgate.core.models import Context, Effect, Request
from ztgate.core.policy import evaluate, load_policy

VECTORS = Path(__file__).resolve().parents[3] / "vectors" / "policy"
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _decode(value: Any) -> Any:
    """Undo the JSON spelling of values JSON cannot hold (NaN, infinities, huge ints)."""
    if isinstance(value, dict):
        if set(value) == {"$float"}:
            return float(value["$float"])
        if set(value) == {"$int"}:
            return int(value["$int"])
        return {k: _decode(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v) for v in value]
    return value


SUITE = json.loads((VECTORS / "decisions.json").read_text(encoding="utf-8"))
POLICY = load_policy((VECTORS / SUITE["policy"]).read_text(encoding="utf-8"), SUITE["policy"])


@pytest.mark.parametrize(
    "case",
    SUITE["cases"],
    ids=[f"{i}-{c['tool']}-{c['expect']}" for i, c in enumerate(SUITE["cases"])],
)
def test_known_answer(case: dict[str, Any]) -> None:
    ctx = case.get("context", {})
    request = Request(
        agent=case["agent"],
        tool=case["tool"],
        args=_decode(case.get("args", {})),
        now=NOW,
        server=case.get("server"),
        context=Context(source_ip=ctx.get("source_ip"), risk=ctx.get("risk")),
    )
    decision = evaluate(POLICY, request)
    assert decision.effect is Effect(case["expect"]), decision.reasons
    assert decision.policy_version == POLICY.version
    if "rules" in case:
        assert list(decision.rule_ids) == case["rules"]
    if decision.effect is Effect.ALLOW:
        assert decision.rule_ids, "an allow must name the rule that allowed it"
