"""Kill switches and admin API keys: the operator side of the store."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, delete, select, update

from ztgate.errors import StoreError
from ztgate.store import _schema as s
from ztgate.store._sql import insert_ignore
from ztgate.store.grants import SERVICE_REVISION
from ztgate.store.records import AdminKey, AdminRole, KillScope, KillSwitch

if TYPE_CHECKING:
    from ztgate.store.store import Store


def _switch(row: Row[Any]) -> KillSwitch:
    m = row._mapping
    return KillSwitch(KillScope(m["scope"]), m["target"], m["engaged_at"], m["actor"], m["reason"])


class KillSwitchRepository:
    """Engaged switches; engaging or releasing one bumps the ``service`` revision."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def engage(self, switch: KillSwitch, conn: Connection | None = None) -> bool:
        """Engage ``switch``; ``False`` when it was already engaged."""
        with self._store.transaction(conn) as c:
            added = insert_ignore(
                c,
                s.kill_switches,
                scope=switch.scope.value,
                target=switch.target,
                engaged_at=switch.engaged_at,
                actor=switch.actor,
                reason=switch.reason,
            )
            self._store.bump_revision(c, SERVICE_REVISION)
        return added

    def release(self, scope: KillScope, target: str, conn: Connection | None = None) -> bool:
        table = s.kill_switches
        with self._store.transaction(conn) as c:
            removed = c.execute(
                delete(table).where(table.c.scope == scope.value, table.c.target == target)
            ).rowcount
            self._store.bump_revision(c, SERVICE_REVISION)
        return bool(removed)

    def list(self, conn: Connection | None = None) -> list[KillSwitch]:
        table = s.kill_switches
        with self._store.transaction(conn) as c:
            return [_switch(r) for r in c.execute(select(table).order_by(table.c.engaged_at))]


def _key(row: Row[Any]) -> AdminKey:
    m = row._mapping
    return AdminKey(
        m["key_hash"], m["name"], AdminRole(m["role"]), m["created_at"], m["revoked_at"]
    )


class AdminKeyRepository:
    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, key: AdminKey, conn: Connection | None = None) -> None:
        with self._store.transaction(conn) as c:
            if not insert_ignore(
                c,
                s.admin_keys,
                key_hash=key.key_hash,
                name=key.name,
                role=key.role.value,
                created_at=key.created_at,
                revoked_at=key.revoked_at,
            ):
                raise StoreError("admin key already exists")

    def by_hash(self, key_hash: str, conn: Connection | None = None) -> AdminKey | None:
        table = s.admin_keys
        with self._store.transaction(conn) as c:
            row = c.execute(select(table).where(table.c.key_hash == key_hash)).first()
        return _key(row) if row is not None else None

    def list(self, conn: Connection | None = None) -> list[AdminKey]:
        table = s.admin_keys
        with self._store.transaction(conn) as c:
            return [_key(r) for r in c.execute(select(table).order_by(table.c.created_at))]

    def revoke(self, name: str, now: datetime, conn: Connection | None = None) -> int:
        table = s.admin_keys
        with self._store.transaction(conn) as c:
            return int(
                c.execute(
                    update(table)
                    .where(table.c.name == name, table.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                ).rowcount
            )
