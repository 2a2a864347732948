"""What the audit log records: one event per decision and per lifecycle change.

Events are frozen so that what the decision path handed over is what gets hashed. Raw
tool-call arguments never live on an event: :meth:`DecisionEvent.from_decision` computes
the argument digest over the raw arguments and keeps only the redacted copy.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ztgate.audit.canonical import to_jsonable
from ztgate.audit.redact import DEFAULT_REDACTION, RedactionPolicy
from ztgate.core.models import EMPTY_CONTEXT, Context, Decision, Request
from ztgate.errors import AuditError

EVENT_DECISION = "decision"
EVENT_LIFECYCLE = "lifecycle"


class LifecycleKind(StrEnum):
    """Every governance change that must be provable after the fact."""

    AGENT_CREATED = "agent_created"
    AGENT_UPDATED = "agent_updated"
    AGENT_SUSPENDED = "agent_suspended"
    AGENT_RESUMED = "agent_resumed"
    AGENT_DECOMMISSIONED = "agent_decommissioned"
    GRANT_REQUESTED = "grant_requested"
    GRANT_APPROVED = "grant_approved"
    GRANT_DENIED = "grant_denied"
    GRANT_RELEASED = "grant_released"
    APPROVAL_REQUESTED = "approval_requested"
    APPROVAL_DECIDED = "approval_decided"
    POLICY_ACTIVATED = "policy_activated"
    KEY_ROTATED = "key_rotated"
    TOKEN_ISSUED = "token_issued"  # noqa: S105 - an event name, not a secret
    TOKEN_REVOKED = "token_revoked"  # noqa: S105
    KILL_SWITCH = "kill_switch"
    ANOMALY_DETECTED = "anomaly_detected"
    AUDIT_STARTED = "audit_started"


def to_utc(value: datetime) -> datetime:
    """``value`` in UTC; a naive time is refused (its zone would be a guess)."""
    if value.tzinfo is None:
        raise AuditError("event time must be timezone-aware")
    return value.astimezone(UTC)


_utc = to_utc


def format_time(value: datetime) -> str:
    """RFC 3339 UTC with microseconds and a ``Z``: one spelling, so hashes are stable.

    ``isoformat`` pads the year to four digits and, in UTC, always ends in ``+00:00``.
    """
    if value.tzinfo is not UTC:
        value = to_utc(value)
    return value.isoformat(timespec="microseconds")[:-6] + "Z"


def _as_is(value: Any) -> Any:
    return value


def parse_time(text: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise AuditError(f"invalid time `{text}`") from error
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class DecisionEvent:
    """One authorization decision, with everything an investigator needs.

    ``findings`` are plain dicts from the scanners (already secret-masked when built by
    :meth:`from_decision`); ``reasons`` keep the operator-facing messages that callers
    never see.
    """

    agent: str
    tool: str
    effect: str
    time: datetime
    request_id: str
    args_digest: str
    args: Mapping[str, Any] = field(default_factory=dict)
    server: str | None = None
    session_id: str | None = None
    acting_for: str | None = None
    delegation: tuple[str, ...] = ()
    source_ip: str | None = None
    rule_ids: tuple[str, ...] = ()
    reasons: tuple[Mapping[str, Any], ...] = ()
    findings: tuple[Mapping[str, Any], ...] = ()
    policy_version: str = ""
    latency_us: int = 0
    approval_id: str | None = None
    shadow: Mapping[str, Any] | None = None
    # Set by the factories, whose output is already plain JSON data, so that encoding
    # does not walk it a second time on the hot path.
    plain: bool = field(default=False, repr=False, compare=False)

    type = EVENT_DECISION

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(str(r.get("code", "")) for r in self.reasons)

    @classmethod
    def from_decision(
        cls,
        request: Request,
        decision: Decision,
        *,
        request_id: str,
        latency_us: int = 0,
        session_id: str | None = None,
        findings: Sequence[Mapping[str, Any]] = (),
        redaction: RedactionPolicy = DEFAULT_REDACTION,
        time: datetime | None = None,
    ) -> DecisionEvent:
        """Build the event for ``decision`` on ``request``: the one call the gate makes.

        The digest covers the raw arguments; only the redacted copy is kept.
        """
        return cls.from_call(
            agent=request.agent,
            tool=request.tool,
            args=request.args,
            decision=decision,
            time=time if time is not None else request.now,
            request_id=request_id,
            server=request.server,
            context=request.context,
            session_id=session_id,
            latency_us=latency_us,
            findings=findings,
            redaction=redaction,
        )

    @classmethod
    def from_call(
        cls,
        *,
        agent: str,
        tool: str,
        args: Mapping[str, Any] | None,
        decision: Decision,
        time: datetime,
        request_id: str,
        server: str | None = None,
        context: Context | None = None,
        session_id: str | None = None,
        latency_us: int = 0,
        findings: Sequence[Mapping[str, Any]] = (),
        redaction: RedactionPolicy = DEFAULT_REDACTION,
    ) -> DecisionEvent:
        """Same as :meth:`from_decision` from the call's parts, for callers (like
        ``Gate.authorize``) that never build a :class:`Request`."""
        shadow = None
        if decision.shadow is not None:
            shadow = {
                "effect": decision.shadow.effect.value,
                "rule_ids": list(decision.shadow.rule_ids),
                "reasons": [r.to_dict() for r in decision.shadow.reasons],
            }
        ctx = context if context is not None else EMPTY_CONTEXT
        raw_args: Mapping[str, Any] = args if args is not None else {}
        return cls(
            agent=agent,
            tool=tool,
            effect=decision.effect.value,
            time=time,
            request_id=request_id,
            args_digest=redaction.digest(raw_args),
            args=redaction.redact_args(raw_args),
            server=server,
            session_id=session_id,
            acting_for=ctx.acting_for,
            delegation=tuple(ctx.delegation),
            source_ip=ctx.source_ip,
            rule_ids=tuple(decision.rule_ids),
            reasons=tuple(
                {
                    "code": r.code.value,
                    "message": redaction.redact_text(r.message),
                    "rule_id": r.rule_id,
                }
                for r in decision.reasons
            ),
            findings=tuple(redaction.redact_value(f) for f in findings),
            policy_version=decision.policy_version,
            latency_us=int(latency_us),
            approval_id=decision.approval_id,
            shadow=redaction.redact_value(shadow) if shadow is not None else None,
            plain=True,
        )

    def to_dict(self) -> dict[str, Any]:
        convert = _as_is if self.plain else to_jsonable
        out: dict[str, Any] = {
            "agent": self.agent,
            "tool": self.tool,
            "effect": str(self.effect),
            "time": format_time(self.time),
            "request_id": self.request_id,
            "args_digest": self.args_digest,
            "args": convert(self.args),
            "server": self.server,
            "session_id": self.session_id,
            "acting_for": self.acting_for,
            "delegation": list(self.delegation),
            "source_ip": self.source_ip,
            "rule_ids": list(self.rule_ids),
            "reasons": convert(list(self.reasons)),
            "findings": convert(list(self.findings)),
            "policy_version": self.policy_version,
            "latency_us": int(self.latency_us),
            "approval_id": self.approval_id,
            "shadow": convert(self.shadow),
        }
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DecisionEvent:
        try:
            return cls(
                agent=str(data["agent"]),
                tool=str(data["tool"]),
                effect=str(data["effect"]),
                time=parse_time(str(data["time"])),
                request_id=str(data["request_id"]),
                args_digest=str(data["args_digest"]),
                args=dict(data.get("args") or {}),
                server=data.get("server"),
                session_id=data.get("session_id"),
                acting_for=data.get("acting_for"),
                delegation=tuple(data.get("delegation") or ()),
                source_ip=data.get("source_ip"),
                rule_ids=tuple(data.get("rule_ids") or ()),
                reasons=tuple(data.get("reasons") or ()),
                findings=tuple(data.get("findings") or ()),
                policy_version=str(data.get("policy_version") or ""),
                latency_us=int(data.get("latency_us") or 0),
                approval_id=data.get("approval_id"),
                shadow=data.get("shadow"),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AuditError(f"malformed decision event: {error}") from error


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    """A governance change: who (``actor``) did what (``kind``) to which ``subject``."""

    kind: LifecycleKind
    actor: str
    subject: str
    time: datetime
    details: Mapping[str, Any] = field(default_factory=dict)

    type = EVENT_LIFECYCLE

    @classmethod
    def create(
        cls,
        kind: LifecycleKind | str,
        *,
        actor: str,
        subject: str,
        time: datetime,
        details: Mapping[str, Any] | None = None,
        redaction: RedactionPolicy = DEFAULT_REDACTION,
    ) -> LifecycleEvent:
        """Build a lifecycle event with its details secret-masked."""
        try:
            kind = LifecycleKind(kind)
        except ValueError as error:
            raise AuditError(f"unknown lifecycle kind `{kind}`") from error
        return cls(kind, actor, subject, time, redaction.redact_value(dict(details or {})))

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": LifecycleKind(self.kind).value,
            "actor": self.actor,
            "subject": self.subject,
            "time": format_time(self.time),
            "details": to_jsonable(self.details),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> LifecycleEvent:
        try:
            return cls(
                kind=LifecycleKind(data["kind"]),
                actor=str(data["actor"]),
                subject=str(data["subject"]),
                time=parse_time(str(data["time"])),
                details=dict(data.get("details") or {}),
            )
        except (KeyError, TypeError, ValueError) as error:
            raise AuditError(f"malformed lifecycle event: {error}") from error


AuditEvent = DecisionEvent | LifecycleEvent


def event_from_record(record_type: str, data: Mapping[str, Any]) -> AuditEvent:
    if record_type == EVENT_DECISION:
        return DecisionEvent.from_dict(data)
    if record_type == EVENT_LIFECYCLE:
        return LifecycleEvent.from_dict(data)
    raise AuditError(f"unknown record type `{record_type}`")
