"""Helpers shared by the audit tests (importable, unlike conftest)."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from ztgate.audit.events import DecisionEvent

T0 = datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC)


def decision(i: int, findings: tuple[dict, ...] = ()) -> DecisionEvent:
    return DecisionEvent(
        agent=f"agent-{i % 2}",
        tool="files.read",
        effect="deny" if i % 3 == 0 else "allow",
        time=T0 + timedelta(seconds=i),
        request_id=f"req-{i}",
        args_digest="sha256:" + "1" * 64,
        args={"path": f"/data/{i}"},
        reasons=({"code": "allowed", "message": "ok", "rule_id": "r"},),
        rule_ids=("r",),
        findings=findings,
        policy_version="pv",
        server="fs-mcp",
        session_id="s1",
        acting_for="alice",
    )


@dataclass
class Receiver:
    """Records what an HTTP endpoint received; fails the first ``fail_first`` requests."""

    fail_first: int = 0
    status: int = 503
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    attempts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""
