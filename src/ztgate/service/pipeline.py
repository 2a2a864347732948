"""The one decision pipeline every way in shares: SDK, HTTP API, MCP gateway and CLI.

``Pipeline.authorize(call)`` runs, in order:

1. **authenticate** - an optional bearer access token is verified completely
   (``TokenVerifier``); the verified principal names the agent and its delegation chain,
   which override anything the caller claimed. A claimed agent that differs from the
   token's is refused;
2. **conditional access** - the agent's standing *at decision time* (registered, status,
   expiry, risk, attestation, kill switches), from a cache every replica invalidates;
3. **scan** - the arguments go through the configured :class:`Scanner`;
4. **decide** - the pure engine, with grants, session labels and quota usage as arguments;
   a scanner verdict can only make the effect stricter;
5. **approvals** - an ``approval_required`` effect is resolved against the approval bound
   to this exact call (consumed once when approved, else pending with its id);
6. **charge** - quota charges of an allowed call are applied atomically in the state;
7. **audit** - one decision record with the operator detail (reasons, findings, redacted
   arguments). A failed audit append turns the decision into a deny.

After the tool ran, :meth:`Pipeline.inspect_output` scans its output, labels the session
(for example ``untrusted_content_seen``) and says whether the output may be used.

Nothing here raises on a request: every failure is a deny with a reason code, and the
detail goes to the audit log, never to the caller.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from ztgate.audit import AuditLog, DecisionEvent
from ztgate.core.models import (
    EMPTY_CONTEXT,
    Context,
    Decision,
    Effect,
    Grant,
    QuotaCharge,
    Reason,
    ReasonCode,
)
from ztgate.core.policy import CompiledPolicy, decide
from ztgate.core.policy.evaluate import no_policy_decision
from ztgate.errors import RejectedError
from ztgate.identity.verify import TokenVerifier, VerifiedPrincipal
from ztgate.service.approvals import ApprovalService
from ztgate.service.scan import NO_SCANNER, Scanner, ScanVerdict, stricter

_NO_LABELS: frozenset[str] = frozenset()
_EMPTY: Mapping[str, Any] = MappingProxyType({})


# A C-level callable: the clock is read on every decision.
utc_now: Callable[[], datetime] = functools.partial(datetime.now, UTC)

# The optional stages; when none is configured, in-process calls take the short path.
_STAGE_ATTRIBUTES = frozenset(
    {"verifier", "require_token", "standing", "scanner", "audit", "listeners"}
)


_ID_PREFIX = os.urandom(6).hex()
_ID_COUNTER = itertools.count(1)


def new_request_id() -> str:
    """A request id unique across processes: a random per-process prefix and a counter.

    Correlation ids need uniqueness, not secrecy; reading the OS entropy pool for each
    one costs more than the whole decision on a busy machine.
    """
    return f"{_ID_PREFIX}{next(_ID_COUNTER):012x}"


class DecisionState(Protocol):
    """Where grants, session labels and quota counters live (memory or the store)."""

    @property
    def usage(self) -> Mapping[str, float]: ...

    def grants_for(self, agent: str) -> tuple[Grant, ...]: ...

    def labels(self, session: str) -> frozenset[str]: ...

    def add_labels(self, session: str, labels: frozenset[str], now: datetime) -> None: ...

    def apply_charges(self, charges: tuple[QuotaCharge, ...]) -> str | None: ...


PolicySource = Callable[[], CompiledPolicy | None]
Standing = Callable[[str, datetime], Reason | None]


class Call(NamedTuple):
    """One tool call to authorize. ``unverified_token`` is the agent's bearer token.

    (A named tuple rather than a frozen dataclass: immutable and an order of magnitude
    cheaper to build on the hot path.)
    """

    tool: str
    args: Mapping[str, Any] = _EMPTY
    agent: str | None = None
    session: str | None = None
    server: str | None = None
    context: Context | Mapping[str, Any] | None = None
    unverified_token: str | None = None
    source_ip: str | None = None
    request_id: str | None = None
    now: datetime | None = None


class Outcome(NamedTuple):
    """The pipeline's answer. ``decision`` carries operator detail: show callers only
    :attr:`public_reason`. ``redacted_args`` are the arguments as the scanner left them
    (what a proxy should forward when the scanner redacts)."""

    decision: Decision
    request_id: str
    agent: str
    redacted_args: Mapping[str, Any]
    findings: tuple[Mapping[str, Any], ...] = ()
    principal: VerifiedPrincipal | None = None
    latency_us: int = 0

    @property
    def allowed(self) -> bool:
        return self.decision.allowed

    @property
    def effect(self) -> Effect:
        return self.decision.effect

    @property
    def approval_id(self) -> str | None:
        return self.decision.approval_id

    @property
    def public_reason(self) -> str:
        """The one reason code a caller may learn."""
        reasons = self.decision.reasons
        return reasons[0].code.value if reasons else ReasonCode.EVALUATION_ERROR.value


@dataclass(frozen=True, slots=True)
class OutputOutcome:
    """Whether a tool's output may be used, the output with redactions, labels added."""

    allowed: bool
    effect: Effect
    output: Any
    labels_added: frozenset[str]
    findings: tuple[Mapping[str, Any], ...] = ()


