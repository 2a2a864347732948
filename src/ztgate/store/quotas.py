"""Quota counters for rate limits and spending caps, correct across threads and processes.

``apply`` is the store half of the engine's check-and-charge: in one transaction, for
every charge, make sure the counter row exists, then add the amount with a conditional
``UPDATE ... WHERE value + amount <= limit``. Both statements are writes, so the
transaction holds the database's write lock from its first statement (SQLite) or the row
lock (PostgreSQL re-evaluates the condition after waiting for a concurrent writer); a
charge that would overflow rolls every charge of the call back. No read-then-write race
is possible: two callers can never both spend the last unit.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, select, update

from ztgate.core.models import QuotaCharge
from ztgate.store import _schema as s
from ztgate.store._sql import insert_ignore

if TYPE_CHECKING:
    from ztgate.store.store import Store


class _Overflow(Exception):
    def __init__(self, quota_id: str) -> None:
        super().__init__(quota_id)
        self.quota_id = quota_id


class QuotaRepository:
    """Counters keyed by the engine's ``quota|subject|window_start`` keys."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def apply(
        self, charges: Iterable[QuotaCharge], conn: Connection | None = None
    ) -> tuple[str | None, dict[str, float]]:
        """Apply every charge or none.

        Returns ``(None, new_values)`` on success, ``(quota_id, {})`` when that quota
        would overflow (nothing was charged).
        """
        table = s.quota_counters
        values: dict[str, float] = {}
        try:
            with self._store.transaction(conn) as c:
                for charge in charges:
                    insert_ignore(
                        c,
                        table,
                        key=charge.key,
                        value=0.0,
                        window_end=charge.window_start + charge.window_seconds,
                    )
                    result = c.execute(
                        update(table)
                        .where(
                            table.c.key == charge.key,
                            table.c.value + charge.amount <= charge.limit,
                        )
                        .values(value=table.c.value + charge.amount)
                        .returning(table.c.value)
                    )
                    row = result.first()
                    if row is None:
                        raise _Overflow(charge.quota_id)
                    values[charge.key] = float(row[0])
        except _Overflow as overflow:
            return overflow.quota_id, {}
        return None, values

    def usage(self, keys: Iterable[str], conn: Connection | None = None) -> dict[str, float]:
        wanted = list(keys)
        if not wanted:
            return {}
        table = s.quota_counters
        with self._store.transaction(conn) as c:
            rows = c.execute(select(table.c.key, table.c.value).where(table.c.key.in_(wanted)))
            return {key: float(value) for key, value in rows}

    def all(self, conn: Connection | None = None) -> Mapping[str, float]:
        table = s.quota_counters
        with self._store.transaction(conn) as c:
            return {
                key: float(value) for key, value in c.execute(select(table.c.key, table.c.value))
            }

    def purge(self, now_epoch: int, conn: Connection | None = None) -> int:
        """Delete counters whose window ended before ``now_epoch``."""
        with self._store.transaction(conn) as c:
            return int(
                c.execute(
                    delete(s.quota_counters).where(s.quota_counters.c.window_end < now_epoch)
                ).rowcount
            )
