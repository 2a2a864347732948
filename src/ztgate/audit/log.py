"""The audit log: the one object the decision path appends to.

Two durability modes, chosen per deployment and stated in every receipt's contract:

* ``strict`` — ``append`` returns after the record's transaction has been committed and
  fsynced. An acknowledged record survives a crash.
* ``batched`` — ``append`` fixes the record's place in the chain (its sequence number)
  and queues it; a writer thread seals (redacts, encodes, hashes) and group-commits the
  queue at most ``batch_max_delay`` seconds (default 10 ms) or ``batch_max_records``
  records later. A crash can lose what is still queued; ``flush()`` waits until
  everything appended so far is durable. The queue is bounded (``batch_max_pending``):
  when it is full an append waits up to ``batch_full_timeout`` seconds for room and then
  raises, so the service denies rather than queueing without limit.

On the decision path (:meth:`AuditLog.record_decision`, :meth:`AuditLog.record_call`) the
caller only copies what it passed in (:mod:`.freeze`) and enqueues it; redaction, the
argument digest, canonical encoding and the hash chain run on the writer thread, in
enqueue order, before anything is written. Inputs that are not plain JSON-like data are
built on the caller exactly as before, so their errors still reach the decision.

Either way a failure is never silent: a strict append raises :class:`AuditError`; in
batched mode the first write failure poisons the log and every later call raises, so the
service denies instead of deciding without an audit trail.
"""

from __future__ import annotations

import atexit
import functools
import json
import logging
import threading
import time as _time
import weakref
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Literal, Protocol

from ztgate.audit.backends import Backend
from ztgate.audit.canonical import canonical_text, sha256_hex
from ztgate.audit.chain import (
    GENESIS,
    Receipt,
    StoredRecord,
    build_record,
    encode_event,
    index_fields,
    seal_record,
)
from ztgate.audit.checkpoint import Checkpoint, Signer
from ztgate.audit.events import (
    EVENT_DECISION,
    AuditEvent,
    DecisionEvent,
    LifecycleEvent,
    LifecycleKind,
    format_time,
    to_utc,
)
from ztgate.audit.freeze import FrozenCall, freeze_call
from ztgate.audit.merkle import Frontier
from ztgate.audit.redact import DEFAULT_REDACTION, RedactionPolicy
from ztgate.core.models import Context, Decision, Request
from ztgate.errors import AuditError, IntegrityError, UsageError

Durability = Literal["strict", "batched"]

_log = logging.getLogger("ztgate.audit")


class CheckpointExporter(Protocol):
    """Somewhere outside the log's own database that receives every checkpoint."""

    def export(self, checkpoint: Checkpoint) -> None: ...


def _utcnow() -> datetime:
    return datetime.now(UTC)


# What the batched queue holds: (seq, record time, receipt, payload). The payload is
# either a frozen call (sealed from scratch on the writer) or an event the caller already
# encoded: (record type, canonical event text, index columns).
_Encoded = tuple[str, str, tuple[str | None, ...]]
_Queued = tuple[int, datetime, Receipt, "tuple[FrozenCall, RedactionPolicy] | _Encoded"]


