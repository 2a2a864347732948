"""Immutable snapshots of a decision's parts, so sealing can happen later on another thread.

In batched mode the caller of :meth:`AuditLog.record_decision` only takes a snapshot and
queues it; the writer thread redacts, digests, encodes and chains it. That is safe only
if nothing the caller still holds can change the record afterwards and if sealing the
snapshot cannot fail where a caller-side build would have failed in front of the caller. So a
snapshot is taken only of values whose later processing is known to be total and
deterministic: exact ``dict`` (string keys), ``list`` and ``tuple`` containers (copied),
and exact ``str``, ``bool``, ``float``, ``None`` and not-huge ``int`` leaves (immutable,
shared). Anything else — subclasses, sets, bytes, datetimes, arbitrary objects,
non-string keys, deep nesting, numbers too long to print — makes :func:`freeze_call`
return ``None`` and the caller builds the event itself, exactly as before, so errors
still reach the decision that caused them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from ztgate.core.models import (
    EMPTY_CONTEXT,
    Context,
    Decision,
    Effect,
    Reason,
    ReasonCode,
    ShadowOutcome,
)

# The same nesting limit as redaction and to_jsonable (beyond it they write "[too deep]").
_MAX_DEPTH = 64
# Python refuses to print ints longer than sys.get_int_max_str_digits() (at least 640
# digits whatever the setting); 2**2000 has 603 digits, so smaller ints always encode.
_INT_BOUND = 1 << 2000


class _NotPlain(Exception):
    """Raised inside the copy when a value needs the caller-side path."""


def _copy(value: Any, depth: int) -> Any:
    kind = type(value)
    if kind is str or kind is bool or kind is float or value is None:
        return value
    if kind is int:
        if -_INT_BOUND < value < _INT_BOUND:
            return value
        raise _NotPlain
    if depth >= _MAX_DEPTH:
        raise _NotPlain
    if kind is dict:
        out = {}
        for key, item in value.items():
            if type(key) is not str:
                raise _NotPlain
            item_kind = type(item)
            if item_kind is str or item_kind is bool or item is None:
                out[key] = item
            else:
                out[key] = _copy(item, depth + 1)
        return out
    if kind is list:
        return [_copy(item, depth + 1) for item in value]
    if kind is tuple:
        return tuple(_copy(item, depth + 1) for item in value)
    raise _NotPlain


def _str_tuple(value: Any) -> bool:
    if type(value) is not tuple:
        return False
    for item in value:  # noqa: SIM110 - a plain loop beats all(<genexpr>) on the hot path
        if type(item) is not str:
            return False
    return True


def _plain_reasons(reasons: Any) -> bool:
    if type(reasons) is not tuple:
        return False
    for reason in reasons:
        if (
            type(reason) is not Reason
            or type(reason.code) is not ReasonCode
            or type(reason.message) is not str
            or (reason.rule_id is not None and type(reason.rule_id) is not str)
        ):
            return False
    return True


def _plain_decision(decision: Any) -> bool:
    """True when every field the event reads is an immutable value of the expected type."""
    if (
        type(decision) is not Decision
        or type(decision.effect) is not Effect
        or type(decision.policy_version) is not str
        or (decision.approval_id is not None and type(decision.approval_id) is not str)
        or not _str_tuple(decision.rule_ids)
        or not _plain_reasons(decision.reasons)
    ):
        return False
    shadow = decision.shadow
    return shadow is None or (
        type(shadow) is ShadowOutcome
        and type(shadow.effect) is Effect
        and _str_tuple(shadow.rule_ids)
        and _plain_reasons(shadow.reasons)
    )


def _opt_str(value: Any) -> bool:
    return value is None or type(value) is str


def _plain_context(context: Any) -> bool:
    return (
        context is None
        or context is EMPTY_CONTEXT
        or (
            type(context) is Context
            and _opt_str(context.acting_for)
            and _opt_str(context.source_ip)
            and _str_tuple(context.delegation)
        )
    )


# The positional order of FrozenCall's fields, as DecisionEvent.from_call takes them.
FrozenCall = tuple[
    str,  # agent
    str,  # tool
    dict[str, Any],  # args (a private copy)
    Decision,
    datetime,  # event time, UTC
    str,  # request_id
    str | None,  # server
    Context | None,
    str | None,  # session_id
    int,  # latency_us
    tuple[dict[str, Any], ...],  # findings (private copies)
]


def freeze_call(
    agent: Any,
    tool: Any,
    args: Mapping[str, Any] | None,
    decision: Any,
    time: Any,
    request_id: Any,
    server: Any,
    context: Any,
    session_id: Any,
    latency_us: Any,
    findings: Sequence[Mapping[str, Any]],
) -> FrozenCall | None:
    """Everything ``DecisionEvent.from_call`` reads, copied or checked immutable.

    ``None`` when any part is not plain: the caller then builds the event itself.
    """
    if not (
        type(agent) is str
        and type(tool) is str
        and type(request_id) is str
        and _opt_str(server)
        and _opt_str(session_id)
        and type(latency_us) is int
        and type(time) is datetime
        and time.tzinfo is UTC
        and _plain_context(context)
        and _plain_decision(decision)
    ):
        return None
    try:
        if args is None:
            frozen_args: dict[str, Any] = {}
        elif type(args) is dict:
            frozen_args = _copy(args, 0)
        else:
            return None
        if findings:
            if type(findings) is not tuple and type(findings) is not list:
                return None
            frozen_findings = tuple(_copy_finding(f) for f in findings)
        else:
            frozen_findings = ()
    except (_NotPlain, RecursionError):
        return None
    return (
        agent,
        tool,
        frozen_args,
        decision,
        time,
        request_id,
        server,
        context,
        session_id,
        latency_us,
        frozen_findings,
    )


def _copy_finding(finding: Any) -> dict[str, Any]:
    if type(finding) is not dict:
        raise _NotPlain
    copied: dict[str, Any] = _copy(finding, 0)
    return copied
