"""Lifecycle events: the :class:`EventSink` protocol and its store-backed default.

Every registry change and every refused authentication becomes a :class:`LifecycleEvent`.
The audit capability implements :class:`EventSink` to put them in the tamper-evident log;
until it is wired in, :class:`StoreEventSink` keeps them in the ``lifecycle_events`` table.
Events carry the precise reason for operators; callers only ever see a generic error.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from sqlalchemy import Connection, Row, insert, select

from ztgate.store import _schema as s
from ztgate.store.records import LifecycleEvent

if TYPE_CHECKING:
    from ztgate.store.store import Store


@runtime_checkable
class EventSink(Protocol):
    """Receives lifecycle events. Must raise (not swallow) when it cannot record one."""

    def emit(self, event: LifecycleEvent) -> None: ...


def _event(row: Row[Any]) -> LifecycleEvent:
    m = row._mapping
    return LifecycleEvent(
        id=m["id"],
        kind=m["kind"],
        subject=m["subject"],
        at=m["at"],
        actor=m["actor"],
        reason=m["reason"],
        detail=dict(m["detail"]),
    )


class EventRepository:
    """Append-only table of lifecycle events, newest last."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def append(self, event: LifecycleEvent, conn: Connection | None = None) -> None:
        with self._store.transaction(conn) as c:
            c.execute(
                insert(s.lifecycle_events).values(
                    kind=event.kind,
                    subject=event.subject,
                    at=event.at,
                    actor=event.actor,
                    reason=event.reason,
                    detail=dict(event.detail),
                )
            )

    def list(
        self,
        *,
        subject: str | None = None,
        kind: str | None = None,
        limit: int = 1000,
        conn: Connection | None = None,
    ) -> list[LifecycleEvent]:
        query = select(s.lifecycle_events).order_by(s.lifecycle_events.c.id).limit(limit)
        if subject is not None:
            query = query.where(s.lifecycle_events.c.subject == subject)
        if kind is not None:
            query = query.where(s.lifecycle_events.c.kind == kind)
        with self._store.transaction(conn) as c:
            return [_event(r) for r in c.execute(query)]


class StoreEventSink:
    """The default sink: events land in the store, next to the data they describe."""

    def __init__(self, store: Store) -> None:
        self._events = store.events

    def emit(self, event: LifecycleEvent) -> None:
        self._events.append(event)
