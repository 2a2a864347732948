"""The AuditLog itself: durability modes, concurrency, checkpoints, failure handling."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.audit.helpers import decision, lifecycle
from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import Signer, read_checkpoints_file
from ztgate.audit.exporters import FileCheckpointExporter
from ztgate.audit.log import AuditLog
from ztgate.audit.verify import verify_backend
from ztgate.core.models import Decision, Effect, Reason, ReasonCode, Request
from ztgate.errors import AuditError, UsageError


def _verify(path: Path, signer: Signer):
    backend = SQLiteBackend(path)
    try:
        return verify_backend(backend, [signer.public_key])
    finally:
        backend.close()


@pytest.mark.parametrize(
    ("durability", "threads", "each"), [("batched", 8, 150), ("strict", 4, 10)]
)
def test_concurrent_appends_form_one_chain(
    make_log: Callable[..., AuditLog],
    tmp_path: Path,
    signer: Signer,
    durability: str,
    threads: int,
    each: int,
) -> None:
    log = make_log(durability=durability, checkpoint_every=97)
    receipts: list[int] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        for i in range(each):
            receipt = log.append(decision(k * 1000 + i, agent=f"agent-{k}"))
            with lock:
                receipts.append(receipt.seq)

    pool = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    log.flush()
    assert log.durable_seq == threads * each
    log.close()
    assert sorted(receipts) == list(range(1, threads * each + 1))
    report = _verify(tmp_path / "audit.db", signer)
    assert report.ok, report.failure
    assert report.records == report.sealed_seq == threads * each


def test_batched_append_is_acknowledged_before_durable_and_flush_makes_it_durable(
    make_log: Callable[..., AuditLog],
) -> None:
    log = make_log(durability="batched", batch_max_delay=5.0, batch_max_records=10_000)
    receipt = log.append(decision(1))
    assert receipt.seq == 1
    # the writer waits up to 5 s for more records: nothing is durable yet
    assert log.durable_seq == 0
    log.flush()
    assert log.durable_seq == 1
    log.close()


def test_batched_group_commit_by_size(make_log: Callable[..., AuditLog]) -> None:
    log = make_log(durability="batched", batch_max_delay=60.0, batch_max_records=5)
    for i in range(5):
        log.append(decision(i))
    deadline = time.monotonic() + 10
    while log.durable_seq < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert log.durable_seq == 5  # committed because the batch filled, not by the window
    log.close()


def test_write_failure_poisons_batched_log(make_log: Callable[..., AuditLog]) -> None:
    log = make_log(durability="batched")
    log.append(decision(1))
    log.flush()
    log.backend.close()  # the database goes away underneath the writer
    log.append(decision(2))
    with pytest.raises(AuditError, match="write failed"):
        log.flush()
    with pytest.raises(AuditError, match="unusable after a write failure"):
        log.append(decision(3))
    with pytest.raises(AuditError):
        log.close()


def test_strict_write_failure_raises_to_the_caller(make_log: Callable[..., AuditLog]) -> None:
    log = make_log()
    log.append(decision(1))
    log.backend.close()
    with pytest.raises(AuditError, match="cannot write audit records"):
        log.append(decision(2))
    assert log.head[0] == 1  # nothing was acknowledged
    with pytest.raises(AuditError, match="closed with an error"):
        log.close()


def test_closed_log_refuses_appends_and_close_is_idempotent(
    make_log: Callable[..., AuditLog],
) -> None:
    log = make_log()
    log.append(lifecycle(1))
    log.close()
    log.close()
    with pytest.raises(AuditError, match="closed"):
        log.append(lifecycle(2))


def test_time_based_checkpoints_and_file_export(
    make_log: Callable[..., AuditLog], tmp_path: Path, signer: Signer
) -> None:
    exported = tmp_path / "cps" / "checkpoints.jsonl"
    log = make_log(checkpoint_interval=0.05, exporters=[FileCheckpointExporter(exported)])
    log.append(decision(1))
    deadline = time.monotonic() + 10
    while not exported.exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert [c.seq for c in read_checkpoints_file(exported)] == [1]
    log.append(decision(2))
    log.close()
    assert [c.seq for c in read_checkpoints_file(exported)][-1] == 2
    assert _verify(tmp_path / "audit.db", signer).ok


def test_explicit_checkpoint_in_both_modes(make_log: Callable[..., AuditLog]) -> None:
    for name, durability in (("a.db", "strict"), ("b.db", "batched")):
        log = make_log(name, durability=durability)
        log.append(decision(1))
        log.append(decision(2))
        checkpoint = log.checkpoint()
        assert (checkpoint.seq, checkpoint.head) == (2, log.head[1])
        log.close()


def test_empty_log_close_writes_a_genesis_checkpoint(
    make_log: Callable[..., AuditLog], tmp_path: Path, signer: Signer
) -> None:
    make_log().close()
    report = _verify(tmp_path / "audit.db", signer)
    assert (report.ok, report.records, report.checkpoints) == (True, 0, 1)


def test_bad_options_are_usage_errors(make_log: Callable[..., AuditLog]) -> None:
    with pytest.raises(UsageError, match="durability `eventually`"):
        make_log(durability="eventually")
    with pytest.raises(UsageError, match="positive"):
        make_log(checkpoint_every=0)


def test_record_decision_from_core_models(
    make_log: Callable[..., AuditLog], tmp_path: Path
) -> None:
    from tests.unit.audit.helpers import T0

    log = make_log()
    request = Request(agent="a", tool="t", args={"password": "pw-123456"}, now=T0)
    decision_ = Decision(Effect.ALLOW, (Reason(ReasonCode.ALLOWED, "ok", "r"),), ("r",), "pv")
    receipt = log.record_decision(request, decision_, request_id="rq", latency_us=7)
    log.close()
    backend = SQLiteBackend(tmp_path / "audit.db")
    stored = next(iter(backend.records()))
    backend.close()
    assert stored.hash == receipt.hash
    assert "pw-123456" not in stored.record
    assert (stored.agent, stored.tool, stored.effect) == ("a", "t", "allow")


def test_unknown_store_urls_and_schema_names_are_refused() -> None:
    from ztgate.audit.backends import open_backend

    with pytest.raises(UsageError, match="unsupported audit store `mysql://x`"):
        open_backend("mysql://x")
    with pytest.raises(UsageError, match="invalid audit schema name"):
        open_backend("postgresql://postgres@127.0.0.1/test?schema=x;drop")


def test_record_call_matches_record_decision(
    make_log: Callable[..., AuditLog], tmp_path: Path
) -> None:
    from tests.unit.audit.helpers import T0
    from ztgate.core.models import Context

    decision_ = Decision(Effect.DENY, (Reason(ReasonCode.FORBIDDEN, "no", "r"),), ("r",), "pv")
    ctx = Context(acting_for="bob", delegation=("user:bob", "a"))
    request = Request(agent="a", tool="t", args={"x": 1}, now=T0, server="s", context=ctx)
    log = make_log()
    one = log.record_decision(request, decision_, request_id="rq", latency_us=3)
    two = log.record_call(agent="a", tool="t", args={"x": 1}, decision=decision_, now=T0,
                          request_id="rq", server="s", context=ctx, latency_us=3)  # fmt: skip
    log.close()
    backend = SQLiteBackend(tmp_path / "audit.db")
    first, second = (json.loads(r.record)["event"] for r in backend.records())
    backend.close()
    assert first == second
    assert (one.seq, two.seq) == (1, 2)


def test_one_writer_per_log(
    make_log: Callable[..., AuditLog], tmp_path: Path, signer: Signer
) -> None:
    first = make_log()
    with pytest.raises(AuditError, match="already open for writing"):
        AuditLog(SQLiteBackend(tmp_path / "audit.db"), signer)
    first.append(decision(1))
    first.close()
    second = AuditLog(SQLiteBackend(tmp_path / "audit.db"), signer, checkpoint_interval=None)
    assert second.append(decision(2)).seq == 2
    second.close()


def test_batched_log_left_open_is_flushed_and_sealed_at_exit(tmp_path: Path) -> None:
    import subprocess
    import sys

    script = (
        "import sys; from pathlib import Path; from ztgate.audit.config import open_log\n"
        "log = open_log(Path(sys.argv[1]), durability='batched', batch_max_delay=30.0,\n"
        "               checkpoint_interval=None)\n"
        "for i in range(25): log.record_lifecycle('agent_updated', actor='t', subject=str(i))\n"
        "# no flush, no close: the interpreter exits\n"
    )
    subprocess.run([sys.executable, "-c", script, str(tmp_path)], check=True, timeout=120)
    from ztgate.audit.config import signer_for

    backend = SQLiteBackend(tmp_path / "audit.db")
    try:
        report = verify_backend(backend, [signer_for(tmp_path).public_key])
    finally:
        backend.close()
    assert report.ok, report.failure
    assert (report.records, report.sealed_seq) == (25, 25)
