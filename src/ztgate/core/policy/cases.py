"""The policy test-case format used by ``ztgate policy test``.

A cases file lists requests and the effect each must get::

    cases:
      - name: small payment to a known vendor
        agent: fin-1
        tool: payment.send
        args: {amount: 50, recipient: vendor-a}
        expect: allow                 # allow | deny | approval_required
        expect_rules: [finance-small-vendor-payments]   # optional
        expect_reason: constraint_failed                # optional, a reason code
        # optional facts:
        server: payments
        now: "2026-03-02T10:00:00Z"
        context: {source_ip: 10.1.2.3, acting_for: alice, delegation: ["user:alice"], risk: low}
        session_labels: [untrusted_content_seen]
        grants: [{permission: refund, expires_in: 600, approved_by: bob}]
        usage: {"daily-spend|fin-1|1767225600": 450}

Loading is as strict as for policies: unknown keys are errors with file and line.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator

from ztgate.core.models import Context, Effect, Grant, Request
from ztgate.core.policy._source import SourceError, SourceMap, load_text
from ztgate.core.policy.schema import structural_problems
from ztgate.errors import InvalidInputError, Problem, SourceLocation

_DEFAULT_NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday, noon UTC

_CASES_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["cases"],
    "properties": {
        "cases": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["agent", "tool", "expect"],
                "properties": {
                    "name": {"type": "string"},
                    "agent": {"type": "string"},
                    "tool": {"type": "string"},
                    "server": {"type": "string"},
                    "args": {"type": "object"},
                    "expect": {"enum": ["allow", "deny", "approval_required"]},
                    "expect_rules": {"type": "array", "items": {"type": "string"}},
                    "expect_reason": {"type": "string"},
                    "now": {"type": "string"},
                    "context": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "source_ip": {"type": "string"},
                            "acting_for": {"type": "string"},
                            "delegation": {"type": "array", "items": {"type": "string"}},
                            "risk": {"type": "string"},
                        },
                    },
                    "session_labels": {"type": "array", "items": {"type": "string"}},
                    "grants": {
                        "type": "array",
                        "items": {
                            "type": "object",
                            "additionalProperties": False,
                            "required": ["permission"],
                            "properties": {
                                "permission": {"type": "string"},
                                "expires_in": {"type": "integer"},
                                "approved_by": {"type": "string"},
                                "agent": {"type": "string"},
                            },
                        },
                    },
                    "usage": {"type": "object", "additionalProperties": {"type": "number"}},
                },
            },
        }
    },
}


@cache
def _validator() -> Draft202012Validator:
    return Draft202012Validator(_CASES_SCHEMA)


@dataclass(frozen=True, slots=True)
class PolicyCase:
    name: str
    request: Request
    expect: Effect
    expect_rules: tuple[str, ...] | None
    expect_reason: str | None
    location: SourceLocation


def load_cases(text: str, file: str = "<cases>") -> list[PolicyCase]:
    """Parse a cases document strictly; raises :class:`InvalidInputError`."""
    try:
        data, smap = load_text(text, file)
    except SourceError as error:
        raise InvalidInputError(error.problems) from None
    if data is None:
        raise InvalidInputError([Problem("the cases document is empty", SourceLocation(file))])
    problems = structural_problems(data, smap, _validator())
    if problems:
        raise InvalidInputError(problems)
    cases = []
    for i, raw in enumerate(data["cases"]):
        cases.append(_case(raw, smap, i))
    return cases


def _case(raw: Mapping[str, Any], smap: SourceMap, index: int) -> PolicyCase:
    path = ("cases", index)
    now = _DEFAULT_NOW
    if "now" in raw:
        try:
            now = datetime.fromisoformat(raw["now"].replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(
                [smap.problem((*path, "now"), f"invalid time `{raw['now']}`")]
            ) from None
        if now.tzinfo is None:
            raise InvalidInputError(
                [smap.problem((*path, "now"), "time must carry a zone, e.g. `Z`")]
            )
    ctx_raw = raw.get("context", {})
    context = Context(
        source_ip=ctx_raw.get("source_ip"),
        acting_for=ctx_raw.get("acting_for"),
        delegation=tuple(ctx_raw.get("delegation", ())),
        risk=ctx_raw.get("risk"),
    )
    grants = tuple(
        Grant(
            id=f"case-{index}-grant-{k}",
            agent=g.get("agent", raw["agent"]),
            permission=g["permission"],
            expires_at=now + timedelta(seconds=g.get("expires_in", 3600)),
            justification="policy test case",
            issued_at=now,
            approved_by=g.get("approved_by"),
        )
        for k, g in enumerate(raw.get("grants", ()))
    )
    request = Request(
        agent=raw["agent"],
        tool=raw["tool"],
        args=raw.get("args", {}),
        now=now,
        server=raw.get("server"),
        context=context,
        session_labels=frozenset(raw.get("session_labels", ())),
        grants=grants,
        usage=dict(raw.get("usage", {})),
    )
    return PolicyCase(
        name=raw.get("name", f"case {index + 1}"),
        request=request,
        expect=Effect(raw["expect"]),
        expect_rules=tuple(raw["expect_rules"]) if "expect_rules" in raw else None,
        expect_reason=raw.get("expect_reason"),
        location=smap.locate(path),
    )
