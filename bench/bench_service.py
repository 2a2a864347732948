"""Service benchmarks: the full in-process pipeline and AuthZEN over loopback.

``run(quick)`` returns:

- ``pipeline_full``: ``Pipeline.authorize`` with everything on - a cached access-token
  check, conditional access from the replica cache, the guard argument scan, the policy
  decision and a (batched) audit append - on the embedded SQLite control plane
  (target p50 <= 50 us);
- ``pipeline_full_fresh``: the same call with a query never seen before each time, so
  the guard's memo of short argument texts cannot answer (varied traffic; same target),
  back to back: a saturated process, whose figure includes the audit writer's share of
  the GIL;
- ``pipeline_full_fresh_paced`` and ``pipeline_no_audit_fresh_paced``: the fresh calls
  at ``PACED_RATE`` per second, so the writer works between calls, as it does while an
  agent waits on its tools. Reported, not held to the target: on this machine a call
  after a sleep costs 1.6-1.8x the same call back to back, audit or not (cold caches),
  so the pair shows what the audit writer adds at that rate;
- ``pipeline_no_audit`` and ``pipeline_no_scan``: the same without one stage, to show where
  the time goes;
- ``authzen_loopback``: ``POST /access/v1/evaluation`` against ``ztgate serve``'s app
  (guard scanning on, batched audit) under uvicorn in another process, one keep-alive
  client (p50, target <= 1 ms), then two clients at once (p50 with a concurrent client,
  same target), then ``concurrency`` clients at once for the throughput on this machine
  (their latencies are mostly queueing); ``authzen_loopback_no_scan`` the same with
  ``--no-guard``.
"""

from __future__ import annotations

