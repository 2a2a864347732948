"""Quota counters under contention: several processes, several threads each, one store.

Every worker tries to spend one unit at a time from the same counter; the store must let
exactly ``LIMIT`` charges through in total, never more, and the counter must end at
``LIMIT``. A multi-charge call must be all-or-nothing.
"""

from __future__ import annotations

import multiprocessing
import threading

from tests.integration.service.support import Target
from ztgate.core.models import QuotaCharge
from ztgate.store import open_store

LIMIT = 40
PROCESSES = 3
THREADS = 3
ATTEMPTS = 8  # 3 * 3 * 8 = 72 attempts for 40 units


def _charge(key: str, amount: float = 1.0, limit: float = LIMIT) -> QuotaCharge:
    return QuotaCharge("q", key, amount, limit, 60, 0)


def _worker(location: str, schema: str | None, results: multiprocessing.Queue) -> None:
    store = open_store(location, schema=schema)
    won = 0
    lock = threading.Lock()

    def spend() -> None:
        nonlocal won
        for _ in range(ATTEMPTS):
            overflow, _values = store.quotas.apply((_charge("q|*|0"),))
            if overflow is None:
                with lock:
                    won += 1

    threads = [threading.Thread(target=spend) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    store.close()
    results.put(won)


def test_processes_and_threads_never_overspend(target: Target) -> None:
    store = open_store(target.location, schema=target.schema)  # migrate once, up front
    ctx = multiprocessing.get_context("fork")
    results: multiprocessing.Queue = ctx.Queue()
    procs = [
        ctx.Process(target=_worker, args=(target.location, target.schema, results))
        for _ in range(PROCESSES)
    ]
    for p in procs:
        p.start()
    for p in procs:
        p.join(timeout=120)
        assert p.exitcode == 0
    total = sum(results.get(timeout=5) for _ in procs)
    assert total == LIMIT
    assert store.quotas.usage(["q|*|0"]) == {"q|*|0": float(LIMIT)}
    store.close()


def test_multi_charge_calls_are_all_or_nothing(target: Target) -> None:
    store = open_store(target.location, schema=target.schema)
    assert store.quotas.apply((_charge("a", 5, 10), _charge("b", 5, 6)))[0] is None
    # `b` would overflow (5 + 5 > 6): `a` must not be charged either.
    overflow, values = store.quotas.apply(
        (QuotaCharge("qa", "a", 5, 10, 60, 0), QuotaCharge("qb", "b", 5, 6, 60, 0))
    )
    assert overflow == "qb"
    assert values == {}
    assert store.quotas.usage(["a", "b"]) == {"a": 5.0, "b": 5.0}
    assert store.quotas.apply((_charge("a", 5, 10),))[0] is None
    assert store.quotas.apply((_charge("a", 0.5, 10),))[0] == "q"
    store.close()
