"""Helpers shared by the audit tests (importable, unlike conftest)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from ztgate.audit.events import DecisionEvent, LifecycleEvent, LifecycleKind

T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def ticking_clock(
    start: datetime = T0, step: timedelta = timedelta(milliseconds=1)
) -> Callable[[], datetime]:
    """A deterministic clock: every call is one step later."""
    state = {"now": start}

    def now() -> datetime:
        state["now"] += step
        return state["now"]

    return now


def decision(
    i: int, *, agent: str = "agent-a", tool: str = "db.query", effect: str = "allow"
) -> DecisionEvent:
    return DecisionEvent(
        agent=agent,
        tool=tool,
        effect=effect,
        time=T0 + timedelta(seconds=i),
        request_id=f"req-{i}",
        args_digest=f"sha256:{i:064x}",
        args={"n": i, "q": f"select {i}"},
        rule_ids=("r1",),
        reasons=({"code": "allowed", "message": "ok", "rule_id": "r1"},),
        policy_version="pv1",
        latency_us=12,
    )


def lifecycle(i: int) -> LifecycleEvent:
    return LifecycleEvent(LifecycleKind.AGENT_CREATED, "ops", f"agent-{i}", T0, {"i": i})
