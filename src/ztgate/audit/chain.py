"""The hash chain: how one event becomes an immutable, linked record.

A record is the canonical JSON (see :mod:`ztgate.audit.canonical`) of::

    {"v": 1, "seq": n, "prev": <hex hash of record n-1>, "type": "decision"|"lifecycle",
     "time": <RFC 3339 UTC, when it was appended>, "event": {...}}

and its hash is ``SHA-256`` over exactly those bytes, in lowercase hex. Record 1 links to
:data:`GENESIS` (64 zeros). Because ``seq`` and ``prev`` are inside the hashed bytes, a
record cannot be edited, moved, removed or slipped in without breaking a hash or a link;
rewriting the whole tail is caught by the signed checkpoints (:mod:`.checkpoint`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ztgate.audit.canonical import canonical_text
from ztgate.audit.events import (
    EVENT_DECISION,
    AuditEvent,
    DecisionEvent,
    LifecycleEvent,
    format_time,
)

FORMAT_VERSION = 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
GENESIS = "0" * 64


@dataclass(frozen=True, slots=True)
class Receipt:
    """Acknowledgement of an append: the record's position and hash."""

    seq: int
    hash: str


@dataclass(frozen=True, slots=True)
class StoredRecord:
    """One row of the log as stored: the canonical text plus its chain fields.

    ``agent``/``tool``/``effect``/``kind``/``time_us`` are derived index columns for
    queries; verification checks that they agree with the hashed text.
    """

    seq: int
    prev_hash: str
    hash: str
    record: str
    time_us: int
    type: str
    agent: str | None
    tool: str | None
    effect: str | None
    kind: str | None


def index_fields(record_type: str, event: Mapping[str, Any]) -> tuple[str | None, ...]:
    """Derived query columns (agent, tool, effect, kind) from an event dict."""
    if record_type == EVENT_DECISION:
        return event.get("agent"), event.get("tool"), event.get("effect"), None
    return event.get("subject"), None, None, event.get("kind")


def time_us(value: datetime) -> int:
    """Microseconds since the epoch, exactly (no float rounding)."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def build_record(seq: int, prev_hash: str, event: AuditEvent, now: datetime) -> StoredRecord:
    """Seal ``event`` as record ``seq`` following ``prev_hash``."""
    event_dict = event.to_dict()
    record_type = event.type
    stamp = format_time(now)
    text = canonical_text(
        {
            "v": FORMAT_VERSION,
            "seq": seq,
            "prev": prev_hash,
            "type": record_type,
            "time": stamp,
            "event": event_dict,
        }
    )
    agent, tool, effect, kind = index_fields(record_type, event_dict)
    return StoredRecord(
        seq=seq,
        prev_hash=prev_hash,
        hash=hashlib.sha256(text.encode("ascii")).hexdigest(),
        record=text,
        time_us=time_us(now),
        type=record_type,
        agent=agent,
        tool=tool,
        effect=effect,
        kind=kind,
    )


def record_event(data: Mapping[str, Any]) -> AuditEvent:
    """The event inside a parsed record."""
    if data.get("type") == EVENT_DECISION:
        return DecisionEvent.from_dict(data["event"])
    return LifecycleEvent.from_dict(data["event"])
