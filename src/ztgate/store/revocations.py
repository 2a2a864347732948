"""Revoked token ids and used client-assertion ids (replay protection)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import Connection, delete, insert, select
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from ztgate.errors import StoreError
from ztgate.store import _schema as s
from ztgate.store.records import Revocation

if TYPE_CHECKING:
    from ztgate.store.store import Store


class RevocationRepository:
    """A revoked ``jti`` is kept until the token it names would have expired."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def revoke(self, revocation: Revocation, conn: Connection | None = None) -> None:
        with self._store.transaction(conn) as c:
            exists = c.execute(
                select(s.revocations.c.jti).where(s.revocations.c.jti == revocation.jti)
            ).first()
            if exists is None:
                c.execute(
                    insert(s.revocations).values(
                        jti=revocation.jti,
                        revoked_at=revocation.revoked_at,
                        expires_at=revocation.expires_at,
                        reason=revocation.reason,
                    )
                )
            self._store.bump_revision(c)

    def is_revoked(self, jti: str, conn: Connection | None = None) -> bool:
        with self._store.transaction(conn) as c:
            row = c.execute(select(s.revocations.c.jti).where(s.revocations.c.jti == jti)).first()
        return row is not None

    def active(self, now: datetime, conn: Connection | None = None) -> frozenset[str]:
        """Every revoked jti whose token could still be presented at ``now``."""
        with self._store.transaction(conn) as c:
            rows = c.execute(select(s.revocations.c.jti).where(s.revocations.c.expires_at > now))
            return frozenset(rows.scalars())

    def purge(self, now: datetime, conn: Connection | None = None) -> int:
        with self._store.transaction(conn) as c:
            return c.execute(
                delete(s.revocations).where(s.revocations.c.expires_at <= now)
            ).rowcount


class AssertionReplayRepository:
    """Remembers client-assertion ids until they expire so each is accepted once."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def remember(self, key: str, expires_at: datetime, now: datetime) -> bool:
        """Record ``key``; ``False`` if it was already used (a replay)."""
        try:
            with self._store.transaction() as c:
                c.execute(delete(s.used_assertions).where(s.used_assertions.c.expires_at <= now))
                c.execute(insert(s.used_assertions).values(key=key, expires_at=expires_at))
        except StoreError as error:
            if isinstance(error.__cause__, SAIntegrityError):
                return False
            raise
        return True
