"""Audit-log micro-benchmarks: append throughput in both durability modes and the cost a
batched append adds to one decision on the hot path.

In batched mode the caller only snapshots and queues a decision; the writer thread does
the redaction, encoding, hashing and writing, under the same GIL. So three views are
reported, and only together are they honest:

* ``audit_batched_append_*``: what ``record_decision`` costs its caller in a tight loop
  (p50, p99, mean). The mean includes the time the caller waits for the GIL or for room
  in the queue while the writer catches up;
* ``audit_batched_appends_per_s``: sustained records per second until all are durable
  (bounded by the total work per record, wherever it runs);
* ``audit_paced_*``: each append follows ``PACED_WORK_US`` of other Python work (the rest
  of a decision pipeline), so the writer can use the gaps: the caller-side cost in a
  service that is busy but not saturated by audit alone.

``run(quick)`` returns a flat dict; the bench harness prints it next to the peers. Run
alone: ``python -m bench.bench_audit`` (or ``python bench/bench_audit.py``).
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import Signer
from ztgate.audit.log import AuditLog
from ztgate.audit.verify import verify_backend
from ztgate.core.models import Context, Decision, Effect, Reason, ReasonCode, Request

NOW = datetime(2026, 1, 1, tzinfo=UTC)
REQUEST = Request(
    agent="billing-bot",
    tool="payments.refund",
    args={"amount": 40, "currency": "EUR", "order": "o-123456", "note": "customer asked nicely"},
    now=NOW,
    server="payments-mcp",
    context=Context(acting_for="alice", delegation=("user:alice", "billing-bot")),
)
DECISION = Decision(
    Effect.ALLOW,
    (Reason(ReasonCode.ALLOWED, "refund under the per-call limit", "refund-small"),),
    ("refund-small",),
    "sha256:" + "ab" * 32,
)


PACED_WORK_US = 40


def _busy(us: int) -> None:
    """Hold the GIL for about ``us`` microseconds, as the other pipeline stages would."""
    end = time.perf_counter_ns() + us * 1000
    while time.perf_counter_ns() < end:
        pass


def _pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


SIGNER = Signer.generate()


def _log(directory: Path, name: str, durability: str) -> AuditLog:
    return AuditLog(
        SQLiteBackend(directory / name),
        SIGNER,
        durability=durability,  # type: ignore[arg-type]
        checkpoint_every=10_000,
        checkpoint_interval=None,
    )


def run(quick: bool) -> dict[str, float]:
    strict_n = 100 if quick else 1000
    batched_n = 5_000 if quick else 50_000
    out: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-audit-") as tmp:
        directory = Path(tmp)

        # strict: every append fsyncs before returning
        log = _log(directory, "strict.db", "strict")
        samples = []
        start = time.perf_counter()
        for i in range(strict_n):
            t0 = time.perf_counter_ns()
            log.record_decision(REQUEST, DECISION, request_id=f"r{i}", latency_us=5)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        elapsed = time.perf_counter() - start
        log.close()
        out["audit_strict_appends_per_s"] = strict_n / elapsed
        out["audit_strict_append_p50_us"] = statistics.median(samples)
        out["audit_strict_append_p99_us"] = _pct(samples, 0.99)

        # batched: the hot-path cost of one decision's audit record, then sustained rate
        log = _log(directory, "batched.db", "batched")
        samples = []
        start = time.perf_counter()
        for i in range(batched_n):
            t0 = time.perf_counter_ns()
            log.record_decision(REQUEST, DECISION, request_id=f"r{i}", latency_us=5)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        log.flush()
        elapsed = time.perf_counter() - start
        out["audit_batched_appends_per_s"] = batched_n / elapsed
        out["audit_batched_append_p50_us"] = statistics.median(samples)
        out["audit_batched_append_p99_us"] = _pct(samples, 0.99)
        out["audit_batched_append_mean_us"] = statistics.fmean(samples)

        # paced: other work between appends leaves the writer room to keep up
        samples = []
        paced_n = batched_n // 10
        for i in range(paced_n):
            _busy(PACED_WORK_US)
            t0 = time.perf_counter_ns()
            log.record_decision(REQUEST, DECISION, request_id=f"p{i}", latency_us=5)
            samples.append((time.perf_counter_ns() - t0) / 1000)
        log.flush()
        out["audit_paced_append_p50_us"] = statistics.median(samples)
        out["audit_paced_append_p99_us"] = _pct(samples, 0.99)
        out["audit_paced_append_mean_us"] = statistics.fmean(samples)
        log.close()

        # verification speed of the batched log (hash chain + Merkle + signatures)
        backend = SQLiteBackend(directory / "batched.db")
        start = time.perf_counter()
        report = verify_backend(backend, [SIGNER.public_key])
        assert report.ok, report.failure
        out["audit_verify_records_per_s"] = report.records / (time.perf_counter() - start)
        backend.close()
    out["audit_batched_target_us"] = 20.0
    # Calibration: the same machine's cost of one small json.dumps, so numbers taken on a
    # loaded or slow machine can be compared with the target (about 2 us when idle).
    payload = {"a": 1, "b": "x" * 20, "c": [1, 2, 3]}
    calls = 20_000
    start = time.perf_counter()
    for _ in range(calls):
        json.dumps(payload)
    out["calibration_json_dumps_us"] = (time.perf_counter() - start) / calls * 1e6
    return out


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=2))
