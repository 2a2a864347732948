"""Policy versions: every uploaded text is kept; activating one is how a policy changes.

Rolling back is activating an older version. Activation bumps the ``service`` revision so
every replica reloads the active version.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, func, insert, select, update

from ztgate.errors import StoreError
from ztgate.store import _schema as s
from ztgate.store.grants import SERVICE_REVISION
from ztgate.store.records import PolicyVersion

if TYPE_CHECKING:
    from ztgate.store.store import Store


def _version(row: Row[Any]) -> PolicyVersion:
    m = row._mapping
    return PolicyVersion(
        number=int(m["number"]),
        digest=m["digest"],
        text=m["text"],
        uploaded_by=m["uploaded_by"],
        uploaded_at=m["uploaded_at"],
        active=bool(m["active"]),
        comment=m["comment"],
        activated_at=m["activated_at"],
    )


class PolicyRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(
        self,
        text: str,
        *,
        digest: str,
        uploaded_by: str,
        now: datetime,
        comment: str = "",
        conn: Connection | None = None,
    ) -> PolicyVersion:
        table = s.policy_versions
        with self._store.transaction(conn) as c:
            number = int(c.execute(select(func.coalesce(func.max(table.c.number), 0))).scalar_one())
            record = PolicyVersion(number + 1, digest, text, uploaded_by, now, False, comment)
            c.execute(
                insert(table).values(
                    number=record.number,
                    digest=digest,
                    text=text,
                    uploaded_by=uploaded_by,
                    uploaded_at=now,
                    active=False,
                    activated_at=None,
                    comment=comment,
                )
            )
        return record

    def get(self, number: int, conn: Connection | None = None) -> PolicyVersion | None:
        table = s.policy_versions
        with self._store.transaction(conn) as c:
            row = c.execute(select(table).where(table.c.number == number)).first()
        return _version(row) if row is not None else None

    def active(self, conn: Connection | None = None) -> PolicyVersion | None:
        table = s.policy_versions
        with self._store.transaction(conn) as c:
            row = c.execute(select(table).where(table.c.active.is_(True))).first()
        return _version(row) if row is not None else None

    def list(self, conn: Connection | None = None) -> list[PolicyVersion]:
        table = s.policy_versions
        with self._store.transaction(conn) as c:
            return [_version(r) for r in c.execute(select(table).order_by(table.c.number))]

    def activate(self, number: int, now: datetime, conn: Connection | None = None) -> None:
        table = s.policy_versions
        with self._store.transaction(conn) as c:
            exists = c.execute(select(table.c.number).where(table.c.number == number)).first()
            if exists is None:
                raise StoreError(f"no policy version `{number}`")
            c.execute(update(table).where(table.c.active.is_(True)).values(active=False))
            c.execute(
                update(table).where(table.c.number == number).values(active=True, activated_at=now)
            )
            self._store.bump_revision(c, SERVICE_REVISION)
