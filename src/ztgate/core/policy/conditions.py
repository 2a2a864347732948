"""Compile context conditions (``when:``) to closures over the request's circumstances.

Conditions answer True, False or None like argument constraints. A fact the caller did
not supply (no source address, no risk level) is indeterminate; an empty delegation chain
or an empty set of session labels is a definite fact, not a missing one.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import lru_cache
from ipaddress import IPv4Address, IPv6Address, ip_address

from ztgate.core.models import Context, risk_rank
from ztgate.core.policy.ast import WhenDef

Tri = bool | None
WhenCheck = Callable[[datetime, Context, frozenset[str], str | None], Tri]


@lru_cache(maxsize=4096)
def _parse_ip(text: str) -> IPv4Address | IPv6Address | None:
    try:
        address = ip_address(text)
    except ValueError:
        return None
    if isinstance(address, IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _risk(level: str | None) -> int | None:
    if level is None:
        return None
    try:
        return risk_rank(level)
    except ValueError:
        return None


def compile_when(w: WhenDef) -> WhenCheck:
    """One closure checking every condition that ``w`` sets."""
    checks: list[WhenCheck] = []
    if w.time is not None:
        window = w.time

        def check_time(
            now: datetime, ctx: Context, labels: frozenset[str], risk: str | None
        ) -> Tri:
            if now.tzinfo is None:
                return None
            local = now.astimezone(window.timezone)
            if window.days is not None and local.weekday() not in window.days:
                return False
            if window.start_minute is not None and window.end_minute is not None:
                minute = local.hour * 60 + local.minute
                start, end = window.start_minute, window.end_minute
                inside = start <= minute < end if start < end else minute >= start or minute < end
                if not inside:
                    return False
            return True

        checks.append(check_time)
    if w.source_in is not None or w.source_not_in is not None:
        inside_nets = w.source_in
        outside_nets = w.source_not_in

        def check_source(
            now: datetime, ctx: Context, labels: frozenset[str], risk: str | None
        ) -> Tri:
            if ctx.source_ip is None or type(ctx.source_ip) is not str:
                return None
            address = _parse_ip(ctx.source_ip)
            if address is None:
                return None
            if inside_nets is not None and not any(address in net for net in inside_nets):
                return False
            return not (outside_nets is not None and any(address in net for net in outside_nets))

        checks.append(check_source)
    if w.risk_max is not None or w.risk_min is not None or w.risk_in is not None:
        r_max, r_min, r_in = w.risk_max, w.risk_min, w.risk_in

        def check_risk(
            now: datetime, ctx: Context, labels: frozenset[str], risk: str | None
        ) -> Tri:
            rank = _risk(risk)
            if rank is None:
                return None
            if r_max is not None and rank > r_max:
                return False
            if r_min is not None and rank < r_min:
                return False
            return not (r_in is not None and rank not in r_in)

        checks.append(check_risk)
    if (
        w.acting_for is not None
        or w.delegation_required
        or w.max_depth is not None
        or w.min_depth is not None
    ):
        users, required, max_depth, min_depth = (
            w.acting_for,
            w.delegation_required,
            w.max_depth,
            w.min_depth,
        )

        def check_delegation(
            now: datetime, ctx: Context, labels: frozenset[str], risk: str | None
        ) -> Tri:
            if (required or users is not None) and not ctx.acting_for:
                return False
            if users is not None and ctx.acting_for not in users:
                return False
            depth = len(ctx.delegation)
            if max_depth is not None and depth > max_depth:
                return False
            return not (min_depth is not None and depth < min_depth)

        checks.append(check_delegation)
    if w.session_has is not None or w.session_lacks is not None:
        has, lacks = w.session_has, w.session_lacks

        def check_session(
            now: datetime, ctx: Context, labels: frozenset[str], risk: str | None
        ) -> Tri:
            if has is not None and not has <= labels:
                return False
            return not (lacks is not None and not lacks.isdisjoint(labels))

        checks.append(check_session)

    if len(checks) == 1:
        return checks[0]

    def check_all(now: datetime, ctx: Context, labels: frozenset[str], risk: str | None) -> Tri:
        result: Tri = True
        for one in checks:
            r = one(now, ctx, labels, risk)
            if r is False:
                return False
            if r is None:
                result = None
        return result

    return check_all


def describe_when(w: WhenDef) -> list[tuple[str, WhenCheck]]:
    """Each condition on its own, named, for ``explain``."""
    named: list[tuple[str, WhenCheck]] = []
    if w.time is not None:
        named.append(("time window", compile_when(WhenDef(time=w.time))))
    if w.source_in is not None or w.source_not_in is not None:
        named.append(
            (
                "source network",
                compile_when(WhenDef(source_in=w.source_in, source_not_in=w.source_not_in)),
            )
        )
    if w.risk_max is not None or w.risk_min is not None or w.risk_in is not None:
        named.append(
            (
                "risk level",
                compile_when(WhenDef(risk_max=w.risk_max, risk_min=w.risk_min, risk_in=w.risk_in)),
            )
        )
    if (
        w.acting_for is not None
        or w.delegation_required
        or w.max_depth is not None
        or w.min_depth is not None
    ):
        named.append(
            (
                "delegation",
                compile_when(
                    WhenDef(
                        acting_for=w.acting_for,
                        delegation_required=w.delegation_required,
                        max_depth=w.max_depth,
                        min_depth=w.min_depth,
                    )
                ),
            )
        )
    if w.session_has is not None or w.session_lacks is not None:
        named.append(
            (
                "session labels",
                compile_when(WhenDef(session_has=w.session_has, session_lacks=w.session_lacks)),
            )
        )
    return named