Listener = Callable[[Outcome], None]


def _deny(code: ReasonCode, message: str, version: str = "", rule: str | None = None) -> Decision:
    return Decision(Effect.DENY, (Reason(code, message, rule),), (rule,) if rule else (), version)


def context_from(value: Context | Mapping[str, Any] | None) -> Context:
    """Accept a :class:`Context` or a plain mapping with the same field names."""
    if value is None:
        return EMPTY_CONTEXT
    if isinstance(value, Context):
        return value
    if not isinstance(value, Mapping):
        raise TypeError("context must be a Context or a mapping")
    unknown = set(value) - {"source_ip", "acting_for", "delegation", "risk", "attributes"}
    if unknown:
        raise TypeError(f"unknown context keys: {sorted(unknown)}")
    return Context(
        source_ip=value.get("source_ip"),
        acting_for=value.get("acting_for"),
        delegation=tuple(value.get("delegation", ())),
        risk=value.get("risk"),
        attributes=value.get("attributes", {}),
    )


class Pipeline:
    """authenticate → conditional access → scan → decide → approvals → charge → audit."""

    _plain: bool

    def __init__(
        self,
        *,
        state: DecisionState,
        policy: PolicySource,
        standing: Standing | None = None,
        verifier: TokenVerifier | None = None,
        scanner: Scanner = NO_SCANNER,
        audit: AuditLog | None = None,
        approvals: ApprovalService | None = None,
        clock: Callable[[], datetime] = utc_now,
        require_token: bool = False,
        listeners: tuple[Listener, ...] = (),
    ) -> None:
        self.state = state
        self.policy = policy
        self.standing = standing
        self.verifier = verifier
        self.scanner = scanner
        self.audit = audit
        self.approvals = approvals
        self.clock = clock
        self.require_token = require_token
        self.listeners = listeners

    # -- before the tool runs --------------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        # Stages can be configured after construction (the server adds a metrics listener);
        # keep the "nothing but decide" flag of :meth:`authorize_local` in step.
        object.__setattr__(self, name, value)
        if name in _STAGE_ATTRIBUTES:
            object.__setattr__(
                self,
                "_plain",
                getattr(self, "verifier", None) is None
                and not getattr(self, "require_token", False)
                and getattr(self, "standing", None) is None
                and getattr(self, "scanner", NO_SCANNER) is NO_SCANNER
                and getattr(self, "audit", None) is None
                and not getattr(self, "listeners", ()),
            )

    def authorize(self, call: Call) -> Outcome:
        """Decide ``call``; never raises."""
        audit = self.audit
        # Latency is only reported to the audit log and listeners; skip the clock otherwise.
        timed = audit is not None or bool(self.listeners)
        started = time.perf_counter_ns() if timed else 0
        # Without an audit log nothing refers to the id: do not pay for minting one.
        request_id = call.request_id or (new_request_id() if audit is not None else "")
        now = call.now if call.now is not None else self.clock()
        agent = call.agent or ""
        args: Mapping[str, Any] = call.args if call.args is not None else _EMPTY
        ctx = EMPTY_CONTEXT
        principal: VerifiedPrincipal | None = None
        findings: tuple[Mapping[str, Any], ...] = ()
        redacted: Mapping[str, Any] = args
        version = ""
        try:
            raw_context = call.context
            if raw_context is not None:
                ctx = raw_context if type(raw_context) is Context else context_from(raw_context)
            decision, principal, agent, ctx, findings, redacted, version = self._decide(
                call, agent, args, ctx, now
            )
        except Exception as error:  # fail closed: any failure is a deny
            decision = _deny(
                ReasonCode.EVALUATION_ERROR,
                f"the request could not be evaluated ({type(error).__name__}); denied",
                version,
            )
        latency = (time.perf_counter_ns() - started) // 1000 if timed else 0
        if audit is not None:
            decision = self._record(
                call, agent, args, ctx, now, decision, request_id, latency, findings
            )
        outcome = Outcome(decision, request_id, agent, redacted, findings, principal, latency)
        if self.listeners:
            for listener in self.listeners:
                with contextlib.suppress(Exception):  # metrics never change a decision
                    listener(outcome)
        return outcome

    def _decide(
        self, call: Call, agent: str, args: Mapping[str, Any], ctx: Context, now: datetime
    ) -> tuple[
        Decision,
        VerifiedPrincipal | None,
        str,
        Context,
        tuple[Mapping[str, Any], ...],
        Mapping[str, Any],
        str,
    ]:
        principal: VerifiedPrincipal | None = None
        policy = self.policy()
        version = policy.version if policy is not None else ""
        none: tuple[Mapping[str, Any], ...] = ()
        # 1. authenticate
        if call.unverified_token is not None:
            if self.verifier is None:
                return (
                    _deny(ReasonCode.INVALID_REQUEST, "tokens are not accepted here", version),
                    None, agent, ctx, none, args, version,
                )  # fmt: skip
            try:
                principal = self.verifier.verify_access_token(
                    call.unverified_token, now=now, source_ip=call.source_ip or ctx.source_ip
                )
            except RejectedError as rejected:
                message = f"token rejected: {rejected.reason}"
                return (
                    _deny(ReasonCode.INVALID_REQUEST, message, version),
                    None, agent, ctx, none, args, version,
                )  # fmt: skip
            if agent and agent != principal.agent_id:
                return (
                    _deny(
                        ReasonCode.INVALID_REQUEST,
                        f"claimed agent `{agent}` differs from the token's `{principal.agent_id}`",
                        version,
                    ),
                    principal, agent, ctx, none, args, version,
                )  # fmt: skip
            agent = principal.agent_id
            ctx = Context(
                source_ip=call.source_ip or ctx.source_ip,
                acting_for=principal.acting_for,
                delegation=principal.delegation,
                risk=ctx.risk,
                attributes=ctx.attributes,
            )
        elif self.require_token:
            return (
                _deny(ReasonCode.INVALID_REQUEST, "an access token is required", version),
                None, agent, ctx, none, args, version,
            )  # fmt: skip
        elif call.source_ip is not None and ctx.source_ip is None:
            ctx = Context(call.source_ip, ctx.acting_for, ctx.delegation, ctx.risk, ctx.attributes)
        if not agent:
            return (
                _deny(ReasonCode.INVALID_REQUEST, "no agent named", version),
                principal, agent, ctx, none, args, version,
            )  # fmt: skip
        if policy is None:
            return no_policy_decision(), principal, agent, ctx, none, args, version
        # 2. conditional access at decision time
        if self.standing is not None:
            refused = self.standing(agent, now)
            if refused is not None:
                decision = Decision(Effect.DENY, (refused,), (), version)
                return decision, principal, agent, ctx, none, args, version
        # 3. scan the arguments
        state = self.state
        session = call.session
        verdict: ScanVerdict | None = None
        if self.scanner is not NO_SCANNER:
            verdict = self.scanner.scan(call.tool, "arguments", dict(args))
            if verdict.labels and session is not None:
                state.add_labels(session, verdict.labels, now)
        findings = verdict.findings if verdict is not None else none
        redacted = verdict.content if verdict is not None else args
        # 4. decide
        labels = state.labels(session) if session is not None else _NO_LABELS
        decision = decide(
            policy,
            agent,
            call.tool,
            args,
            now,
            call.server,
            ctx,
            labels,
            state.grants_for(agent),
            state.usage,
        )
        if verdict is not None and verdict.effect is not Effect.ALLOW:
            decision = _merge_scan(decision, verdict)
        decision = self._settle(call, agent, args, ctx, now, decision)
        return decision, principal, agent, ctx, findings, redacted, version

    def _settle(
        self,
        call: Call,
        agent: str,
        args: Mapping[str, Any],
        ctx: Context,
        now: datetime,
        decision: Decision,
    ) -> Decision:
        """Stages 5 and 6: an approval bound to this call, then the atomic quota charge."""
        if decision.effect is Effect.APPROVAL_REQUIRED:
            decision = self._approval(call, agent, args, ctx, now, decision)
        if decision.effect is Effect.ALLOW and decision.charges:
            overflow = self.state.apply_charges(decision.charges)
            if overflow is not None:
                decision = _deny(
                    ReasonCode.QUOTA_EXCEEDED,
                    f"quota `{overflow}` would be exceeded in this window",
                    decision.policy_version,
                    overflow,
                )
        return decision

    def authorize_local(
        self,
        agent: str,
        tool: str,
        args: Mapping[str, Any],
        session: str | None,
        server: str | None,
        context: Context | Mapping[str, Any] | None,
        now: datetime | None,
    ) -> Decision:
        """In-process :class:`Gate` calls: the same stages as :meth:`authorize`.

        When nothing is configured to authenticate, check standing, scan, audit or listen,
        those stages are empty, so this runs stage 4 (decide) and :meth:`_settle` directly
        and skips building a :class:`Call` and an :class:`Outcome` for every decision.
        Otherwise it is exactly :meth:`authorize`. Never raises.
        """
        if not self._plain:
            call = Call(tool, args, agent, session, server, context, None, None, None, now)
            return self.authorize(call).decision
        policy = self.policy()
        if policy is None:
            return no_policy_decision()
        try:
            when = now if now is not None else self.clock()
            ctx = (
                EMPTY_CONTEXT
                if context is None
                else context
                if type(context) is Context
                else context_from(context)
            )
            state = self.state
            labels = state.labels(session) if session is not None else _NO_LABELS
            decision = decide(
                policy,
                agent,
                tool,
                args,
                when,
                server,
                ctx,
                labels,
                state.grants_for(agent),
                state.usage,
            )
            if decision.effect is Effect.DENY or not (
                decision.charges or decision.effect is Effect.APPROVAL_REQUIRED
            ):
                return decision
            call = Call(tool, args, agent, session, server, context, None, None, None, when)
            return self._settle(call, agent, args, ctx, when, decision)
        except Exception as error:  # fail closed: any failure is a deny
            return _deny(
                ReasonCode.EVALUATION_ERROR,
                f"the request could not be evaluated ({type(error).__name__}); denied",
                policy.version,
            )

    def _approval(
        self,
        call: Call,
        agent: str,
        args: Mapping[str, Any],
        ctx: Context,
        now: datetime,
        decision: Decision,
    ) -> Decision:
        if self.approvals is None:
            return decision
        resolution = self.approvals.resolve(
            agent=agent,
            tool=call.tool,
            server=call.server,
            session=call.session,
            args=args,
            requested_by=ctx.acting_for or agent,
            now=now,
            detail={"rule_ids": list(decision.rule_ids)},
        )
        record = resolution.approval
        if resolution.approved:
            return Decision(
                Effect.ALLOW,
                (
                    Reason(
                        ReasonCode.ALLOWED,
                        f"approved by `{record.decided_by}` (approval `{record.id}`)",
                        decision.rule_ids[0] if decision.rule_ids else None,
                    ),
                ),
                decision.rule_ids,
                decision.policy_version,
                decision.shadow,
                decision.charges,
                record.id,
            )
        return Decision(
            decision.effect,
            decision.reasons,
            decision.rule_ids,
            decision.policy_version,
            decision.shadow,
            decision.charges,
            record.id,
        )

    def _record(
        self,
        call: Call,
        agent: str,
        args: Mapping[str, Any],
        ctx: Context,
        now: datetime,
        decision: Decision,
        request_id: str,
        latency_us: int,
        findings: tuple[Mapping[str, Any], ...],
    ) -> Decision:
        """Append the audit record; an audit failure turns the decision into a deny."""
        audit = self.audit
        if audit is None:
            return decision
        try:
            # record_call, not record_decision: no Request to build on the hot path
            audit.record_call(
                agent=agent or "<unknown>",
                tool=call.tool if isinstance(call.tool, str) else repr(call.tool),
                args=args if isinstance(args, Mapping) else {},
                decision=decision,
                request_id=request_id,
                now=now,
                server=call.server,
                context=ctx,
                session_id=call.session,
                latency_us=latency_us,
                findings=findings,
            )
        except Exception as error:
            return _deny(
                ReasonCode.EVALUATION_ERROR,
                f"the decision could not be audited ({type(error).__name__}); denied",
                decision.policy_version,
            )
        return decision

    # -- after the tool ran ----------------------------------------------------------------

    def inspect_output(
        self,
        *,
        agent: str,
        tool: str,
        output: Any,
        session: str | None = None,
        request_id: str | None = None,
        now: datetime | None = None,
        server: str | None = None,
    ) -> OutputOutcome:
        """Scan a tool's output; label the session; say whether the output may be used.

        Never raises: a failing scanner withholds the output. ``server`` names the MCP
        server the output came from, for the audit record.
        """
        when = now if now is not None else self.clock()
        try:
            verdict = self.scanner.scan(tool, "outputs", output)
            added = verdict.labels
            if added and session is not None:
                self.state.add_labels(session, added, when)
        except Exception as error:
            verdict = ScanVerdict(
                Effect.DENY,
                None,
                findings=({"error": f"output scan failed ({type(error).__name__})"},),
            )
            added = _NO_LABELS
        allowed = verdict.effect is Effect.ALLOW
        if verdict.findings and self.audit is not None:
            try:
                redaction = self.audit.redaction
                self.audit.append(
                    DecisionEvent(
                        agent=agent,
                        tool=tool,
                        effect=verdict.effect.value,
                        time=when,
                        request_id=request_id or new_request_id(),
                        args_digest="",
                        server=server,
                        session_id=session,
                        rule_ids=verdict.rule_ids,
                        reasons=({"code": "output_scanned", "message": "tool output scanned"},),
                        findings=tuple(redaction.redact_value(dict(f)) for f in verdict.findings),
                    )
                )
            except Exception:
                allowed = False  # without an audit trail the output is withheld
        return OutputOutcome(
            allowed=allowed,
            effect=verdict.effect if allowed else Effect.DENY,
            output=verdict.content if allowed else None,
            labels_added=added,
            findings=verdict.findings,
        )


def _merge_scan(decision: Decision, verdict: ScanVerdict) -> Decision:
    """A scanner verdict can only make a decision stricter, never looser."""
    effect = stricter(decision.effect, verdict.effect)
    if effect is decision.effect and decision.effect is not Effect.ALLOW:
        return decision
    rule = verdict.rule_ids[0] if verdict.rule_ids else "guard"
    code = ReasonCode.FORBIDDEN if effect is Effect.DENY else ReasonCode.APPROVAL_REQUIRED
    reason = Reason(code, f"the argument scan calls for `{verdict.effect.value}`", rule)
    return Decision(
        effect,
        (reason, *decision.reasons),
        (*verdict.rule_ids, *decision.rule_ids),
        decision.policy_version,
        decision.shadow,
        decision.charges if effect is Effect.APPROVAL_REQUIRED else (),
        decision.approval_id,
    )