import http.client
import json
import math
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
FINANCE = ROOT / "examples" / "finance" / "policy.yaml"
TARGET_PIPELINE_US = 50.0
PACED_RATE = 2_000.0  # calls per second per process for the paced row
TARGET_AUTHZEN_US = 1000.0
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def _stats(samples_ns: Sequence[int]) -> dict[str, float]:
    ordered = sorted(samples_ns)
    p99 = ordered[max(0, math.ceil(0.99 * len(ordered)) - 1)]
    mean = statistics.fmean(ordered)
    return {
        "n": len(ordered),
        "p50_us": round(ordered[len(ordered) // 2] / 1000, 3),
        "p99_us": round(p99 / 1000, 3),
        "mean_us": round(mean / 1000, 3),
        "per_s": round(1e9 / mean, 1) if mean else math.inf,
    }


def _time(fn: Callable[[], object], n: int) -> list[int]:
    clock = time.perf_counter_ns
    out = []
    for _ in range(n):
        start = clock()
        fn()
        out.append(clock() - start)
    return out


def _control_plane(directory: Path, *, scan: bool, audit: bool) -> Any:
    from ztgate.identity import TokenSettings
    from ztgate.service.control import ControlPlane
    from ztgate.service.guard_scanner import GuardScanner
    from ztgate.service.scan import NO_SCANNER

    control = ControlPlane.open(
        directory,
        audit=audit,
        settings=TokenSettings(issuer="https://bench.ztgate"),
        scanner=GuardScanner() if scan else NO_SCANNER,
        clock=lambda: NOW,
    )
    version = control.upload_policy(FINANCE.read_text(encoding="utf-8"), actor="bench")
    control.activate_policy(version.number, actor="bench")
    control.registry.create_blueprint("assistant")
    control.registry.create_blueprint("finance-bot", parent="assistant")
    control.registry.create_agent("fin-1", owners=["o"], sponsors=["s"], blueprint="finance-bot")
    return control


def _paced(fn: Callable[[], object], n: int, rate: float) -> list[int]:
    """Like :func:`_time`, with calls started ``1/rate`` seconds apart (sleeping, so
    other threads run in between, as they do while a real agent waits on its tools)."""
    clock = time.perf_counter_ns
    gap = int(1e9 / rate)
    out = []
    due = clock()
    for _ in range(n):
        due += gap
        start = clock()
        fn()
        end = clock()
        out.append(end - start)
        if due > end:
            time.sleep((due - end) / 1e9)
    return out


def bench_pipeline(
    n: int, *, scan: bool, audit: bool, fresh: bool = False, rate: float | None = None
) -> dict[str, float]:
    """``Pipeline.authorize`` on the finance policy's ledger read.

    ``fresh``: every call carries a query never seen before (a running number in it), so
    the guard's memo of short argument texts never answers and every stage runs.
    ``rate``: calls per second instead of back to back; without it the loop measures a
    saturated process, where the audit writer's per-record work (on its own thread, but
    under the same GIL) is paid between the caller's calls.
    """
    from ztgate.service.pipeline import Call

    with tempfile.TemporaryDirectory(prefix="ztgate-bench-") as tmp:
        control = _control_plane(Path(tmp), scan=scan, audit=audit)
        try:
            assert control.oauth is not None
            token = control.oauth.issuer.issue(
                subject="fin-1", client_id="fin-1", scopes=[], now=NOW
            ).token

            def make(query: str) -> Call:
                arguments = {"account": "AP-2291", "query": query}
                return Call("ledger.read", arguments, "fin-1", unverified_token=token)

            warm = min(n, 500)
            if fresh:
                pending = [make(f"open invoices for globex {i}") for i in range(n + warm)]
            else:
                pending = [make("open invoices for globex")] * (n + warm)
            calls = iter(pending)
            authorize = control.pipeline.authorize
            for call in {id(c): c for c in pending[:2]}.values():
                outcome = authorize(call)
                if not outcome.allowed:
                    raise RuntimeError(f"bench call was not allowed: {outcome.decision.reasons}")

            def one() -> object:
                return authorize(next(calls))

            _time(one, warm)  # warm caches
            samples = _time(one, n) if rate is None else _paced(one, n, rate)
            if control.audit is not None:
                control.audit.flush()
        finally:
            control.close()
    return _stats(samples)


_SERVER = """
import sys
from pathlib import Path
sys.path.insert(0, {root!r})
import uvicorn
from bench.bench_service import _control_plane
from ztgate.server.app import create_app
control = _control_plane(Path({data!r}), scan={scan!r}, audit=True)
uvicorn.run(create_app(control), host="127.0.0.1", port={port}, log_level="warning",
            access_log=False)
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _wait_for(port: int, proc: subprocess.Popen[bytes], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the bench server exited")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("the bench server did not start")


_BODY = json.dumps(
    {
        "subject": {"type": "agent", "id": "fin-1"},
        "action": {"name": "call"},
        "resource": {
            "type": "tool",
            "id": "ledger.read",
            "properties": {"arguments": {"account": "AP-2291"}},
        },
    }
).encode()
_HEADERS = {"Content-Type": "application/json", "Connection": "keep-alive"}


def _post(conn: http.client.HTTPConnection) -> None:
    conn.request("POST", "/access/v1/evaluation", body=_BODY, headers=_HEADERS)
    response = conn.getresponse()
    payload = response.read()
    if response.status != 200 or b'"decision":true' not in payload:
        raise RuntimeError(f"unexpected answer {response.status}: {payload[:200]!r}")


def bench_authzen(
    n: int, concurrency: int, duration: float, *, scan: bool = True
) -> dict[str, Any]:
    port = _free_port()
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-http-") as tmp:
        script = _SERVER.format(root=str(ROOT), data=tmp, port=port, scan=scan)
        proc = subprocess.Popen(
            [sys.executable, "-c", script],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(ROOT / "src")},
        )
        try:
            _wait_for(port, proc)
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            _time(lambda: _post(conn), min(n, 300))  # warm up
            single = _stats(_time(lambda: _post(conn), n))
            conn.close()
            pair = _concurrent(port, 2, duration)
            loaded = _concurrent(port, concurrency, duration)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            if proc.stderr is not None:
                proc.stderr.close()
    return {
        "single_client": single,
        "with_a_concurrent_client": _stats(pair.samples_ns),
        f"with_{concurrency}_clients": _stats(loaded.samples_ns),
        "concurrency": concurrency,
        "throughput_per_s": round(loaded.throughput_per_s, 1),
        "requests": len(loaded.samples_ns),
    }


@dataclass
class _Load:
    samples_ns: list[int]
    throughput_per_s: float


def _concurrent(port: int, clients: int, duration: float) -> _Load:
    """``clients`` keep-alive connections posting back to back for ``duration`` seconds;
    every request's latency is kept. Two clients answer "p50 with a concurrent client";
    more show the throughput of the server process and, by Little's law, latencies that
    are mostly queueing (clients / throughput)."""
    samples: list[list[int]] = [[] for _ in range(clients)]
    stop = time.monotonic() + duration
    errors: list[BaseException] = []

    def client(index: int) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        clock = time.perf_counter_ns
        out = samples[index]
        try:
            while time.monotonic() < stop:
                started = clock()
                _post(conn)
                out.append(clock() - started)
        except BaseException as error:
            errors.append(error)
        finally:
            conn.close()

    threads = [threading.Thread(target=client, args=(i,)) for i in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.monotonic() - started
    if errors:
        raise RuntimeError(f"client failed: {errors[0]!r}")
    flat = [sample for per_client in samples for sample in per_client]
    return _Load(flat, len(flat) / elapsed)


def run(quick: bool) -> dict[str, Any]:
    n = 2_000 if quick else 20_000
    full = bench_pipeline(n, scan=True, audit=True)
    out: dict[str, Any] = {
        "pipeline_full": full,
        "pipeline_full_fresh": bench_pipeline(n, scan=True, audit=True, fresh=True),
        "pipeline_full_fresh_paced": bench_pipeline(
            n // 4, scan=True, audit=True, fresh=True, rate=PACED_RATE
        ),
        "pipeline_no_audit_fresh_paced": bench_pipeline(
            n // 4, scan=True, audit=False, fresh=True, rate=PACED_RATE
        ),
        "pipeline_no_audit": bench_pipeline(n, scan=True, audit=False),
        "pipeline_no_scan": bench_pipeline(n, scan=False, audit=True),
        "authzen_loopback": bench_authzen(
            1_000 if quick else 5_000, concurrency=8, duration=2.0 if quick else 10.0
        ),
        "authzen_loopback_no_scan": bench_authzen(
            1_000 if quick else 5_000, concurrency=8, duration=2.0 if quick else 10.0, scan=False
        ),
        "targets": {
            "pipeline_full_p50_us": TARGET_PIPELINE_US,
            "authzen_p50_us": TARGET_AUTHZEN_US,
        },
    }
    out["meets_targets"] = {
        "pipeline_full": full["p50_us"] <= TARGET_PIPELINE_US,
        "pipeline_full_fresh": out["pipeline_full_fresh"]["p50_us"] <= TARGET_PIPELINE_US,
        "authzen_loopback": out["authzen_loopback"]["single_client"]["p50_us"] <= TARGET_AUTHZEN_US,
        "authzen_loopback_with_a_concurrent_client": (
            out["authzen_loopback"]["with_a_concurrent_client"]["p50_us"] <= TARGET_AUTHZEN_US
        ),
    }
    return out


if __name__ == "__main__":
    print(json.dumps(run(quick="--full" not in sys.argv), indent=2))
