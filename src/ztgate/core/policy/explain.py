"""Explain a decision for an operator: every candidate rule and why it did or did not apply.

This is the slow, thorough twin of :mod:`evaluate`, used by ``ztgate policy explain`` and
by tests. It re-checks each constraint and condition on its own so the output can name
the exact argument or condition that failed. The decision it reports is always the one
:func:`evaluate` returns, so the two cannot disagree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ztgate.core.canon.text import canonical_string
from ztgate.core.models import Decision, Request
from ztgate.core.policy.compile import CompiledPolicy, describe_tier
from ztgate.core.policy.conditions import describe_when
from ztgate.core.policy.constraints import MISSING, check_value_for_explain, make_getter
from ztgate.core.policy.evaluate import evaluate
from ztgate.errors import CanonicalizationError


@dataclass(frozen=True, slots=True)
class Check:
    """One constraint or condition and its outcome (``satisfied|failed|missing|indeterminate``)."""

    subject: str
    outcome: str


@dataclass(frozen=True, slots=True)
class RuleTrace:
    rule_id: str
    effect: str
    kind: str
    mode: str
    checks: tuple[Check, ...] = field(default=())


@dataclass(frozen=True, slots=True)
class Explanation:
    decision: Decision
    candidates: tuple[RuleTrace, ...]
    agent_known: bool
    blueprints: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": self.decision.to_dict(),
            "agent_known": self.agent_known,
            "blueprints": list(self.blueprints),
            "candidates": [
                {
                    "rule_id": t.rule_id,
                    "effect": t.effect,
                    "kind": t.kind,
                    "mode": t.mode,
                    "checks": [{"subject": c.subject, "outcome": c.outcome} for c in t.checks],
                }
                for t in self.candidates
            ],
        }


def _outcome(result: bool | None) -> str:
    return {True: "satisfied", False: "failed", None: "indeterminate"}[result]


def explain(policy: CompiledPolicy, request: Request) -> Explanation:
    """The decision for ``request`` plus a trace of every rule that could have applied."""
    decision = evaluate(policy, request)
    entry = policy.agents.get(request.agent)
    if entry is None:
        return Explanation(decision, (), False, ())
    try:
        tool = canonical_string(request.tool)
        server = canonical_string(request.server) if request.server is not None else None
    except CanonicalizationError:
        return Explanation(decision, (), True, entry.blueprints)
    bucket = policy.bucket(server, tool)
    risk = request.context.risk if request.context.risk is not None else entry.risk
    traces: list[RuleTrace] = []
    for key in entry.keys:
        for rules in (bucket.enforce.get(key, ()), bucket.shadow.get(key, ())):
            for rule in rules:
                checks: list[Check] = []
                definition = rule.definition
                for path, constraint in definition.args:
                    value = make_getter(path)(request.args)
                    if constraint.absent:
                        outcome = "satisfied" if value is MISSING else "failed"
                    elif value is MISSING:
                        outcome = "missing (optional)" if constraint.optional else "missing"
                    else:
                        outcome = _outcome(check_value_for_explain(constraint, value))
                    checks.append(Check(f"argument `{path}` ({constraint.type})", outcome))
                if not definition.additional_args:
                    allowed = {p.split(".")[0] for p, _ in definition.args}
                    extra = sorted(k for k in request.args if k not in allowed)
                    checks.append(
                        Check(
                            "no additional arguments",
                            "satisfied" if not extra else "failed: " + ", ".join(extra),
                        )
                    )
                if definition.when is not None:
                    for name, check in describe_when(definition.when):
                        result = check(request.now, request.context, request.session_labels, risk)
                        checks.append(Check(name, _outcome(result)))
                if rule.permission is not None and rule.tier.value in ("task", "elevated"):
                    live = [
                        g
                        for g in request.grants
                        if g.agent == entry.id
                        and g.permission == rule.permission
                        and g.expires_at > request.now
                        and (rule.tier.value == "task" or g.approved_by)
                    ]
                    checks.append(Check("grant", "satisfied" if live else "missing"))
                traces.append(
                    RuleTrace(
                        rule.id,
                        rule.effect.value,
                        describe_tier(rule.tier),
                        rule.mode.value,
                        tuple(checks),
                    )
                )
    return Explanation(decision, tuple(traces), True, entry.blueprints)
