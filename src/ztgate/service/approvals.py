"""Approvals for high-risk calls: bound to the exact call, decided by another human.

When policy (or a scanner) says ``approval_required``, the pipeline asks
:meth:`ApprovalService.resolve` with the call. The call is identified by a digest over
agent, tool, server, session and the canonical arguments, so an approval for "pay 900 to
globex" can never be spent on "pay 9000 to initech". The lifecycle:

``pending`` → (approver, before the deadline) → ``approved`` → (the same call, once, before
its use deadline) → ``consumed``; or ``pending`` → ``denied``; or → ``expired`` when the
deadline passes (a timeout is a deny). The agent that asked, and the human it acts for,
can never approve their own request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from ztgate.audit.canonical import canonical_bytes, sha256_hex, to_jsonable
from ztgate.errors import UsageError
from ztgate.service.memory import new_id
from ztgate.store import ApprovalRecord, ApprovalStatus, Store

_log = logging.getLogger("ztgate.service.approvals")

Notifier = Callable[[ApprovalRecord], None]


def call_digest(
    *, agent: str, tool: str, server: str | None, session: str | None, args: Mapping[str, Any]
) -> str:
    """SHA-256 over the canonical JSON of the call: what an approval is bound to."""
    body = {
        "agent": agent,
        "tool": tool,
        "server": server,
        "session": session,
        "args": to_jsonable(dict(args)),
    }
    return sha256_hex(canonical_bytes(body))


@dataclass(frozen=True, slots=True)
class Resolution:
    """``approved`` is the consumed approval that lets this call through, else ``pending``."""

    approval: ApprovalRecord
    approved: bool


class ApprovalService:
    def __init__(
        self,
        store: Store,
        *,
        timeout: timedelta = timedelta(minutes=15),
        use_window: timedelta = timedelta(minutes=15),
        notifiers: tuple[Notifier, ...] = (),
    ) -> None:
        if timeout <= timedelta(0) or use_window <= timedelta(0):
            raise UsageError("approval timeout and use window must be positive")
        self.store = store
        self.timeout = timeout
        self.use_window = use_window
        self.notifiers = notifiers

    def resolve(
        self,
        *,
        agent: str,
        tool: str,
        server: str | None,
        session: str | None,
        args: Mapping[str, Any],
        requested_by: str,
        now: datetime,
        detail: Mapping[str, Any] | None = None,
    ) -> Resolution:
        """Consume an approved approval for this exact call, or return the pending one
        (creating it when there is none)."""
        digest = call_digest(agent=agent, tool=tool, server=server, session=session, args=args)
        live = self.store.approvals.for_call(digest, now)
        for record in live:
            if record.status is ApprovalStatus.APPROVED and self.store.approvals.transition(
                record.id,
                expected=ApprovalStatus.APPROVED,
                target=ApprovalStatus.CONSUMED,
                not_expired_at=now,
                consumed_at=now,
            ):
                return Resolution(record, True)
        for record in live:
            if record.status is ApprovalStatus.PENDING:
                return Resolution(record, False)
        record = ApprovalRecord(
            id=new_id("apr"),
            call_digest=digest,
            agent=agent,
            tool=tool,
            server=server,
            session=session,
            requested_by=requested_by,
            status=ApprovalStatus.PENDING,
            created_at=now,
            expires_at=now + self.timeout,
            detail=dict(detail or {}),
        )
        self.store.approvals.add(record)
        for notify in self.notifiers:
            try:
                notify(record)
            except Exception as error:  # a notifier never blocks the decision path
                _log.warning("approval notifier failed: %s", type(error).__name__)
        return Resolution(record, False)

    def get(self, approval_id: str, now: datetime) -> ApprovalRecord:
        self.store.approvals.expire(now)
        record = self.store.approvals.get(approval_id)
        if record is None:
            raise UsageError(f"no approval `{approval_id}`")
        return record

    def list(
        self, now: datetime, *, status: ApprovalStatus | None = None, agent: str | None = None
    ) -> list[ApprovalRecord]:
        self.store.approvals.expire(now)
        return self.store.approvals.list(status=status, agent=agent)

    def approve(
        self, approval_id: str, *, approver: str, now: datetime, note: str | None = None
    ) -> ApprovalRecord:
        return self._decide(approval_id, approver, now, note, ApprovalStatus.APPROVED)

    def deny(
        self, approval_id: str, *, approver: str, now: datetime, note: str | None = None
    ) -> ApprovalRecord:
        return self._decide(approval_id, approver, now, note, ApprovalStatus.DENIED)

    def _decide(
        self,
        approval_id: str,
        approver: str,
        now: datetime,
        note: str | None,
        target: ApprovalStatus,
    ) -> ApprovalRecord:
        if not approver or not approver.strip():
            raise UsageError("an approval decision needs the approver's name")
        record = self.get(approval_id, now)
        if approver in (record.requested_by, record.agent):
            raise UsageError("the requester cannot decide their own approval")
        if record.status is ApprovalStatus.EXPIRED:
            raise UsageError(f"approval `{approval_id}` timed out")
        if record.status is not ApprovalStatus.PENDING:
            raise UsageError(f"approval `{approval_id}` is already `{record.status.value}`")
        values: dict[str, Any] = {"decided_by": approver, "decided_at": now, "note": note}
        if target is ApprovalStatus.APPROVED:
            values["expires_at"] = now + self.use_window
        if not self.store.approvals.transition(
            approval_id,
            expected=ApprovalStatus.PENDING,
            target=target,
            not_expired_at=now,
            **values,
        ):
            raise UsageError(f"approval `{approval_id}` was decided or timed out meanwhile")
        return self.get(approval_id, now)
