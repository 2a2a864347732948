"""The one seam between the gateway and the decision path.

The relay never decides anything itself: it asks an :class:`Authorizer` whether a tool
call may proceed and what to do with content coming back. :class:`GateAuthorizer` is the
implementation over the service pipeline (:class:`~ztgate.service.pipeline.Pipeline`:
conditional access, argument scan, decision, approvals, quota charges, audit), with the
policy of a :class:`~ztgate.Gate`, guard as the scanner and the agent registry for
standing. The gateway adds only what is specific to MCP: pins, description scanning,
refusals it decides itself and approvals answered in-band through elicitation.

Every method fails closed: an error while deciding or auditing is a deny.
"""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ztgate.audit import AuditLog, DecisionEvent, LifecycleKind
from ztgate.core.models import Context, Effect, Reason, ReasonCode
from ztgate.gateway.inspect import FindingRecord, Inspection, Inspector
from ztgate.gateway.metrics import Metrics
from ztgate.gateway.visibility import may_ever_call
from ztgate.service.approvals import ApprovalService
from ztgate.service.gate import Gate
from ztgate.service.memory import MemoryState, new_id
from ztgate.service.pipeline import Call, Pipeline
from ztgate.service.scan import ScanVerdict

log = logging.getLogger("ztgate.gateway")

UNTRUSTED_LABEL = "untrusted_content_seen"

OutcomeEffect = Literal["allow", "deny", "approval_required"]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is calling through the gateway, as authenticated by the transport."""

    agent: str
    session: str
    delegation: tuple[str, ...] = ()
    acting_for: str | None = None
    source_ip: str | None = None
    scopes: frozenset[str] = frozenset()

    def context(self) -> Context:
        return Context(
            source_ip=self.source_ip, acting_for=self.acting_for, delegation=self.delegation
        )


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What to do with one tool call. ``code`` is the only detail a caller sees."""

    effect: OutcomeEffect
    code: str
    request_id: str
    approval_id: str | None = None
    forward_args: Mapping[str, Any] | None = None  # redacted arguments to send instead

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"


class Authorizer(Protocol):
    """Decides for the gateway. Implementations must never raise and never allow on error."""

    def may_ever_call(self, caller: Caller, server: str, tool: str) -> bool:
        """Could any rule allow (or ask approval for) this tool for this caller?"""
        ...

    def authorize_call(
        self, caller: Caller, server: str, tool: str, args: Mapping[str, Any]
    ) -> CallOutcome:
        """The full decision for one ``tools/call``, audited."""
        ...

    def refuse(
        self,
        caller: Caller,
        server: str,
        tool: str,
        args: Mapping[str, Any],
        code: str,
        detail: str,
        findings: Sequence[FindingRecord] = (),
    ) -> CallOutcome:
        """A refusal decided by the gateway itself (changed pin, poisoned tool), audited."""
        ...

    def approval_answered(
        self,
        caller: Caller,
        server: str,
        tool: str,
        args: Mapping[str, Any],
        pending: CallOutcome,
        *,
        approved: bool,
        by: str,
    ) -> CallOutcome:
        """A human answered a pending approval (through MCP elicitation)."""
        ...

    def inspect_description(
        self, server: str, tool: str, definition: Mapping[str, Any]
    ) -> Inspection:
        """Scan a tool's advertised definition; ``block`` means poisoned."""
        ...

    def inspect_output(self, caller: Caller, server: str, source: str, content: Any) -> Inspection:
        """Scan content returned by a tool, resource or prompt; labels the session."""
        ...


@dataclass
class AgentStatusCache:
    """Whether an agent is active in the registry, re-read at most every ``ttl`` seconds.

    ``lookup`` returns True for an active agent; it raising or returning False refuses.
    """

    lookup: Callable[[str], bool]
    ttl: float = 1.0
    _seen: dict[str, tuple[bool, float]] = field(default_factory=dict)

    def active(self, agent: str) -> bool:
        now = time.monotonic()
        cached = self._seen.get(agent)
        if cached is not None and now - cached[1] < self.ttl:
            return cached[0]
        try:
            state = bool(self.lookup(agent))
        except Exception:  # fail closed: a registry we cannot read refuses
            log.warning("agent status lookup failed for %s; refusing", agent, exc_info=True)
            state = False
        self._seen[agent] = (state, now)
        return state


def _utcnow() -> datetime:
    return datetime.now(UTC)


