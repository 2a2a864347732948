"""The values a decision is made from and the value it produces.

All models are frozen: a request, once built, cannot change under the evaluator, and a
decision handed to a caller cannot be edited on its way to the audit log.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

_EMPTY_MAPPING: Mapping[str, Any] = MappingProxyType({})


class Effect(StrEnum):
    """What a decision, or a rule, says about a request."""

    ALLOW = "allow"
    DENY = "deny"
    APPROVAL_REQUIRED = "approval_required"


class Mode(StrEnum):
    """``shadow`` policies are evaluated and reported but never enforced."""

    ENFORCE = "enforce"
    SHADOW = "shadow"


class RiskLevel(StrEnum):
    """Ordered agent risk levels; compare with :func:`risk_rank`."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"
    CRITICAL = "critical"


RISK_ORDER: tuple[RiskLevel, ...] = (
    RiskLevel.LOW,
    RiskLevel.MEDIUM,
    RiskLevel.HIGH,
    RiskLevel.CRITICAL,
)


def risk_rank(level: str) -> int:
    """Position of ``level`` in :data:`RISK_ORDER`; raises ``ValueError`` if unknown."""
    return RISK_ORDER.index(RiskLevel(level))


class ReasonCode(StrEnum):
    """Machine-readable reasons. Callers may see the code; operators see the message too."""

    ALLOWED = "allowed"
    NO_POLICY = "no_policy"
    UNKNOWN_AGENT = "unknown_agent"
    NO_MATCHING_RULE = "no_matching_rule"
    FORBIDDEN = "forbidden"
    CONSTRAINT_FAILED = "constraint_failed"
    CONDITION_FAILED = "condition_failed"
    INDETERMINATE = "indeterminate"
    APPROVAL_REQUIRED = "approval_required"
    GRANT_REQUIRED = "grant_required"
    GRANT_EXPIRED = "grant_expired"
    APPROVED_GRANT_REQUIRED = "approved_grant_required"
    QUOTA_EXCEEDED = "quota_exceeded"
    EVALUATION_ERROR = "evaluation_error"
    INVALID_REQUEST = "invalid_request"
    AGENT_INACTIVE = "agent_inactive"


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a decision came out as it did: a stable code, a human sentence and the rule."""

    code: ReasonCode
    message: str
    rule_id: str | None = None

    def to_dict(self) -> dict[str, str | None]:
        return {"code": self.code.value, "message": self.message, "rule_id": self.rule_id}


@dataclass(frozen=True, slots=True)
class Grant:
    """A run-time permission for one task: data handed to the evaluator, never engine state.

    ``permission`` names a ``task`` or ``elevated`` permission of the agent's blueprint
    (or an ancestor). An ``elevated`` permission is only usable when ``approved_by`` names
    the human who approved the grant.
    """

    id: str
    agent: str
    permission: str
    expires_at: datetime
    justification: str
    issued_at: datetime | None = None
    approved_by: str | None = None


@dataclass(frozen=True, slots=True)
class Context:
    """Facts about the circumstances of a request, supplied by the caller or the service.

    ``delegation`` is the chain of principals the agent acts for, outermost first: for
    user X -> agent A -> agent B calling a tool, B's request carries
    ``("user:X", "A")`` and ``acting_for`` is ``"X"``.
    """

    source_ip: str | None = None
    acting_for: str | None = None
    delegation: tuple[str, ...] = ()
    risk: str | None = None
    attributes: Mapping[str, Any] = field(default_factory=lambda: _EMPTY_MAPPING)


EMPTY_CONTEXT = Context()


@dataclass(frozen=True, slots=True)
class Request:
    """One question for the engine: may ``agent`` call ``tool`` with ``args`` at ``now``?

    ``usage`` maps a quota key (see :class:`QuotaCharge`) to what was already used in the
    current window; the store keeps the counters, the engine only reads them.
    """

    agent: str
    tool: str
    args: Mapping[str, Any]
    now: datetime
    server: str | None = None
    context: Context = EMPTY_CONTEXT
    session_labels: frozenset[str] = frozenset()
    grants: tuple[Grant, ...] = ()
    usage: Mapping[str, float] = field(default_factory=lambda: _EMPTY_MAPPING)


@dataclass(frozen=True, slots=True)
class QuotaCharge:
    """What an allowed call would consume from one quota in the current window.

    The store applies charges atomically (check and increment in one step) so that two
    concurrent calls cannot both spend the last unit.
    """

    quota_id: str
    key: str
    amount: float
    limit: float
    window_seconds: int
    window_start: int


@dataclass(frozen=True, slots=True)
class ShadowOutcome:
    """What shadow-mode policies would have decided; reported, never enforced."""

    effect: Effect
    rule_ids: tuple[str, ...]
    reasons: tuple[Reason, ...]


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer: an effect, the rules that decided, why, and which policy set said so."""

    effect: Effect
    reasons: tuple[Reason, ...]
    rule_ids: tuple[str, ...] = ()
    policy_version: str = ""
    shadow: ShadowOutcome | None = None
    charges: tuple[QuotaCharge, ...] = ()
    approval_id: str | None = None

    @property
    def allowed(self) -> bool:
        return self.effect is Effect.ALLOW

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(r.code.value for r in self.reasons)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready form for logs, the CLI and the HTTP API."""
        out: dict[str, Any] = {
            "allowed": self.allowed,
            "effect": self.effect.value,
            "rule_ids": list(self.rule_ids),
            "reasons": [r.to_dict() for r in self.reasons],
            "policy_version": self.policy_version,
        }
        if self.shadow is not None:
            out["shadow"] = {
                "effect": self.shadow.effect.value,
                "rule_ids": list(self.shadow.rule_ids),
                "reasons": [r.to_dict() for r in self.shadow.reasons],
            }
        if self.approval_id is not None:
            out["approval_id"] = self.approval_id
        return out


def deny(code: ReasonCode, message: str, *, policy_version: str = "") -> Decision:
    """A deny decision with one reason; the shape every error path returns."""
    return Decision(Effect.DENY, (Reason(code, message),), (), policy_version)
