"""Evaluate a request against a :class:`CompiledPolicy` and combine the results.

Combining, in order:

1. an unknown agent, an invalid request or any internal error is a deny;
2. a forbid that applies (or cannot be evaluated) denies: a forbid always wins;
3. an approval rule that applies makes the outcome ``approval_required``; one that cannot
   be evaluated denies;
4. an allow rule whose every constraint and condition holds allows (task and elevated
   permissions also need a live grant, elevated ones an approved grant);
5. nothing allowed: deny (default deny);
6. an allow or approval outcome is then checked against the quotas that apply: a call
   that would exceed one is denied; otherwise the decision carries the charges the store
   must apply atomically.

Shadow-mode rules are evaluated together with the enforced ones and reported in
``Decision.shadow``; they never change the enforced outcome.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from ztgate.core.canon.text import canonical_string
from ztgate.core.models import (
    EMPTY_CONTEXT,
    Context,
    Decision,
    Effect,
    Grant,
    QuotaCharge,
    Reason,
    ReasonCode,
    Request,
    ShadowOutcome,
)
from ztgate.core.policy.ast import Tier
from ztgate.core.policy.compile import AgentEntry, CompiledPolicy, CompiledQuota, CompiledRule
from ztgate.errors import CanonicalizationError

MAX_TOOL_NAME = 256
_FAILED = ReasonCode.CONSTRAINT_FAILED
_DENY = Effect.DENY
_APPROVAL = Effect.APPROVAL_REQUIRED
_TASK = Tier.TASK
_ELEVATED = Tier.ELEVATED
_EMPTY: Mapping[str, Any] = {}

_NO_POLICY = Decision(
    Effect.DENY, (Reason(ReasonCode.NO_POLICY, "no policy is loaded; everything is denied"),)
)


def no_policy_decision() -> Decision:
    """The decision when nothing is loaded: deny everything."""
    return _NO_POLICY


def evaluate(policy: CompiledPolicy | None, request: Request) -> Decision:
    """Decide ``request`` under ``policy``. Never raises: every failure is a deny."""
    if policy is None:
        return _NO_POLICY
    return decide(
        policy,
        request.agent,
        request.tool,
        request.args,
        request.now,
        request.server,
        request.context,
        request.session_labels,
        request.grants,
        request.usage,
    )


def decide(
    policy: CompiledPolicy,
    agent: str,
    tool: str,
    args: Mapping[str, Any] | None,
    now: datetime,
    server: str | None = None,
    context: Context = EMPTY_CONTEXT,
    labels: frozenset[str] = frozenset(),
    grants: tuple[Grant, ...] = (),
    usage: Mapping[str, float] = _EMPTY,
) -> Decision:
    """The positional form of :func:`evaluate`, for hot paths that hold the facts already."""
    try:
        return _decide(policy, agent, tool, args, now, server, context, labels, grants, usage)
    except Exception as error:  # fail closed on anything unexpected
        return Decision(
            Effect.DENY,
            (
                Reason(
                    ReasonCode.EVALUATION_ERROR,
                    f"evaluation failed ({type(error).__name__}); denied",
                ),
            ),
            (),
            policy.version,
        )


def _invalid(policy: CompiledPolicy, message: str) -> Decision:
    return Decision(Effect.DENY, (Reason(ReasonCode.INVALID_REQUEST, message),), (), policy.version)


def _decide(
    policy: CompiledPolicy,
    agent: str,
    tool: str,
    args: Mapping[str, Any] | None,
    now: datetime,
    server: str | None,
    context: Context,
    labels: frozenset[str],
    grants: tuple[Grant, ...],
    usage: Mapping[str, float],
) -> Decision:
    entry = policy.agents.get(agent) if type(agent) is str else None
    if entry is None:
        return policy.unknown_agent
    bucket = policy.cached_bucket(server, tool) if type(tool) is str else None
    if bucket is None:
        problem = _name_problem(tool, server)
        if problem is not None:
            return _invalid(policy, problem)
        bucket = policy.bucket(server, tool)
    if args is None:
        args = _EMPTY
    elif type(args) is not dict and not isinstance(args, Mapping):
        return _invalid(policy, "arguments must be a mapping")
    if now.tzinfo is None:
        return _invalid(policy, "the decision time must be timezone-aware")
    risk = context.risk if context.risk is not None else entry.risk

    decision = _combine(
        policy, entry.id, bucket.candidates(entry), args, now, context, labels, grants, risk
    )
    if bucket.quotas and decision.effect is not Effect.DENY:
        quotas = bucket.quotas_for(entry, include_shadow=False)
        decision = _apply_quotas(policy, entry, quotas, decision, args, now, usage)
    if bucket.has_shadow:
        shadow = _combine(
            policy,
            entry.id,
            bucket.shadow_candidates(entry),
            args,
            now,
            context,
            labels,
            grants,
            risk,
        )
        if shadow.effect is not Effect.DENY:
            quotas = bucket.quotas_for(entry, include_shadow=True)
            shadow = _apply_quotas(policy, entry, quotas, shadow, args, now, usage)
        decision = Decision(
            decision.effect,
            decision.reasons,
            decision.rule_ids,
            decision.policy_version,
            ShadowOutcome(shadow.effect, shadow.rule_ids, shadow.reasons),
            decision.charges,
        )
    return decision


def _name_problem(tool: Any, server: Any) -> str | None:
    """Why a tool or server name cannot be used, or None when both are canonical."""
    if type(tool) is not str or not tool or len(tool) > MAX_TOOL_NAME:
        return "the tool name is missing, too long or not a string"
    if server is not None and (type(server) is not str or len(server) > MAX_TOOL_NAME):
        return "the server name is too long or not a string"
    # Whitespace and control characters are refused outright: an executor that trims
    # ``files.read_secrets\n`` would run the tool a forbid names while ``files.*`` matched.
    if not tool.isprintable() or " " in tool:
        return "the tool name contains whitespace or control characters"
    if server is not None and (not server.isprintable() or " " in server):
        return "the server name contains whitespace or control characters"
    try:
        # Names must already be canonical: the name that is checked is the name that runs.
        if canonical_string(tool) != tool or (
            server is not None and canonical_string(server) != server
        ):
            return "the tool or server name is not in canonical (NFKC) form"
    except CanonicalizationError:
        return "the tool or server name contains invisible characters"
    return None


def _combine(
    policy: CompiledPolicy,
    agent: str,
    candidates: tuple[CompiledRule, ...],
    args: Mapping[str, Any],
    now: datetime,
    context: Context,
    labels: frozenset[str],
    grants: tuple[Grant, ...],
    risk: str | None,
) -> Decision:
    """Evaluate ``candidates`` (forbids first) and combine them into one decision."""
    forbids: list[Reason] | None = None
    approvals: list[CompiledRule] | None = None
    allows: list[CompiledRule] | None = None
    first_failure: Reason | None = None
    failed_rule: CompiledRule | None = None
    for rule in candidates:
        effect = rule.effect
        if forbids is not None and effect is not _DENY:
            break  # forbids come first; once one applies, permits cannot matter
        result: bool | None = True
        check = rule.args_check
        if check is not None:
            result = check(args)
        when = rule.when_check
        if result is not False and when is not None:
            condition = when(now, context, labels, risk)
            if condition is not True:
                result = condition
        if effect is _DENY:
            if result is not False:
                reason = rule.reason_forbidden if result else rule.reason_indeterminate
                forbids = [reason] if forbids is None else [*forbids, reason]
        elif effect is _APPROVAL:
            if result is True:
                approvals = [rule] if approvals is None else [*approvals, rule]
            elif result is None:
                forbids = [rule.reason_indeterminate]
        elif result is True:
            tier = rule.tier
            if tier is _TASK or tier is _ELEVATED:
                missing = _grant_problem(rule, agent, grants, now)
                if missing is not None:
                    # A missing grant explains a deny better than a failed constraint.
                    if first_failure is None or first_failure.code is _FAILED:
                        first_failure = missing
                    continue
            allows = [rule] if allows is None else [*allows, rule]
        elif first_failure is None:
            first_failure = rule.reason_failed
            failed_rule = rule
    version = policy.version
    if forbids is not None:
        if len(forbids) == 1 and forbids[0] is candidates[0].reason_forbidden:
            return candidates[0].forbid_decision
        return Decision(
            Effect.DENY, tuple(forbids), tuple(r.rule_id or "" for r in forbids), version
        )
    if approvals is not None:
        return Decision(
            Effect.APPROVAL_REQUIRED,
            tuple(r.reason_approval for r in approvals),
            tuple(r.id for r in approvals),
            version,
        )
    if allows is not None:
        if len(allows) == 1:
            return allows[0].allow_decision
        return Decision(
            Effect.ALLOW,
            tuple(r.reason_allowed for r in allows),
            tuple(r.id for r in allows),
            version,
        )
    if first_failure is not None:
        if failed_rule is not None and first_failure is failed_rule.reason_failed:
            return failed_rule.failed_decision
        return Decision(Effect.DENY, (first_failure,), (), version)
    return policy.default_deny


def _grant_problem(
    rule: CompiledRule, agent: str, grants: tuple[Grant, ...], now: datetime
) -> Reason | None:
    """None when a live (and, for elevated permissions, approved) grant covers ``rule``."""
    saw_expired = saw_unapproved = False
    for grant in grants:
        if grant.agent != agent or grant.permission != rule.permission:
            continue
        if not grant.expires_at > now:
            saw_expired = True
            continue
        if rule.tier is Tier.ELEVATED and not grant.approved_by:
            saw_unapproved = True
            continue
        return None
    if saw_unapproved or (rule.tier is Tier.ELEVATED and not saw_expired):
        return Reason(
            ReasonCode.APPROVED_GRANT_REQUIRED,
            f"permission `{rule.permission}` needs a grant approved by a human",
            rule.id,
        )
    if saw_expired:
        return Reason(
            ReasonCode.GRANT_EXPIRED,
            f"the grant for permission `{rule.permission}` expired",
            rule.id,
        )
    return Reason(
        ReasonCode.GRANT_REQUIRED,
        f"permission `{rule.permission}` needs a task grant",
        rule.id,
    )


def _apply_quotas(
    policy: CompiledPolicy,
    entry: AgentEntry,
    quotas: list[CompiledQuota],
    decision: Decision,
    args: Mapping[str, Any],
    now: datetime,
    usage: Mapping[str, float],
) -> Decision:
    """Deny if a quota would overflow; otherwise attach what the call would consume."""
    if not quotas:
        return decision
    charges: list[QuotaCharge] = []
    epoch = now.timestamp()
    for quota in quotas:
        if quota.get_amount is None:
            amount: float = 1.0
        else:
            raw = quota.get_amount(args)
            kind = type(raw)
            if kind is not int and kind is not float:
                return _quota_denied(
                    policy, quota.id, "the counted argument is missing or not a number"
                )
            amount = float(raw)
            if not math.isfinite(amount) or amount < 0:
                return _quota_denied(
                    policy, quota.id, "the counted argument is not a finite, non-negative number"
                )
        window_start = int(epoch // quota.window) * quota.window
        subject = entry.id if quota.per_agent else "*"
        counter = f"{quota.id}|{subject}|{window_start}"
        if usage.get(counter, 0.0) + amount > quota.limit:
            return _quota_denied(
                policy, quota.id, f"quota `{quota.id}` would be exceeded in this window"
            )
        charges.append(
            QuotaCharge(quota.id, counter, amount, quota.limit, quota.window, window_start)
        )
    return Decision(
        decision.effect,
        decision.reasons,
        decision.rule_ids,
        decision.policy_version,
        decision.shadow,
        tuple(charges),
    )


def _quota_denied(policy: CompiledPolicy, quota_id: str, message: str) -> Decision:
    return Decision(
        Effect.DENY,
        (Reason(ReasonCode.QUOTA_EXCEEDED, message, quota_id),),
        (quota_id,),
        policy.version,
    )
