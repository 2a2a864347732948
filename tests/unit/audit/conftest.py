"""Fixtures for audit tests: real logs on real SQLite files in a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import Signer
from ztgate.audit.events import DecisionEvent, LifecycleEvent, LifecycleKind
from ztgate.audit.log import AuditLog

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


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def make_log(tmp_path: Path, signer: Signer) -> Callable[..., AuditLog]:
    def make(name: str = "audit.db", **options: object) -> AuditLog:
        options.setdefault("clock", ticking_clock())
        options.setdefault("checkpoint_interval", None)
        return AuditLog(SQLiteBackend(tmp_path / name), signer, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def filled_db(make_log: Callable[..., AuditLog], tmp_path: Path) -> Path:
    """A closed log of 20 records with checkpoints every 5 (at 5, 10, 15, 20)."""
    log = make_log(checkpoint_every=5)
    for i in range(20):
        log.append(decision(i) if i % 4 else lifecycle(i))
    log.close()
    return tmp_path / "audit.db"
