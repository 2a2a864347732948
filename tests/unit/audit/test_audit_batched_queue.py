"""Batched mode seals records on the writer thread: the invariants that makes necessary.

The caller only snapshots a decision's parts and queues them; redaction, the argument
digest, encoding and the hash chain happen later on the writer. These tests prove that
this is invisible in the records: what is stored equals what a caller-side (strict)
build of the same inputs stores, whatever the caller does to its objects after the
append returned, in enqueue order, with the queue bounded and failures surfacing.
"""

from __future__ import annotations

import copy
import json
import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.audit.helpers import T0, decision
from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.canonical import canonical_text
from ztgate.audit.chain import GENESIS, StoredRecord, build_record, record_event
from ztgate.audit.checkpoint import Signer
from ztgate.audit.events import parse_time
from ztgate.audit.freeze import freeze_call
from ztgate.audit.log import AuditLog
from ztgate.audit.redact import RedactionPolicy
from ztgate.audit.verify import verify_backend
from ztgate.core.models import (
    Context,
    Decision,
    Effect,
    Reason,
    ReasonCode,
    ShadowOutcome,
)
from ztgate.errors import AuditError

DECISION = Decision(
    Effect.ALLOW,
    (Reason(ReasonCode.ALLOWED, "ok, password=hunter2hunter2", "r1"),),
    ("r1",),
    "pv1",
    ShadowOutcome(Effect.DENY, ("r2",), (Reason(ReasonCode.FORBIDDEN, "no", "r2"),)),
)
CONTEXT = Context(acting_for="alice", delegation=("user:alice", "bot"), source_ip="10.0.0.1")
REDACTION = RedactionPolicy(mask=("card.number",), drop=("body",))


def _events(path: Path) -> list[str]:
    """Each stored record's event, as its canonical text (what was hashed)."""
    backend = SQLiteBackend(path)
    try:
        return [canonical_text(json.loads(r.record)["event"]) for r in backend.records()]
    finally:
        backend.close()


def _call(log: AuditLog, args: Any, findings: Any = (), **extra: Any) -> Any:
    return log.record_call(
        agent="bot",
        tool="payments.refund",
        args=args,
        decision=DECISION,
        request_id="rq-1",
        now=T0,
        server="pay",
        context=CONTEXT,
        session_id="s-1",
        latency_us=9,
        findings=findings,
        **extra,
    )


@pytest.fixture
def pair(make_log: Callable[..., AuditLog], tmp_path: Path) -> Callable[..., Any]:
    """Append the same inputs to a batched log and a strict one; return both events."""

    def append_both(args: Any, findings: Any = ()) -> tuple[str, str]:
        before = _events(tmp_path / "batched.db") if (tmp_path / "batched.db").exists() else []
        batched = make_log("batched.db", durability="batched", redaction=REDACTION)
        strict = make_log("strict.db", durability="strict", redaction=REDACTION)
        try:
            _call(batched, copy.deepcopy(args), copy.deepcopy(findings))
            _call(strict, copy.deepcopy(args), copy.deepcopy(findings))
        finally:
            batched.close()
            strict.close()
        assert len(_events(tmp_path / "batched.db")) == len(before) + 1
        return _events(tmp_path / "batched.db")[-1], _events(tmp_path / "strict.db")[-1]

    return append_both


def test_mutating_the_callers_objects_after_append_does_not_change_the_record(
    make_log: Callable[..., AuditLog], tmp_path: Path
) -> None:
    args: dict[str, Any] = {
        "amount": 40,
        "items": [{"sku": "a", "card": {"number": "4111"}}],
        "note": "plain",
    }
    findings: list[dict[str, Any]] = [{"type": "pii", "path": "note", "detail": {"n": 1}}]
    pristine = copy.deepcopy((args, findings))
    # a 30 s window: the record is certainly still queued while we tamper with the objects
    log = make_log(durability="batched", batch_max_delay=30.0, redaction=REDACTION)
    receipt = _call(log, args, findings)
    assert log.durable_seq == 0
    assert not receipt.sealed
    args["amount"] = 10_000
    args["note"] = "token=ghp_" + "x" * 36
    args["items"][0]["sku"] = "CHANGED-SKU"
    args["items"].append({"sku": "ADDED-ITEM"})
    args["extra"] = "LATE-KEY"
    findings[0]["detail"]["n"] = 2
    findings.append({"type": "LATE-FINDING"})
    log.flush()
    log.close()
    stored = _events(tmp_path / "audit.db")[0]

    strict = make_log("strict.db", redaction=REDACTION)
    _call(strict, *pristine)
    strict.close()
    assert stored == _events(tmp_path / "strict.db")[0]
    assert '"amount":40' in stored
    assert '"n":1' in stored
    for marker in ("CHANGED-SKU", "ADDED-ITEM", "LATE-KEY", "LATE-FINDING", "ghp_"):
        assert marker not in stored


