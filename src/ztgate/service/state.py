"""Store-backed decision state with a hot-path cache that every replica invalidates.

The engine reads grants, session labels, quota usage and (through the service) the
agent's standing as arguments. Reading them from the database on every decision would
cost more than the decision, so this class caches them and watches three revision
counters in the store (``identity``: agent status, keys, revocations; ``service``: grants,
approvals, kill switches, active policy; ``sessions``: labels). A write through any store
handle, in any process, bumps the counter in the same transaction; a reader here compares
the counters at most every ``staleness`` seconds (and at once after a write through its own
handle, or when a :class:`ChangeFeed` says something moved) and drops what is stale.
That bounds how long a suspension can go unseen by another replica.

Quota counters are the exception: the cached usage is only a hint for the engine; the
authoritative check-and-charge happens in the store (:meth:`apply_charges`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime

from ztgate.core.models import Grant, QuotaCharge, Reason, ReasonCode
from ztgate.core.policy import CompiledPolicy, load_policy
from ztgate.errors import StoreError
from ztgate.identity.conditions import check_standing
from ztgate.identity.registry import AgentProfile, Registry
from ztgate.store import GrantRecord, GrantStatus, KillScope, Store
from ztgate.store.grants import SERVICE_REVISION, SESSIONS_REVISION
from ztgate.store.store import IDENTITY_REVISION

WATCHED = (IDENTITY_REVISION, SERVICE_REVISION, SESSIONS_REVISION)
_MAX_SESSIONS = 100_000


def to_grant(record: GrantRecord) -> Grant:
    """The engine's view of an active grant record."""
    if record.issued_at is None or record.expires_at is None:
        raise StoreError(f"grant `{record.id}` is not active")
    return Grant(
        id=record.id,
        agent=record.agent,
        permission=record.permission,
        expires_at=record.expires_at,
        justification=record.justification,
        issued_at=record.issued_at,
        approved_by=record.decided_by,
    )


class StoreState:
    """Grants, labels, usage, standing and the active policy, cached over a store."""

    def __init__(
        self,
        store: Store,
        registry: Registry | None = None,
        *,
        staleness: float = 0.25,
        fallback_policy: CompiledPolicy | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.registry = registry if registry is not None else Registry(store)
        self.staleness = staleness
        self.fallback_policy = fallback_policy
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._revisions: tuple[int, ...] = (-1, -1, -1)
        self._generation = -1
        self._next_poll = float("-inf")
        self._grants: dict[str, tuple[Grant, ...]] | None = None
        self._switches: frozenset[tuple[str, str]] | None = None
        self._profiles: dict[str, AgentProfile | None] = {}
        self._labels: dict[str, frozenset[str]] = {}
        self._usage: dict[str, float] = {}
        self._policy: CompiledPolicy | None = None
        self._policy_digest: str | None = None
        self._policy_loaded = False

    # -- freshness -------------------------------------------------------------------------

    def invalidate(self) -> None:
        """Force a revision check on the next read (a change feed calls this)."""
        self._next_poll = float("-inf")

    def sync(self) -> None:
        """Drop caches whose revision moved. Raises :class:`StoreError` if unreachable."""
        now = self._monotonic()
        generation = self.store.local_generation
        if generation == self._generation and now < self._next_poll:
            return
        revisions = self.store.revisions(WATCHED)
        with self._lock:
            self._generation = generation
            self._next_poll = now + self.staleness
            old = self._revisions
            if revisions == old:
                return
            if revisions[0] != old[0]:
                self._profiles = {}
            if revisions[1] != old[1]:
                self._grants = None
                self._switches = None
                self._policy_loaded = False
            if revisions[2] != old[2]:
                self._labels = {}
            self._revisions = revisions

    # -- policy ----------------------------------------------------------------------------

    def policy(self) -> CompiledPolicy | None:
        """The active stored policy version, else the fallback (``None`` denies all)."""
        self.sync()
        if not self._policy_loaded:
            active = self.store.policies.active()
            if active is None:
                self._policy, self._policy_digest = None, None
            elif active.digest != self._policy_digest:
                self._policy = load_policy(active.text, f"policy-v{active.number}")
                self._policy_digest = active.digest
            self._policy_loaded = True
        return self._policy if self._policy is not None else self.fallback_policy

    # -- standing --------------------------------------------------------------------------

    def _profile(self, agent: str) -> AgentProfile | None:
        profiles = self._profiles
        if agent in profiles:
            return profiles[agent]
        profile = self.registry.profile(agent)
        profiles[agent] = profile
        return profile

    def _kill_switches(self) -> frozenset[tuple[str, str]]:
        switches = self._switches
        if switches is None:
            switches = frozenset((s.scope.value, s.target) for s in self.store.kill_switches.list())
            self._switches = switches
        return switches

    def standing(self, agent: str, now: datetime) -> Reason | None:
        """Why ``agent`` may not act at all right now, or ``None`` (conditional access)."""
        self.sync()
        profile = self._profile(agent)
        if profile is None:
            return Reason(ReasonCode.UNKNOWN_AGENT, f"agent `{agent}` is not registered")
        switches = self._kill_switches()
        if switches:
            blueprint = profile.agent.blueprint
            if (
                (KillScope.ALL.value, "*") in switches
                or (KillScope.AGENT.value, agent) in switches
                or (blueprint is not None and (KillScope.BLUEPRINT.value, blueprint) in switches)
            ):
                return Reason(ReasonCode.AGENT_INACTIVE, f"kill switch engaged for `{agent}`")
        failed = check_standing(profile.agent, profile.conditions, now)
        if failed is not None:
            return Reason(ReasonCode.AGENT_INACTIVE, f"agent `{agent}` fails `{failed}`")
        return None

    # -- grants ----------------------------------------------------------------------------

    def grants_for(self, agent: str, now: datetime | None = None) -> tuple[Grant, ...]:
        self.sync()
        grants = self._grants
        if grants is None:
            by_agent: dict[str, list[Grant]] = {}
            # Expired grants are kept: the engine reports them as `grant_expired`.
            for record in self.store.grants.list(status=GrantStatus.ACTIVE, limit=1_000_000):
                by_agent.setdefault(record.agent, []).append(to_grant(record))
            grants = {agent_id: tuple(items) for agent_id, items in by_agent.items()}
            self._grants = grants
        return grants.get(agent, ())

    # -- sessions --------------------------------------------------------------------------

    def labels(self, session: str) -> frozenset[str]:
        self.sync()
        labels = self._labels.get(session)
        if labels is None:
            labels = self.store.sessions.labels(session)
            if len(self._labels) >= _MAX_SESSIONS:
                self._labels = {}
            self._labels[session] = labels
        return labels

    def add_labels(self, session: str, labels: frozenset[str], now: datetime) -> None:
        if not labels:
            return
        self.store.sessions.add_labels(session, labels, now)
        with self._lock:
            self._labels[session] = self._labels.get(session, frozenset()) | labels

    # -- quotas ----------------------------------------------------------------------------

    @property
    def usage(self) -> Mapping[str, float]:
        """What this process last saw charged; a hint, re-checked by :meth:`apply_charges`."""
        return self._usage

    def apply_charges(self, charges: tuple[QuotaCharge, ...]) -> str | None:
        overflow, values = self.store.quotas.apply(charges)
        if overflow is None:
            with self._lock:
                if len(self._usage) > _MAX_SESSIONS:
                    self._usage = {}
                self._usage.update(values)
        return overflow
