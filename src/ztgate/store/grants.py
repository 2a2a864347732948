"""Grants and session labels: the run-time facts the policy engine reads as arguments.

Every write that changes what a decision could see bumps a revision in the same
transaction (``service`` for grants, ``sessions`` for labels), so caches in every process
know they are stale.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, insert, select, update

from ztgate.store import _schema as s
from ztgate.store._sql import insert_ignore
from ztgate.store.records import GrantRecord, GrantStatus

if TYPE_CHECKING:
    from ztgate.store.store import Store

SERVICE_REVISION = "service"
SESSIONS_REVISION = "sessions"


def _grant(row: Row[Any]) -> GrantRecord:
    m = row._mapping
    return GrantRecord(
        id=m["id"],
        agent=m["agent"],
        permission=m["permission"],
        justification=m["justification"],
        status=GrantStatus(m["status"]),
        requested_by=m["requested_by"],
        requested_at=m["requested_at"],
        ttl_seconds=int(m["ttl_seconds"]),
        issued_at=m["issued_at"],
        expires_at=m["expires_at"],
        decided_by=m["decided_by"],
        decided_at=m["decided_at"],
    )


class GrantRepository:
    """Grants by id and by agent; status changes are compare-and-set on the old status."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, grant: GrantRecord, conn: Connection | None = None) -> None:
        with self._store.transaction(conn) as c:
            c.execute(
                insert(s.grants).values(
                    id=grant.id,
                    agent=grant.agent,
                    permission=grant.permission,
                    justification=grant.justification,
                    status=grant.status.value,
                    requested_by=grant.requested_by,
                    requested_at=grant.requested_at,
                    ttl_seconds=grant.ttl_seconds,
                    issued_at=grant.issued_at,
                    expires_at=grant.expires_at,
                    decided_by=grant.decided_by,
                    decided_at=grant.decided_at,
                )
            )
            self._store.bump_revision(c, SERVICE_REVISION)

    def get(self, grant_id: str, conn: Connection | None = None) -> GrantRecord | None:
        with self._store.transaction(conn) as c:
            row = c.execute(select(s.grants).where(s.grants.c.id == grant_id)).first()
        return _grant(row) if row is not None else None

    def active(self, now: datetime, conn: Connection | None = None) -> list[GrantRecord]:
        """Every active grant that has not expired at ``now``."""
        query = select(s.grants).where(
            s.grants.c.status == GrantStatus.ACTIVE.value, s.grants.c.expires_at > now
        )
        with self._store.transaction(conn) as c:
            return [_grant(r) for r in c.execute(query)]

    def list(
        self,
        *,
        agent: str | None = None,
        status: GrantStatus | None = None,
        limit: int = 1000,
        conn: Connection | None = None,
    ) -> list[GrantRecord]:
        query = select(s.grants).order_by(s.grants.c.requested_at, s.grants.c.id).limit(limit)
        if agent is not None:
            query = query.where(s.grants.c.agent == agent)
        if status is not None:
            query = query.where(s.grants.c.status == status.value)
        with self._store.transaction(conn) as c:
            return [_grant(r) for r in c.execute(query)]

    def transition(
        self,
        grant_id: str,
        *,
        expected: GrantStatus,
        target: GrantStatus,
        conn: Connection | None = None,
        **values: Any,
    ) -> bool:
        """Move a grant from ``expected`` to ``target``; ``False`` if it was not ``expected``."""
        with self._store.transaction(conn) as c:
            result = c.execute(
                update(s.grants)
                .where(s.grants.c.id == grant_id, s.grants.c.status == expected.value)
                .values(status=target.value, **values)
            )
            if result.rowcount != 1:
                return False
            self._store.bump_revision(c, SERVICE_REVISION)
        return True


class SessionRepository:
    """Labels per session. Labels are only ever added: a session never becomes cleaner."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def labels(self, session: str, conn: Connection | None = None) -> frozenset[str]:
        with self._store.transaction(conn) as c:
            rows = c.execute(
                select(s.session_labels.c.label).where(s.session_labels.c.session == session)
            )
            return frozenset(rows.scalars())

    def add_labels(
        self, session: str, labels: frozenset[str], now: datetime, conn: Connection | None = None
    ) -> frozenset[str]:
        """Add ``labels``; returns the labels that were new."""
        added: set[str] = set()
        with self._store.transaction(conn) as c:
            existing = set(
                c.execute(
                    select(s.session_labels.c.label).where(s.session_labels.c.session == session)
                ).scalars()
            )
            for label in sorted(labels - existing):
                # A concurrent writer may add the same label first: it is there either way.
                if insert_ignore(c, s.session_labels, session=session, label=label, added_at=now):
                    added.add(label)
            if added:
                self._store.bump_revision(c, SESSIONS_REVISION)
        return frozenset(added)
