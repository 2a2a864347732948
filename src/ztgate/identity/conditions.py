"""Conditional access: the facts an agent must satisfy to get or use a token.

Evaluated twice with the same code: at issuance (token endpoint) and at every
verification. Pure functions over their arguments (``now``, source address, the agent's
record), so they are easy to property-test. A failed check returns the *name* of the
condition; that name goes to the event log, never to the caller.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ztgate.core.models import RiskLevel, risk_rank
from ztgate.errors import UsageError
from ztgate.store.records import Agent, AgentStatus

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
_DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")
_KEYS = frozenset({"source_cidrs", "time_windows", "max_risk", "max_attestation_age_seconds"})


@dataclass(frozen=True, slots=True)
class TimeWindow:
    """Days of the week and a UTC ``[start, end)`` minute range; wraps past midnight."""

    days: frozenset[int]
    start_minute: int
    end_minute: int

    def contains(self, now: datetime) -> bool:
        minute = now.hour * 60 + now.minute
        if self.start_minute <= self.end_minute:
            return now.weekday() in self.days and self.start_minute <= minute < self.end_minute
        # The window spans midnight: the early part belongs to the day it started on.
        if minute >= self.start_minute:
            return now.weekday() in self.days
        return minute < self.end_minute and (now.weekday() - 1) % 7 in self.days


@dataclass(frozen=True, slots=True)
class AccessConditions:
    """One set of conditions; every present condition must hold (empty = no restriction)."""

    source_cidrs: tuple[IPNetwork, ...] = ()
    time_windows: tuple[TimeWindow, ...] = ()
    max_risk: RiskLevel | None = None
    max_attestation_age: timedelta | None = None

    @property
    def depends_on_request(self) -> bool:
        """True when the outcome depends on the caller's address or the time of day."""
        return bool(self.source_cidrs or self.time_windows)

    @classmethod
    def parse(cls, data: Mapping[str, Any], *, where: str = "conditions") -> AccessConditions:
        """Strictly parse the JSON form; unknown keys and bad values are errors."""
        if not isinstance(data, Mapping):
            raise UsageError(f"{where} must be an object")
        unknown = set(data) - _KEYS
        if unknown:
            raise UsageError(f"unknown key `{sorted(unknown)[0]}` in {where}")
        cidrs: list[IPNetwork] = []
        for raw in _list(data.get("source_cidrs", []), f"{where}.source_cidrs"):
            try:
                cidrs.append(ipaddress.ip_network(str(raw), strict=True))
            except ValueError as error:
                raise UsageError(f"invalid CIDR `{raw}` in {where}.source_cidrs") from error
        windows = [
            _window(w, f"{where}.time_windows")
            for w in _list(data.get("time_windows", []), f"{where}.time_windows")
        ]
        max_risk = None
        if "max_risk" in data:
            try:
                max_risk = RiskLevel(data["max_risk"])
            except ValueError as error:
                raise UsageError(f"unknown risk level `{data['max_risk']}`") from error
        age = None
        if "max_attestation_age_seconds" in data:
            seconds = data["max_attestation_age_seconds"]
            if isinstance(seconds, bool) or not isinstance(seconds, int) or seconds <= 0:
                raise UsageError(f"{where}.max_attestation_age_seconds must be a positive integer")
            age = timedelta(seconds=seconds)
        return cls(tuple(cidrs), tuple(windows), max_risk, age)


def _list(value: Any, where: str) -> Sequence[Any]:
    if not isinstance(value, list):
        raise UsageError(f"{where} must be a list")
    return value


def _minute(value: Any, where: str) -> int:
    match = _HHMM.match(value) if isinstance(value, str) else None
    if match is None:
        raise UsageError(f"{where} must be `HH:MM` (UTC), got `{value}`")
    return int(match.group(1)) * 60 + int(match.group(2))


def _window(raw: Any, where: str) -> TimeWindow:
    if not isinstance(raw, Mapping) or set(raw) - {"days", "start", "end"}:
        raise UsageError(f"{where} entries are objects with `days`, `start` and `end`")
    days = raw.get("days", list(_DAYS))
    if not isinstance(days, list) or not days or any(d not in _DAYS for d in days):
        raise UsageError(f"{where}.days must list some of {', '.join(_DAYS)}")
    start, end = (
        _minute(raw.get("start"), f"{where}.start"),
        _minute(raw.get("end"), f"{where}.end"),
    )
    if start == end:
        raise UsageError(f"{where} is empty (start equals end)")
    return TimeWindow(frozenset(_DAYS.index(d) for d in days), start, end)


def check_standing(
    agent: Agent, conditions: Sequence[AccessConditions], now: datetime
) -> str | None:
    """The request-independent checks: status, expiry, risk, attestation age.

    Returns the failed condition's name, or ``None`` when all hold.
    """
    if agent.status is not AgentStatus.ACTIVE:
        return f"agent_{agent.status.value}"
    if agent.expires_at is not None and now >= agent.expires_at:
        return "agent_expired"
    for condition in conditions:
        if condition.max_risk is not None:
            try:
                too_risky = risk_rank(agent.risk_level) > risk_rank(condition.max_risk)
            except ValueError:
                return "risk_level"
            if too_risky:
                return "risk_level"
        if condition.max_attestation_age is not None and (
            agent.last_attested_at is None
            or now - agent.last_attested_at > condition.max_attestation_age
        ):
            return "attestation_age"
    return None


def standing_valid_until(agent: Agent, conditions: Sequence[AccessConditions]) -> datetime | None:
    """When the standing checks will start failing by the clock alone (``None``: never)."""
    limits: list[datetime] = []
    if agent.expires_at is not None:
        limits.append(agent.expires_at)
    for condition in conditions:
        if condition.max_attestation_age is not None and agent.last_attested_at is not None:
            limits.append(agent.last_attested_at + condition.max_attestation_age)
    return min(limits) if limits else None


def check_request(
    conditions: Sequence[AccessConditions], *, now: datetime, source_ip: str | None
) -> str | None:
    """The request-dependent checks: source network and time window."""
    for condition in conditions:
        if condition.source_cidrs:
            if source_ip is None:
                return "source_ip_unknown"
            try:
                address = ipaddress.ip_address(source_ip)
            except ValueError:
                return "source_ip_invalid"
            if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
                address = address.ipv4_mapped
            if not any(address in network for network in condition.source_cidrs):
                return "source_cidr"
        if condition.time_windows and not any(w.contains(now) for w in condition.time_windows):
            return "time_window"
    return None