class GateAuthorizer:
    """:class:`Authorizer` over :class:`Gate` + :class:`AuditLog` + the agent registry."""

    def __init__(
        self,
        gate: Gate,
        *,
        audit: AuditLog | None = None,
        inspector: Inspector | None = None,
        agent_status: AgentStatusCache | None = None,
        metrics: Metrics | None = None,
        approvals: ApprovalService | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.gate = gate
        self.audit = audit
        self.inspector = inspector if inspector is not None else Inspector()
        self.agent_status = agent_status
        self.metrics = metrics if metrics is not None else Metrics()
        self._clock = clock
        self.state = MemoryState()
        self.pipeline = Pipeline(
            state=self.state,
            policy=lambda: gate.policy,
            standing=self._standing if agent_status is not None else None,
            scanner=InspectorScanner(self.inspector),
            audit=audit,
            approvals=approvals,
            clock=clock,
        )

    def _standing(self, agent: str, now: datetime) -> Reason | None:
        status = self.agent_status
        if status is not None and not status.active(agent):
            return Reason(ReasonCode.AGENT_INACTIVE, f"agent `{agent}` is not active")
        return None

    # -- audit -----------------------------------------------------------------------------

    def _audit(self, event: DecisionEvent) -> bool:
        if self.audit is None:
            return True
        try:
            self.audit.append(event)
        except Exception:  # an unrecorded decision must not take effect
            log.exception("audit append failed; the call is refused")
            return False
        return True

    def _event(
        self,
        caller: Caller,
        server: str,
        tool: str,
        args: Mapping[str, Any],
        effect: str,
        reasons: Sequence[Mapping[str, Any]],
        *,
        request_id: str,
        rule_ids: Sequence[str] = (),
        findings: Sequence[FindingRecord] = (),
        policy_version: str = "",
        latency_us: int = 0,
        approval_id: str | None = None,
    ) -> DecisionEvent:
        redaction = self.audit.redaction if self.audit is not None else None
        return DecisionEvent(
            agent=caller.agent,
            tool=tool,
            effect=effect,
            time=self._clock(),
            request_id=request_id,
            args_digest=redaction.digest(args) if redaction is not None else "",
            args=redaction.redact_args(args) if redaction is not None else {},
            server=server,
            session_id=caller.session,
            acting_for=caller.acting_for,
            delegation=caller.delegation,
            source_ip=caller.source_ip,
            rule_ids=tuple(rule_ids),
            reasons=tuple(
                redaction.redact_value(dict(r)) if redaction is not None else dict(r)
                for r in reasons
            ),
            findings=tuple(dict(f) for f in findings),
            policy_version=policy_version,
            latency_us=latency_us,
            approval_id=approval_id,
        )

    # -- decisions ---------------------------------------------------------------------------

    def may_ever_call(self, caller: Caller, server: str, tool: str) -> bool:
        if self._standing(caller.agent, self._clock()) is not None:
            return False
        return may_ever_call(self.gate.policy, caller.agent, server, tool)

    def authorize_call(
        self, caller: Caller, server: str, tool: str, args: Mapping[str, Any]
    ) -> CallOutcome:
        try:
            call = Call(
                tool,
                args,
                caller.agent,
                caller.session,
                server,
                caller.context(),
                None,
                caller.source_ip,
            )
            outcome = self.pipeline.authorize(call)
            effect = outcome.effect.value
            code = outcome.public_reason
            approval_id = outcome.approval_id
            if outcome.effect is Effect.APPROVAL_REQUIRED and approval_id is None:
                # No approval queue configured: the id names this request for the
                # in-band answer and the audit trail.
                approval_id = new_id("apr")
                self._lifecycle(
                    LifecycleKind.APPROVAL_REQUESTED,
                    caller,
                    approval_id,
                    {"server": server, "tool": tool, "request_id": outcome.request_id},
                )
            self.metrics.count(server, tool, effect, code)
            self.metrics.observe(server, outcome.latency_us)
            forward = outcome.redacted_args if outcome.redacted_args != args else None
            return CallOutcome(effect, code, outcome.request_id, approval_id, forward)  # type: ignore[arg-type]
        except Exception:
            log.exception("authorization failed; denied")
            self.metrics.count(server, tool, "deny", "evaluation_error")
            return CallOutcome("deny", "evaluation_error", "")

    def _lifecycle(
        self, kind: LifecycleKind, caller: Caller, subject: str, details: Mapping[str, Any]
    ) -> None:
        if self.audit is None:
            return
        self.audit.record_lifecycle(
            kind,
            actor=caller.agent,
            subject=subject,
            details={**details, "session": caller.session, "delegation": list(caller.delegation)},
        )

    def refuse(
        self,
        caller: Caller,
        server: str,
        tool: str,
        args: Mapping[str, Any],
        code: str,
        detail: str,
        findings: Sequence[FindingRecord] = (),
    ) -> CallOutcome:
        request_id = uuid.uuid4().hex
        try:
            event = self._event(
                caller,
                server,
                tool,
                args,
                "deny",
                [{"code": code, "message": detail, "rule_id": None}],
                request_id=request_id,
                findings=findings,
                policy_version=self.gate.policy_version or "",
            )
            self._audit(event)
        except Exception:
            log.exception("could not audit a refusal")
        self.metrics.count(server, tool, "deny", code)
        return CallOutcome("deny", code, request_id)

    def approval_answered(
        self,
        caller: Caller,
        server: str,
        tool: str,
        args: Mapping[str, Any],
        pending: CallOutcome,
        *,
        approved: bool,
        by: str,
    ) -> CallOutcome:
        try:
            self._lifecycle(
                LifecycleKind.APPROVAL_DECIDED,
                caller,
                pending.approval_id or pending.request_id,
                {"approved": approved, "by": by, "server": server, "tool": tool},
            )
            effect = "allow" if approved else "deny"
            code = "approved_by_human" if approved else "approval_denied"
            event = self._event(
                caller,
                server,
                tool,
                args,
                effect,
                [{"code": code, "message": f"approval answered by {by}", "rule_id": None}],
                request_id=pending.request_id,
                policy_version=self.gate.policy_version or "",
                approval_id=pending.approval_id,
            )
            if not self._audit(event):
                return CallOutcome("deny", "audit_unavailable", pending.request_id)
            self.metrics.count(server, tool, effect, code)
            return CallOutcome(effect, code, pending.request_id, pending.approval_id)  # type: ignore[arg-type]
        except Exception:
            log.exception("approval handling failed; denied")
            return CallOutcome("deny", "evaluation_error", pending.request_id)

    # -- content -------------------------------------------------------------------------------

    def inspect_description(
        self, server: str, tool: str, definition: Mapping[str, Any]
    ) -> Inspection:
        try:
            return self.inspector.description(tool, definition)
        except Exception:  # a description that cannot be scanned is not trusted
            log.exception("description scan failed; tool blocked")
            return Inspection("block")

    def inspect_output(self, caller: Caller, server: str, source: str, content: Any) -> Inspection:
        try:
            outcome = self.pipeline.inspect_output(
                agent=caller.agent,
                tool=source,
                output=content,
                session=caller.session,
                server=server,
            )
        except Exception:
            log.exception("output scan failed; withheld")
            return Inspection("block")
        if outcome.findings:
            self.metrics.count(server, source, "output", outcome.effect.value)
        if not outcome.allowed:
            return Inspection("block", outcome.findings, outcome.labels_added)
        if outcome.output != content:
            return Inspection("redact", outcome.findings, outcome.labels_added, outcome.output)
        return Inspection("pass", outcome.findings, outcome.labels_added, content)


class InspectorScanner:
    """The pipeline's scanner: guard through the gateway's :class:`Inspector` (its guard
    policy and the directions switched on); raises on failure so the pipeline denies."""

    def __init__(self, inspector: Inspector) -> None:
        self.inspector = inspector

    def scan(self, tool: str, direction: str, content: Any) -> ScanVerdict:
        if direction == "arguments":
            found = self.inspector.call_arguments(tool, content)
        elif direction == "outputs":
            found = self.inspector.output(tool, content)
        else:
            found = self.inspector.description(tool, content)
        effect = {
            "block": Effect.DENY,
            "approval": Effect.APPROVAL_REQUIRED,
        }.get(found.action, Effect.ALLOW)
        rules = tuple(dict.fromkeys(f"guard:{f['rule']}" for f in found.findings if "rule" in f))
        output = found.content if found.content is not None else content
        return ScanVerdict(
            effect,
            output,
            labels=found.labels,
            findings=found.findings,
            rule_ids=rules,
            redacted=found.action == "redact",
        )
