"""In-memory state for the in-process :class:`~ztgate.service.gate.Gate`: grants, session
labels and quota counters.

The engine never keeps state; it reads these as arguments. Quota charges are applied here
under one lock with a re-check, so two threads can never both spend the last unit. The
service issue moves the same responsibilities to the persistent store.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Mapping
from datetime import datetime

from ztgate.core.models import Grant, QuotaCharge

MAX_COUNTERS_BEFORE_PRUNE = 10_000


class MemoryState:
    """Grants by agent, labels by session and quota counters, all thread-safe."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._grants: dict[str, tuple[Grant, ...]] = {}
        self._sessions: dict[str, frozenset[str]] = {}
        self._counters: dict[str, float] = {}
        self._counter_ends: dict[str, int] = {}

    # -- grants ----------------------------------------------------------------------------

    def grants_for(self, agent: str) -> tuple[Grant, ...]:
        return self._grants.get(agent, ())

    def add_grant(self, grant: Grant) -> None:
        with self._lock:
            self._grants[grant.agent] = (*self._grants.get(grant.agent, ()), grant)

    def remove_grant(self, grant_id: str) -> Grant | None:
        with self._lock:
            for agent, grants in self._grants.items():
                for grant in grants:
                    if grant.id == grant_id:
                        self._grants[agent] = tuple(g for g in grants if g.id != grant_id)
                        return grant
        return None

    def prune_grants(self, now: datetime) -> None:
        with self._lock:
            self._grants = {
                agent: live
                for agent, grants in self._grants.items()
                if (live := tuple(g for g in grants if g.expires_at > now))
            }

    # -- sessions --------------------------------------------------------------------------

    def labels(self, session: str) -> frozenset[str]:
        return self._sessions.get(session, frozenset())

    def add_labels(self, session: str, labels: frozenset[str], now: datetime | None = None) -> None:
        with self._lock:
            self._sessions[session] = self._sessions.get(session, frozenset()) | labels

    # -- quota counters --------------------------------------------------------------------

    @property
    def usage(self) -> Mapping[str, float]:
        """A live read-only view; charges are re-checked under the lock when applied."""
        return self._counters

    def apply_charges(self, charges: tuple[QuotaCharge, ...]) -> str | None:
        """Apply every charge or none; return the id of the quota that would overflow."""
        with self._lock:
            for charge in charges:
                if self._counters.get(charge.key, 0.0) + charge.amount > charge.limit:
                    return charge.quota_id
            for charge in charges:
                self._counters[charge.key] = self._counters.get(charge.key, 0.0) + charge.amount
                self._counter_ends[charge.key] = charge.window_start + charge.window_seconds
            if len(self._counters) > MAX_COUNTERS_BEFORE_PRUNE:
                # Every window start is at or before now, so a counter whose window ended
                # by the latest start seen here can never be charged again.
                current = max(charge.window_start for charge in charges)
                for key, end in list(self._counter_ends.items()):
                    if end <= current:
                        del self._counter_ends[key]
                        self._counters.pop(key, None)
        return None


def new_id(prefix: str) -> str:
    """An unguessable identifier with a readable prefix."""
    return f"{prefix}_{uuid.uuid4().hex}"