class AuditLog:
    """Thread-safe, hash-chained, checkpointed audit log over a :class:`Backend`."""

    def __init__(
        self,
        backend: Backend,
        signer: Signer,
        *,
        durability: Durability = "strict",
        checkpoint_every: int = 1000,
        checkpoint_interval: float | None = 60.0,
        exporters: Iterable[CheckpointExporter] = (),
        batch_max_records: int = 512,
        batch_max_delay: float = 0.010,
        batch_max_pending: int | None = None,
        batch_full_timeout: float = 1.0,
        redaction: RedactionPolicy = DEFAULT_REDACTION,
        clock: Callable[[], datetime] = _utcnow,
        owns_backend: bool = True,
    ) -> None:
        if durability not in ("strict", "batched"):
            raise UsageError(f"unknown durability `{durability}`: use `strict` or `batched`")
        if checkpoint_every < 1 or batch_max_records < 1 or batch_max_delay <= 0:
            raise UsageError(
                "checkpoint_every, batch_max_records and batch_max_delay must be positive"
            )
        max_pending = 4 * batch_max_records if batch_max_pending is None else batch_max_pending
        if max_pending < batch_max_records or batch_full_timeout < 0:
            raise UsageError(
                "batch_max_pending must be at least batch_max_records and "
                "batch_full_timeout must not be negative"
            )
        self.backend = backend
        self.signer = signer
        self.durability: Durability = durability
        self.redaction = redaction
        self.log_id = backend.log_id()
        self._clock = clock
        self._every = checkpoint_every
        self._interval = checkpoint_interval
        self._exporters = tuple(exporters)
        self._max_records = batch_max_records
        self._max_delay = batch_max_delay
        self._max_pending = max_pending
        self._full_timeout = batch_full_timeout
        self._owns_backend = owns_backend
        self.rejected = 0  # appends refused because the batched queue stayed full

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._room = threading.Condition(self._lock)  # batched: the queue has room again
        backend.acquire_writer()
        try:
            self._seq, self._head = backend.head()
            self._check_tail()
            self._frontier = self._rebuild_frontier()
        except BaseException:
            backend.release_writer()
            raise
        self._durable_seq = self._seq
        self._durable_head = self._head
        self._checkpointed_seq = -1
        self._since_checkpoint = 0
        self._last_checkpoint_at = _time.monotonic()
        self._pending: list[_Queued] = []
        self._first_pending_at = 0.0
        self._flush_wanted = False
        self._failed: BaseException | None = None
        self._closing = False
        self._closed = False
        self._exports: deque[tuple[Checkpoint, int, float]] = deque()
        self._export_lock = threading.Lock()
        latest = backend.latest_frontier()
        if latest is not None and latest[0] == self._seq:
            self._checkpointed_seq = self._seq
        self._thread = threading.Thread(
            target=self._run, name=f"ztgate-audit-{durability}", daemon=True
        )
        self._thread.start()
        # A program that exits without close() still flushes and seals its log.
        self._atexit_hook = functools.partial(_close_at_exit, weakref.ref(self))
        atexit.register(self._atexit_hook)

    # -- opening ----------------------------------------------------------------------

    def _check_tail(self) -> None:
        """Refuse to extend a log whose last record was edited or that was truncated."""
        if self._seq == 0:
            latest = self.backend.latest_frontier()
            if latest is not None and latest[0] > 0:
                raise IntegrityError(
                    f"audit log is empty but a checkpoint covers {latest[0]} records: "
                    "the log was truncated"
                )
            return
        last = next(iter(self.backend.records(self._seq - 1, 1)), None)
        if last is None or sha256_hex(last.record.encode("utf-8")) != last.hash:
            raise IntegrityError(
                f"record {self._seq} was modified: its hash does not match its content; "
                "refusing to extend a tampered log (run `ztgate audit verify`)"
            )

    def _rebuild_frontier(self) -> Frontier:
        latest = self.backend.latest_frontier()
        frontier = Frontier()
        start = 0
        if latest is not None:
            size, data = latest
            if size > self._seq:
                raise IntegrityError(
                    f"a checkpoint covers {size} records but the log ends at record "
                    f"{self._seq}: the log was truncated"
                )
            frontier = Frontier.from_json(size, json.loads(data))
            start = size
        for _, record_hash in self.backend.hashes(start, self._seq):
            frontier.append(record_hash)
        return frontier

    # -- appending --------------------------------------------------------------------

    def append(self, event: AuditEvent) -> Receipt:
        """Append ``event`` as the next record; see the module docstring for durability.

        The event is encoded here, in the caller, so that an event that cannot be encoded
        fails its own append and later changes to its objects cannot alter the record.
        """
        if self.durability == "strict":
            return self._append_strict(event)
        return self._enqueue(encode_event(event))

    def _append_strict(self, event: AuditEvent) -> Receipt:
        with self._lock:
            self._check_usable()
            seq = self._seq + 1
            record = build_record(seq, self._head, event, self._clock())
            self.backend.append([record])
            self._seq, self._head = seq, record.hash
            self._durable_seq, self._durable_head = seq, record.hash
            self._frontier.append(record.hash)
            self._since_checkpoint += 1
            if self._since_checkpoint >= self._every:
                self._checkpoint_durable()
            return Receipt(seq, record.hash)

    def _enqueue(self, payload: tuple[FrozenCall, RedactionPolicy] | _Encoded) -> Receipt:
        """Batched: give the payload the next sequence number and queue it for the writer."""
        with self._cond:
            self._check_usable()
            if len(self._pending) >= self._max_pending:
                self._wait_for_room()
            now = self._clock()
            if now.tzinfo is not UTC:
                now = to_utc(now)
            seq = self._seq + 1
            receipt = Receipt(seq, None, self)
            self._seq = seq
            pending = self._pending
            pending.append((seq, now, receipt, payload))
            if len(pending) == 1:
                self._first_pending_at = _time.monotonic()
                self._cond.notify_all()
            elif len(pending) == self._max_records:
                self._cond.notify_all()
            return receipt

    def _wait_for_room(self) -> None:
        """Backpressure: wait (lock held) for the writer to take a batch, or refuse."""
        deadline = _time.monotonic() + self._full_timeout
        self._flush_wanted = True
        self._cond.notify_all()
        while len(self._pending) >= self._max_pending:
            remaining = deadline - _time.monotonic()
            if remaining <= 0:
                self.rejected += 1
                raise AuditError(
                    f"audit queue is full ({self._max_pending} records waiting for the "
                    "writer); refusing to queue more"
                )
            self._room.wait(remaining)
            self._check_usable()

    def record_decision(
        self,
        request: Request,
        decision: Decision,
        *,
        request_id: str,
        latency_us: int = 0,
        session_id: str | None = None,
        findings: Sequence[Mapping[str, Any]] = (),
    ) -> Receipt:
        """Append the audit record of one decision: the one call on the hot path."""
        if self.durability == "batched":
            frozen = freeze_call(
                request.agent,
                request.tool,
                request.args,
                decision,
                request.now,
                request_id,
                request.server,
                request.context,
                session_id,
                latency_us,
                findings,
            )
            if frozen is not None:
                return self._enqueue((frozen, self.redaction))
        return self.append(
            DecisionEvent.from_decision(
                request,
                decision,
                request_id=request_id,
                latency_us=latency_us,
                session_id=session_id,
                findings=findings,
                redaction=self.redaction,
            )
        )

    def record_call(
        self,
        *,
        agent: str,
        tool: str,
        args: Mapping[str, Any] | None,
        decision: Decision,
        request_id: str,
        now: datetime | None = None,
        server: str | None = None,
        context: Context | None = None,
        session_id: str | None = None,
        latency_us: int = 0,
        findings: Sequence[Mapping[str, Any]] = (),
    ) -> Receipt:
        """:meth:`record_decision` for callers holding the call's parts, not a Request."""
        time = now if now is not None else self._clock()
        if self.durability == "batched":
            frozen = freeze_call(
                agent,
                tool,
                args,
                decision,
                time,
                request_id,
                server,
                context,
                session_id,
                latency_us,
                findings,
            )
            if frozen is not None:
                return self._enqueue((frozen, self.redaction))
        return self.append(
            DecisionEvent.from_call(
                agent=agent,
                tool=tool,
                args=args,
                decision=decision,
                time=time,
                request_id=request_id,
                server=server,
                context=context,
                session_id=session_id,
                latency_us=latency_us,
                findings=findings,
                redaction=self.redaction,
            )
        )

    def record_lifecycle(
        self,
        kind: LifecycleKind | str,
        *,
        actor: str,
        subject: str,
        details: Mapping[str, Any] | None = None,
        time: datetime | None = None,
    ) -> Receipt:
        event = LifecycleEvent.create(
            kind,
            actor=actor,
            subject=subject,
            time=time if time is not None else self._clock(),
            details=details,
            redaction=self.redaction,
        )
        return self.append(event)

    def _check_usable(self) -> None:
        if self._failed is not None:
            raise AuditError(f"audit log is unusable after a write failure: {self._failed}")
        if self._closing or self._closed:
            raise AuditError("audit log is closed")

    # -- durability -------------------------------------------------------------------

    def flush(self, timeout: float | None = None) -> None:
        """Block until every record appended so far is durable (no-op when strict)."""
        if self.durability == "strict":
            return
        deadline = None if timeout is None else _time.monotonic() + timeout
        with self._cond:
            target = self._seq
            self._flush_wanted = True
            self._cond.notify_all()
            while self._durable_seq < target:
                if self._failed is not None:
                    raise AuditError(f"audit log write failed: {self._failed}")
                remaining = None if deadline is None else deadline - _time.monotonic()
                if remaining is not None and remaining <= 0:
                    raise AuditError(f"audit flush timed out at record {self._durable_seq}")
                self._cond.wait(remaining)

    def _await_hash(self, receipt: Receipt) -> str:
        """Batched: wait until the writer has sealed and stored ``receipt``'s record."""
        with self._cond:
            while not receipt.sealed:
                if self._failed is not None:
                    raise AuditError(f"audit log write failed: {self._failed}")
                if self._closed:
                    raise AuditError("audit log closed before the record was sealed")
                self._flush_wanted = True
                self._cond.notify_all()
                self._cond.wait(0.5)
        return receipt.hash

    @property
    def durable_seq(self) -> int:
        return self._durable_seq

    @property
    def pending(self) -> int:
        """Records acknowledged but not yet durable (batched mode; 0 when strict)."""
        return self._seq - self._durable_seq

    @property
    def failure(self) -> BaseException | None:
        """The write failure that made the log unusable, if any (for health checks)."""
        return self._failed

    @property
    def head(self) -> tuple[int, str]:
        """Sequence number and hash of the last record (batched: waits until durable)."""
        if self.durability == "batched":
            self.flush()
            with self._lock:
                return self._durable_seq, self._durable_head
        return self._seq, self._head

    def checkpoint(self) -> Checkpoint:
        """Write a signed checkpoint over everything appended so far, now."""
        with self._lock:
            self._check_usable()
        self.flush()
        if self.durability == "strict":
            with self._lock:
                return self._checkpoint_durable()
        with self._cond:
            if self._checkpoint_request is None:  # concurrent callers share one request
                self._checkpoint_request = threading.Event()
            request = self._checkpoint_request
            self._flush_wanted = True
            self._cond.notify_all()
        request.wait()
        if self._failed is not None:
            raise AuditError(f"audit log write failed: {self._failed}")
        if self._checkpoint_error is not None:
            raise AuditError(f"checkpoint failed: {self._checkpoint_error}")
        return self._last_checkpoint

    _checkpoint_request: threading.Event | None = None
    _checkpoint_error: AuditError | None = None
    _last_checkpoint: Checkpoint

    def _checkpoint_durable(self) -> Checkpoint:
        """Sign and store a checkpoint at the durable head. Caller serialises."""
        checkpoint = self.signer.sign(
            log_id=self.log_id,
            seq=self._durable_seq,
            head=self._durable_head,
            root=self._frontier.root(),
            time=format_time(self._clock()),
        )
        self.backend.add_checkpoint(checkpoint, canonical_text(self._frontier.to_json()))
        self._checkpointed_seq = self._durable_seq
        self._since_checkpoint = 0
        self._last_checkpoint_at = _time.monotonic()
        self._last_checkpoint = checkpoint
        if self._exporters:
            with self._export_lock:
                self._exports.append((checkpoint, 0, 0.0))
        return checkpoint

    # -- background thread ------------------------------------------------------------

    def _checkpoint_due_by_time(self) -> bool:
        return (
            self._interval is not None
            and self._durable_seq != self._checkpointed_seq
            and _time.monotonic() - self._last_checkpoint_at >= self._interval
        )

    def _run(self) -> None:
        try:
            if self.durability == "batched":
                self._run_batched()
            else:
                self._run_strict()
        except BaseException as error:  # pragma: no cover - defensive: never die silently
            _log.exception("audit background thread failed")
            with self._cond:
                self._failed = error
                self._cond.notify_all()

    def _tick(self) -> float:
        if self._interval is None:
            return 0.5
        return max(0.01, min(0.5, self._interval / 4))

    def _run_strict(self) -> None:
        while True:
            with self._cond:
                if self._closing:
                    return
                self._cond.wait(self._tick())
                if self._closing:
                    return
                if self._checkpoint_due_by_time():
                    try:
                        self._checkpoint_durable()
                    except AuditError as error:
                        _log.error("audit checkpoint failed: %s", error)
            self._drain_exports()

    def _take_batch(self) -> list[_Queued]:
        """Everything queued, oldest first (lock held).

        One transaction for the whole backlog: when appends outpace the writer, fewer
        and larger commits keep up best (an fsync costs milliseconds on a busy disk).
        """
        batch, self._pending = self._pending, []
        if batch:
            self._room.notify_all()
        return batch

    def _seal_batch(self, batch: list[_Queued]) -> list[StoredRecord]:
        """Writer thread: redact, encode and chain the batch in enqueue order."""
        records = []
        prev = self._head
        for seq, now, _receipt, payload in batch:
            if len(payload) == 2:
                frozen, redaction = payload
                event = DecisionEvent.from_call(
                    agent=frozen[0],
                    tool=frozen[1],
                    args=frozen[2],
                    decision=frozen[3],
                    time=frozen[4],
                    request_id=frozen[5],
                    server=frozen[6],
                    context=frozen[7],
                    session_id=frozen[8],
                    latency_us=frozen[9],
                    findings=frozen[10],
                    redaction=redaction,
                )
                event_dict = event.to_dict()
                record = seal_record(
                    seq,
                    prev,
                    EVENT_DECISION,
                    canonical_text(event_dict),
                    now,
                    index_fields(EVENT_DECISION, event_dict),
                )
            else:
                record_type, text, index = payload
                record = seal_record(seq, prev, record_type, text, now, index)
            records.append(record)
            prev = record.hash
        return records

    def _fail(self, error: BaseException) -> None:
        with self._cond:
            self._failed = error
            self._cond.notify_all()
            self._room.notify_all()

    def _run_batched(self) -> None:
        while True:
            with self._cond:
                while not self._pending and not self._closing and not self._flush_wanted:
                    if self._checkpoint_due_by_time() or self._export_due():
                        break
                    self._cond.wait(self._tick())
                while (
                    self._pending
                    and len(self._pending) < self._max_records
                    and not self._closing
                    and not self._flush_wanted
                ):
                    left = self._max_delay - (_time.monotonic() - self._first_pending_at)
                    if left <= 0:
                        break
                    self._cond.wait(left)
                batch = self._take_batch()
                self._flush_wanted = False
                closing = self._closing
                # checkpoint() flushed first, so this batch's head covers what it asked for
                request = self._checkpoint_request
                self._checkpoint_request = None
            if batch:
                try:
                    records = self._seal_batch(batch)
                    self.backend.append(records)
                except BaseException as error:
                    _log.error("audit batch write failed: %s", error)
                    self._fail(error)
                    if request is not None:
                        request.set()
                    return
                for record in records:
                    self._frontier.append(record.hash)
                for (_seq, _now, receipt, _payload), record in zip(batch, records, strict=True):
                    receipt._seal(record.hash)
                last = records[-1]
                with self._cond:
                    self._head = last.hash
                    self._durable_seq = last.seq
                    self._durable_head = last.hash
                    self._since_checkpoint += len(records)
                    self._cond.notify_all()
            try:
                if (
                    request is not None
                    or self._since_checkpoint >= self._every
                    or self._checkpoint_due_by_time()
                ):
                    self._checkpoint_durable()
                    self._checkpoint_error = None
            except AuditError as error:
                _log.error("audit checkpoint failed: %s", error)
                self._checkpoint_error = error
            finally:
                if request is not None:
                    request.set()
            self._drain_exports()
            if closing:
                with self._cond:
                    if not self._pending:
                        return

    def _export_due(self) -> bool:
        with self._export_lock:
            return bool(self._exports) and self._exports[0][2] <= _time.monotonic()

    def _drain_exports(self, final: bool = False) -> None:
        while True:
            with self._export_lock:
                if not self._exports:
                    return
                if not final and self._exports[0][2] > _time.monotonic():
                    return
                checkpoint, attempts, _ = self._exports.popleft()
            failed = False
            for exporter in self._exporters:
                try:
                    exporter.export(checkpoint)
                except Exception as error:
                    failed = True
                    _log.warning(
                        "checkpoint export to %r failed (attempt %d): %s",
                        exporter,
                        attempts + 1,
                        error,
                    )
            if failed and not final and attempts < 8:
                # Back off exponentially; the checkpoint also stays in the log's own
                # table, so an export given up on can be re-sent with the CLI.
                not_before = _time.monotonic() + min(30.0, 0.25 * 2**attempts)
                with self._export_lock:
                    self._exports.appendleft((checkpoint, attempts + 1, not_before))
                return

    # -- closing ----------------------------------------------------------------------

    def close(self) -> None:
        """Flush, write a final signed checkpoint, export it, release the backend."""
        if self._closed:
            return
        atexit.unregister(self._atexit_hook)
        error: BaseException | None = None
        try:
            self.flush()
        except AuditError as flush_error:
            error = flush_error
        with self._cond:
            self._closing = True
            self._cond.notify_all()
        self._thread.join()
        try:
            if self._failed is None and (self._checkpointed_seq != self._durable_seq):
                self._checkpoint_durable()
        except AuditError as checkpoint_error:
            error = error or checkpoint_error
        finally:
            self._drain_exports(final=True)
            self._closed = True
            self.backend.release_writer()
            if self._owns_backend:
                self.backend.close()
        if error is not None:
            raise AuditError(f"audit log closed with an error: {error}")

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()


def _close_at_exit(ref: weakref.ReferenceType[AuditLog]) -> None:
    log = ref()
    if log is not None and not log._closed:
        try:
            log.close()
        except AuditError as error:
            _log.error("closing the audit log at exit failed: %s", error)


__all__ = ["GENESIS", "AuditLog", "CheckpointExporter", "Durability", "Receipt"]