json_leaf = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats()  # NaN and infinities included: they are recorded as strings
    | st.text(max_size=20)
    | st.sampled_from(
        [
            "AKIAABCDEFGHIJKLMNOP",
            "Bearer abcdefghijklmnopqrstuvwxyz",
            "https://u:p@host/x",
            "caf\u00e9 \u202e \u200b",
            "password = swordfish1",
        ]
    )
)
json_values = st.recursive(
    json_leaf,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.tuples(inner, inner)
        | st.dictionaries(
            st.sampled_from(["a", "token", "card", "number", "body", "Password", "x.y", "\u00e9"]),
            inner,
            max_size=4,
        )
    ),
    max_leaves=12,
)
# values that are not plain: built on the caller, and must still come out the same
odd_values = st.sampled_from(
    [
        {1, 2, 3},
        b"\x00bytes",
        datetime(2026, 1, 1, tzinfo=UTC),
        Effect.DENY,
        {1: "int key", (1, 2): "tuple key"},
        2**5000,  # too long for the fast path's bound but still printable
    ]
)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    args=st.dictionaries(
        st.sampled_from(["a", "card", "body", "q", "api_key"]), json_values | odd_values, max_size=5
    ),
    findings=st.lists(
        st.dictionaries(st.sampled_from(["type", "path", "detail"]), json_values, max_size=3),
        max_size=2,
    ),
)
def test_records_sealed_on_the_writer_equal_records_built_by_the_caller(
    pair: Callable[..., tuple[str, str]], args: dict[str, Any], findings: list[dict[str, Any]]
) -> None:
    batched, strict = pair(args, findings)
    assert batched == strict


def test_only_plain_inputs_take_the_deferred_path() -> None:
    def frozen(**changes: Any) -> Any:
        parts: dict[str, Any] = {
            "agent": "a",
            "tool": "t",
            "args": {"x": [1, {"y": 2.5}]},
            "decision": DECISION,
            "time": T0,
            "request_id": "r",
            "server": None,
            "context": CONTEXT,
            "session_id": None,
            "latency_us": 1,
            "findings": ({"k": "v"},),
        }
        parts.update(changes)
        return freeze_call(**parts)

    plain = frozen()
    assert plain is not None
    assert plain[2] == {"x": [1, {"y": 2.5}]}
    assert plain[10] == ({"k": "v"},)

    class Str(str):
        pass

    for change in (
        {"args": {"x": {1, 2}}},
        {"args": {1: "x"}},
        {"args": {"x": 10**700}},
        {"args": {"x": Str("s")}},
        {"args": {"x": b"b"}},
        {"args": {"x": _nested(70)}},
        {"findings": ({"k": {1, 2}},)},
        {"findings": [[("k", "v")]]},
        {"time": datetime(2026, 1, 1)},  # naive
        {"time": datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=1)))},
        {"agent": Str("a")},
        {"latency_us": 1.5},
        {"decision": Decision(Effect.ALLOW, [], ("r",))},  # type: ignore[arg-type]
        {"decision": Decision(Effect.ALLOW, (), ["r"])},  # type: ignore[arg-type]
        {"context": Context(delegation=["a"])},  # type: ignore[arg-type]
    ):
        assert frozen(**change) is None, change


def _nested(depth: int) -> Any:
    value: Any = "leaf"
    for _ in range(depth):
        value = {"n": value}
    return value


def test_inputs_that_fail_to_encode_still_fail_in_front_of_the_caller(
    make_log: Callable[..., AuditLog], tmp_path: Path
) -> None:
    log = make_log(durability="batched")
    with pytest.raises(AuditError, match="timezone-aware"):
        log.record_call(
            agent="a", tool="t", args={}, decision=DECISION, request_id="r",
            now=datetime(2026, 1, 1),
        )  # fmt: skip
    huge = 10**5000  # longer than Python will print
    with pytest.raises(AuditError, match="not canonically encodable"):
        _call(log, {"n": huge})
    assert _call(log, {"n": 1}).seq == 1  # nothing was queued by the failed calls
    log.close()
    assert len(_events(tmp_path / "audit.db")) == 1


