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
from typing import Any, Protocol

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


class _HashSource(Protocol):
    def _await_hash(self, receipt: Receipt) -> str: ...


class Receipt:
    """Acknowledgement of an append: the record's position and hash.

    In batched mode the writer thread seals records, so a receipt is handed out before
    its hash exists: ``seq`` is final at once, and reading ``hash`` waits until the
    record is durable (as :meth:`AuditLog.flush` would) and raises
    :class:`~ztgate.errors.AuditError` if the log failed first.
    """

    __slots__ = ("_hash", "_source", "seq")

    def __init__(self, seq: int, hash: str | None = None, source: _HashSource | None = None):
        if hash is None and source is None:
            raise ValueError("a receipt needs its hash or somewhere to wait for it")
        self.seq = seq
        self._hash = hash
        self._source = source

    @property
    def hash(self) -> str:
        value = self._hash
        if value is None:
            assert self._source is not None
            value = self._source._await_hash(self)
        return value

    def _seal(self, value: str) -> None:
        self._hash = value

    @property
    def sealed(self) -> bool:
        """True once the hash is known (always, in strict mode)."""
        return self._hash is not None

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Receipt):
            return NotImplemented
        return (self.seq, self.hash) == (other.seq, other.hash)

    def __hash__(self) -> int:
        return hash(self.seq)

    def __repr__(self) -> str:
        return f"Receipt(seq={self.seq}, hash={self._hash or '<pending>'})"


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


def encode_event(event: AuditEvent) -> tuple[str, str, tuple[str | None, ...]]:
    """The event's record type, canonical text and index columns.

    Encoding freezes the event: whatever the caller does with its objects afterwards,
    these bytes are what will be chained.
    """
    event_dict = event.to_dict()
    record_type = event.type
    return record_type, canonical_text(event_dict), index_fields(record_type, event_dict)


def seal_record(
    seq: int,
    prev_hash: str,
    record_type: str,
    event_text: str,
    now: datetime,
    index: tuple[str | None, ...],
) -> StoredRecord:
    """Chain an already canonical event as record ``seq`` following ``prev_hash``.

    Canonical JSON is compositional: with keys sorted (``event`` < ``prev`` < ``seq`` <
    ``time`` < ``type`` < ``v``) and no whitespace, the record's text is the event's text
    spliced between fixed ASCII fields, so the event is never encoded twice. ``prev_hash``
    and ``record_type`` are internal values (hex digits, a type name) that need no
    escaping; the known-answer vectors pin the result to ``canonical_text`` of the dict.
    """
    text = (
        f'{{"event":{event_text},"prev":"{prev_hash}","seq":{seq:d},'
        f'"time":"{format_time(now)}","type":"{record_type}","v":{FORMAT_VERSION:d}}}'
    )
    agent, tool, effect, kind = index
    return StoredRecord(
        seq,
        prev_hash,
        hashlib.sha256(text.encode("ascii")).hexdigest(),
        text,
        time_us(now),
        record_type,
        agent,
        tool,
        effect,
        kind,
    )


def build_record(seq: int, prev_hash: str, event: AuditEvent, now: datetime) -> StoredRecord:
    """Seal ``event`` as record ``seq`` following ``prev_hash``."""
    record_type, text, index = encode_event(event)
    return seal_record(seq, prev_hash, record_type, text, now, index)


def record_event(data: Mapping[str, Any]) -> AuditEvent:
    """The event inside a parsed record."""
    if data.get("type") == EVENT_DECISION:
        return DecisionEvent.from_dict(data["event"])
    return LifecycleEvent.from_dict(data["event"])
