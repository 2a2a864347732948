"""Approvals: a human decision on one exact call, consumed by exactly one retry.

State changes are compare-and-set updates (``WHERE status = expected``), so two approvers
racing, or two retries racing for one approval, resolve to exactly one winner.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, insert, select, update

from ztgate.store import _schema as s
from ztgate.store.grants import SERVICE_REVISION
from ztgate.store.records import ApprovalRecord, ApprovalStatus

if TYPE_CHECKING:
    from ztgate.store.store import Store


def _approval(row: Row[Any]) -> ApprovalRecord:
    m = row._mapping
    return ApprovalRecord(
        id=m["id"],
        call_digest=m["call_digest"],
        agent=m["agent"],
        tool=m["tool"],
        server=m["server"],
        session=m["session"],
        requested_by=m["requested_by"],
        status=ApprovalStatus(m["status"]),
        created_at=m["created_at"],
        expires_at=m["expires_at"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
        consumed_at=m["consumed_at"],
        note=m["note"],
        detail=dict(m["detail"]),
    )


class ApprovalRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, approval: ApprovalRecord, conn: Connection | None = None) -> None:
        with self._store.transaction(conn) as c:
            c.execute(
                insert(s.approvals).values(
                    id=approval.id,
                    call_digest=approval.call_digest,
                    agent=approval.agent,
                    tool=approval.tool,
                    server=approval.server,
                    session=approval.session,
                    requested_by=approval.requested_by,
                    status=approval.status.value,
                    created_at=approval.created_at,
                    expires_at=approval.expires_at,
                    decided_by=approval.decided_by,
                    decided_at=approval.decided_at,
                    consumed_at=approval.consumed_at,
                    note=approval.note,
                    detail=dict(approval.detail),
                )
            )

    def get(self, approval_id: str, conn: Connection | None = None) -> ApprovalRecord | None:
        with self._store.transaction(conn) as c:
            row = c.execute(select(s.approvals).where(s.approvals.c.id == approval_id)).first()
        return _approval(row) if row is not None else None

    def for_call(
        self, call_digest: str, now: datetime, conn: Connection | None = None
    ) -> list[ApprovalRecord]:
        """Live (pending or approved, not expired) approvals for one call, oldest first."""
        table = s.approvals
        query = (
            select(table)
            .where(
                table.c.call_digest == call_digest,
                table.c.status.in_([ApprovalStatus.PENDING.value, ApprovalStatus.APPROVED.value]),
                table.c.expires_at > now,
            )
            .order_by(table.c.created_at)
        )
        with self._store.transaction(conn) as c:
            return [_approval(r) for r in c.execute(query)]

    def list(
        self,
        *,
        status: ApprovalStatus | None = None,
        agent: str | None = None,
        limit: int = 1000,
        conn: Connection | None = None,
    ) -> list[ApprovalRecord]:
        table = s.approvals
        query = select(table).order_by(table.c.created_at, table.c.id).limit(limit)
        if status is not None:
            query = query.where(table.c.status == status.value)
        if agent is not None:
            query = query.where(table.c.agent == agent)
        with self._store.transaction(conn) as c:
            return [_approval(r) for r in c.execute(query)]

    def transition(
        self,
        approval_id: str,
        *,
        expected: ApprovalStatus,
        target: ApprovalStatus,
        not_expired_at: datetime | None = None,
        conn: Connection | None = None,
        **values: Any,
    ) -> bool:
        """Compare-and-set the status; with ``not_expired_at`` only a live approval moves."""
        table = s.approvals
        query = update(table).where(table.c.id == approval_id, table.c.status == expected.value)
        if not_expired_at is not None:
            query = query.where(table.c.expires_at > not_expired_at)
        with self._store.transaction(conn) as c:
            result = c.execute(query.values(status=target.value, **values))
            if result.rowcount != 1:
                return False
            self._store.bump_revision(c, SERVICE_REVISION)
        return True

    def expire(self, now: datetime, conn: Connection | None = None) -> int:
        """Mark every pending or approved approval past its deadline as expired."""
        table = s.approvals
        with self._store.transaction(conn) as c:
            return int(
                c.execute(
                    update(table)
                    .where(
                        table.c.status.in_(
                            [ApprovalStatus.PENDING.value, ApprovalStatus.APPROVED.value]
                        ),
                        table.c.expires_at <= now,
                    )
                    .values(status=ApprovalStatus.EXPIRED.value)
                ).rowcount
            )