def test_chain_order_is_enqueue_order_across_threads_and_paths(
    make_log: Callable[..., AuditLog], tmp_path: Path, signer: Signer
) -> None:
    log = make_log(durability="batched", batch_max_records=7, checkpoint_every=50)
    seen: dict[int, str] = {}
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(60):
            tag = f"{k}-{i}"
            if i % 3 == 0:
                receipt = log.record_lifecycle("agent_updated", actor="t", subject=tag)
            elif i % 3 == 1:
                receipt = log.append(decision(i, agent=tag))
            else:
                receipt = _call(log, {"tag": tag})
            with lock:
                seen[receipt.seq] = tag

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    log.close()
    backend = SQLiteBackend(tmp_path / "audit.db")
    try:
        report = verify_backend(backend, [signer.public_key])
        rows = list(backend.records())
    finally:
        backend.close()
    assert report.ok, report.failure
    assert [r.seq for r in rows] == sorted(seen) == list(range(1, 241))
    for row in rows:  # the record at each seq is the one whose receipt got that seq
        assert seen[row.seq] in row.record


def test_receipt_hash_arrives_when_the_record_is_durable(
    make_log: Callable[..., AuditLog], tmp_path: Path
) -> None:
    log = make_log(durability="batched", batch_max_delay=30.0)
    receipt = _call(log, {"x": 1})
    assert "pending" in repr(receipt)
    started = time.monotonic()
    value = receipt.hash  # asks the writer not to wait out the 30 s window
    assert time.monotonic() - started < 10
    assert log.durable_seq == 1
    assert receipt.sealed
    log.close()
    backend = SQLiteBackend(tmp_path / "audit.db")
    stored = next(iter(backend.records()))
    backend.close()
    assert value == stored.hash


class _GatedBackend(SQLiteBackend):
    """A real SQLite backend whose writes wait for a gate: a writer that has stalled."""

    def __init__(self, path: Path) -> None:
        super().__init__(path, strict=False)
        self.gate = threading.Event()
        self.writing = threading.Event()

    def append(self, records: Any) -> None:
        self.writing.set()
        self.gate.wait(30)
        super().append(records)


def test_a_full_queue_waits_then_refuses_and_recovers(tmp_path: Path, signer: Signer) -> None:
    backend = _GatedBackend(tmp_path / "audit.db")
    log = AuditLog(
        backend,
        signer,
        durability="batched",
        checkpoint_interval=None,
        batch_max_records=2,  # with a long window the writer takes exactly the first two
        batch_max_delay=30.0,
        batch_max_pending=4,
        batch_full_timeout=0.2,
    )
    acked = [_call(log, {"i": 0}).seq, _call(log, {"i": 1}).seq]
    assert backend.writing.wait(10)  # the writer holds those two and is stuck
    acked += [_call(log, {"i": i}).seq for i in range(2, 6)]  # fills the queue (4)
    with pytest.raises(AuditError, match="queue is full"):
        _call(log, {"i": 6})
    assert log.rejected == 1
    assert log.failure is None
    backend.gate.set()
    acked.append(_call(log, {"i": 7}).seq)  # waits for room, then goes through
    log.close()
    assert acked == list(range(1, 8))
    check = SQLiteBackend(tmp_path / "audit.db")
    try:
        report = verify_backend(check, [signer.public_key])
    finally:
        check.close()
    assert report.ok
    assert report.records == 7


def test_a_writer_failure_surfaces_and_every_later_call_fails(
    make_log: Callable[..., AuditLog],
) -> None:
    log = make_log(durability="batched")
    _call(log, {"x": 1})
    log.flush()
    log.backend.close()  # the database goes away underneath the writer
    receipt = _call(log, {"x": 2})
    with pytest.raises(AuditError, match="write failed"):
        _ = receipt.hash
    assert log.failure is not None
    with pytest.raises(AuditError, match="unusable"):
        _call(log, {"x": 3})
    with pytest.raises(AuditError):
        log.close()


def test_splicing_reproduces_the_known_answer_chain() -> None:
    vectors = Path(__file__).parents[2] / "vectors" / "audit" / "chain.json"
    lines = json.loads(vectors.read_text(encoding="utf-8"))["lines"]
    head = GENESIS
    for seq, line in enumerate(lines, 1):
        record = line["record"]
        sealed: StoredRecord = build_record(
            seq, head, record_event(record), parse_time(record["time"])
        )
        assert sealed.record == canonical_text(record)
        assert sealed.hash == line["hash"]
        head = sealed.hash


def test_nan_arguments_are_recorded_the_same_way_in_both_modes(
    pair: Callable[..., tuple[str, str]],
) -> None:
    batched, strict = pair({"a": math.nan, "b": [math.inf], "c": {"password": "x"}})
    assert batched == strict
    assert '"nan"' in batched
    assert '"[redacted]"' in batched
