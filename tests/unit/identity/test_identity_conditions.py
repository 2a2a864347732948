from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztgate.errors import UsageError
from ztgate.identity.conditions import (
    AccessConditions,
    TimeWindow,
    check_request,
    check_standing,
    standing_valid_until,
)
from ztgate.store import Agent, AgentStatus

T0 = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # Monday


def _agent(**kw: object) -> Agent:
    base: dict[str, object] = {
        "id": "a",
        "display_name": "a",
        "blueprint": None,
        "owners": ("o",),
        "sponsors": ("s",),
        "status": AgentStatus.ACTIVE,
        "created_at": T0,
        "expires_at": None,
        "last_attested_at": None,
        "risk_level": "low",
    }
    base.update(kw)
    return Agent(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "bad",
    [
        {"source_cidrs": "10.0.0.0/8"},
        {"source_cidrs": ["10.0.0.1/8"]},  # host bits set: ambiguous, refused
        {"time_windows": [{"days": ["mon"], "start": "9:00", "end": "10:00"}]},
        {"time_windows": [{"days": ["funday"], "start": "09:00", "end": "10:00"}]},
        {"time_windows": [{"days": ["mon"], "start": "09:00", "end": "09:00"}]},
        {"time_windows": [{"start": "09:00", "end": "10:00", "tz": "CET"}]},
        {"max_risk": "extreme"},
        {"max_attestation_age_seconds": 0},
        {"max_attestation_age_seconds": True},
        {"max_attestation_age_seconds": 1.5},
        {"unknown": 1},
    ],
)
def test_strict_parsing(bad: dict[str, object]) -> None:
    with pytest.raises(UsageError):
        AccessConditions.parse(bad)


def test_standing_checks_and_their_names() -> None:
    none: list[AccessConditions] = []
    assert check_standing(_agent(), none, T0) is None
    assert check_standing(_agent(status=AgentStatus.SUSPENDED), none, T0) == "agent_suspended"
    assert check_standing(_agent(expires_at=T0), none, T0) == "agent_expired"
    risky = [AccessConditions.parse({"max_risk": "medium"})]
    assert check_standing(_agent(risk_level="high"), risky, T0) == "risk_level"
    assert check_standing(_agent(risk_level="medium"), risky, T0) is None
    assert check_standing(_agent(risk_level="bogus"), risky, T0) == "risk_level"
    fresh = [AccessConditions.parse({"max_attestation_age_seconds": 60})]
    assert check_standing(_agent(), fresh, T0) == "attestation_age"
    attested = _agent(last_attested_at=T0)
    assert check_standing(attested, fresh, T0 + timedelta(seconds=60)) is None
    assert check_standing(attested, fresh, T0 + timedelta(seconds=61)) == "attestation_age"
    assert standing_valid_until(attested, fresh) == T0 + timedelta(seconds=60)
    assert standing_valid_until(_agent(expires_at=T0), fresh) == T0


def _brute_force(window: TimeWindow, now: datetime) -> bool:
    """Reference: walk the window minute by minute from each allowed day's start."""
    minute = now.hour * 60 + now.minute
    length = (window.end_minute - window.start_minute) % (24 * 60)
    for back in (0, 1):
        day = (now.weekday() - back) % 7
        if day not in window.days:
            continue
        offset = minute + back * 24 * 60 - window.start_minute
        if 0 <= offset < length:
            return True
    return False


@given(
    days=st.frozensets(st.integers(0, 6), min_size=1),
    start=st.integers(0, 24 * 60 - 1),
    end=st.integers(0, 24 * 60 - 1),
    at=st.datetimes(
        min_value=datetime(2026, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)
    ),
)
def test_time_window_matches_reference(
    days: frozenset[int], start: int, end: int, at: datetime
) -> None:
    if start == end:
        return
    window = TimeWindow(days, start, end)
    assert window.contains(at) == _brute_force(window, at)


@given(
    network=st.ip_addresses(v=4).map(lambda a: ipaddress.ip_network(f"{a}/24", strict=False)),
    address=st.ip_addresses(v=4),
)
def test_source_cidr_agrees_with_ipaddress(
    network: ipaddress.IPv4Network, address: ipaddress.IPv4Address
) -> None:
    conditions = [AccessConditions(source_cidrs=(network,))]
    expected = None if address in network else "source_cidr"
    assert check_request(conditions, now=T0, source_ip=str(address)) == expected


def test_request_conditions_fail_closed_without_an_address() -> None:
    conditions = [AccessConditions.parse({"source_cidrs": ["10.0.0.0/8"]})]
    assert check_request(conditions, now=T0, source_ip=None) == "source_ip_unknown"
    assert check_request(conditions, now=T0, source_ip="10.0.0.1%eth0") == "source_ip_invalid"
    assert check_request([], now=T0, source_ip=None) is None
