"""Task-scoped grants in the store: requested with a justification and a TTL, released
when the task is done. A ``task`` permission is granted at once; an ``elevated`` one waits
for a human other than the requester, and its TTL starts when it is approved."""

from __future__ import annotations

from datetime import datetime, timedelta

from ztgate.core.policy import CompiledPolicy
from ztgate.core.policy.ast import Tier
from ztgate.errors import UsageError
from ztgate.service.memory import new_id
from ztgate.store import GrantRecord, GrantStatus, Store

MAX_GRANT_TTL = timedelta(hours=24)


def permission_tier(policy: CompiledPolicy, agent: str, permission: str) -> Tier | None:
    """The tier of ``permission`` among the agent's blueprints' task/elevated permissions."""
    entry = policy.agents.get(agent)
    if entry is None:
        return None
    for name in entry.blueprints:
        for perm in policy.document.blueprints[name].permissions:
            if perm.id == permission and perm.tier in (Tier.TASK, Tier.ELEVATED):
                return perm.tier
    return None


class GrantService:
    def __init__(self, store: Store) -> None:
        self.store = store

    def request(
        self,
        policy: CompiledPolicy | None,
        *,
        agent: str,
        permission: str,
        justification: str,
        ttl: timedelta,
        requested_by: str,
        now: datetime,
    ) -> GrantRecord:
        if policy is None:
            raise UsageError("no policy is active")
        if not timedelta(0) < ttl <= MAX_GRANT_TTL:
            raise UsageError("grant lifetime must be more than 0 and at most 24 hours")
        if not justification.strip():
            raise UsageError("a grant needs a justification")
        if not requested_by.strip():
            raise UsageError("a grant request needs the requester's name")
        tier = permission_tier(policy, agent, permission)
        if tier is None:
            raise UsageError(f"agent `{agent}` has no task or elevated permission `{permission}`")
        seconds = int(ttl.total_seconds())
        if seconds < 1:
            raise UsageError("grant lifetime must be at least one second")
        active = tier is Tier.TASK
        record = GrantRecord(
            id=new_id("grant"),
            agent=agent,
            permission=permission,
            justification=justification,
            status=GrantStatus.ACTIVE if active else GrantStatus.PENDING,
            requested_by=requested_by,
            requested_at=now,
            ttl_seconds=seconds,
            issued_at=now if active else None,
            expires_at=now + timedelta(seconds=seconds) if active else None,
        )
        self.store.grants.add(record)
        return record

    def get(self, grant_id: str) -> GrantRecord:
        record = self.store.grants.get(grant_id)
        if record is None:
            raise UsageError(f"no grant `{grant_id}`")
        return record

    def approve(self, grant_id: str, *, approver: str, now: datetime) -> GrantRecord:
        record = self._decidable(grant_id, approver)
        if not self.store.grants.transition(
            grant_id,
            expected=GrantStatus.PENDING,
            target=GrantStatus.ACTIVE,
            decided_by=approver,
            decided_at=now,
            issued_at=now,
            expires_at=now + timedelta(seconds=record.ttl_seconds),
        ):
            raise UsageError(f"grant `{grant_id}` was decided meanwhile")
        return self.get(grant_id)

    def deny(self, grant_id: str, *, approver: str, now: datetime) -> GrantRecord:
        self._decidable(grant_id, approver)
        if not self.store.grants.transition(
            grant_id,
            expected=GrantStatus.PENDING,
            target=GrantStatus.DENIED,
            decided_by=approver,
            decided_at=now,
        ):
            raise UsageError(f"grant `{grant_id}` was decided meanwhile")
        return self.get(grant_id)

    def release(self, grant_id: str, *, now: datetime) -> GrantRecord:
        record = self.get(grant_id)
        if record.status not in (GrantStatus.ACTIVE, GrantStatus.PENDING):
            raise UsageError(f"grant `{grant_id}` is `{record.status.value}`")
        if not self.store.grants.transition(
            grant_id, expected=record.status, target=GrantStatus.RELEASED, decided_at=now
        ):
            raise UsageError(f"grant `{grant_id}` changed meanwhile")
        return self.get(grant_id)

    def _decidable(self, grant_id: str, approver: str) -> GrantRecord:
        if not approver or not approver.strip():
            raise UsageError("a grant decision needs the approver's name")
        record = self.get(grant_id)
        if approver in (record.requested_by, record.agent):
            raise UsageError("the requester cannot approve their own grant")
        if record.status is not GrantStatus.PENDING:
            raise UsageError(f"grant `{grant_id}` is `{record.status.value}`")
        return record
