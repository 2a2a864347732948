"""Per-decision timing and the summary statistics the benchmark reports.

Every decision is timed on its own with ``time.perf_counter_ns`` so that p99 means the
99th percentile of single decisions, not of batches. The loop is the same for every
engine; its own cost (two clock reads) is measured and reported, never subtracted.
"""

from __future__ import annotations

import contextlib
import gc
import math
import statistics
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


def percentile(sorted_values: Sequence[int], fraction: float) -> float:
    """Nearest-rank percentile of already sorted values (``fraction`` in ``[0, 1]``)."""
    if not sorted_values:
        raise ValueError("percentile of an empty sample")
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction `{fraction}` is outside [0, 1]")
    rank = max(1, math.ceil(fraction * len(sorted_values)))
    return float(sorted_values[rank - 1])


@dataclass(slots=True)
class Measurement:
    """What one engine did on one workload."""

    latencies_ns: list[int]
    answers: list[bool]
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ns)
        mean_ns = statistics.fmean(ordered)
        total_s = sum(ordered) / 1e9
        return {
            "decisions": len(ordered),
            "p50_us": percentile(ordered, 0.50) / 1000,
            "p90_us": percentile(ordered, 0.90) / 1000,
            "p99_us": percentile(ordered, 0.99) / 1000,
            "max_us": ordered[-1] / 1000,
            "mean_us": mean_ns / 1000,
            "decisions_per_s": len(ordered) / total_s if total_s > 0 else math.inf,
            "errors": self.errors,
            "error_samples": self.error_samples,
        }


def measure(
    decide: Callable[[Any], bool],
    prepared: Sequence[Any],
    warmup: int,
) -> Measurement:
    """Run ``decide`` on every prepared request, after ``warmup`` untimed calls.

    An exception from the engine counts as a deny (fail closed) and as an error; the
    first few messages are kept for the report. The garbage collector stays on: a
    service pays for it too. It is run once before the timed pass so that every engine
    starts from a clean heap.
    """
    for item in prepared[: max(0, warmup)]:
        with contextlib.suppress(Exception):  # counted in the timed pass below
            decide(item)
    gc.collect()
    clock = time.perf_counter_ns
    latencies = [0] * len(prepared)
    answers = [False] * len(prepared)
    errors = 0
    samples: list[str] = []
    for i, item in enumerate(prepared):
        start = clock()
        try:
            allowed = decide(item)
        except Exception as exc:
            end = clock()
            allowed = False
            errors += 1
            if len(samples) < 3:
                samples.append(f"{type(exc).__name__}: {str(exc).splitlines()[0][:200]}")
        else:
            end = clock()
        latencies[i] = end - start
        answers[i] = allowed
    return Measurement(latencies, answers, errors, samples)


def measure_interleaved(
    runs: Mapping[str, tuple[Callable[[Any], bool], Sequence[Any]]], blocks: int = 10
) -> dict[str, Measurement]:
    """One timed pass over each run's requests, in ``blocks`` slices taken in turn.

    A ratio between two runs measured minutes apart on a shared machine measures the
    machine as much as the engines; alternating slices makes any drift in load hit every
    run alike.
    """
    if blocks < 1:
        raise ValueError("blocks must be at least 1")
    parts: dict[str, list[Measurement]] = {name: [] for name in runs}
    for block in range(blocks):
        for name, (decide, prepared) in runs.items():
            size = len(prepared)
            chunk = prepared[size * block // blocks : size * (block + 1) // blocks]
            parts[name].append(measure(decide, chunk, 0))
    return {name: _merge(measurements) for name, measurements in parts.items()}


def _merge(measurements: Sequence[Measurement]) -> Measurement:
    merged = Measurement([], [])
    for m in measurements:
        merged.latencies_ns.extend(m.latencies_ns)
        merged.answers.extend(m.answers)
        merged.errors += m.errors
        merged.error_samples.extend(m.error_samples[: max(0, 3 - len(merged.error_samples))])
    return merged


def clock_overhead_ns(samples: int = 20_000) -> float:
    """Median cost of an empty timed region: what every measurement includes."""
    clock = time.perf_counter_ns
    values = []
    for _ in range(samples):
        start = clock()
        end = clock()
        values.append(end - start)
    return statistics.median(values)


def disagreements(
    answers: Sequence[bool], expected: Sequence[bool], categories: Sequence[str]
) -> tuple[int, dict[str, dict[str, int]]]:
    """How many answers differ from the reference, broken down by request category.

    The breakdown separates *false allows* (the engine allowed what the reference
    denies: the dangerous kind) from *false denies*.
    """
    if not len(answers) == len(expected) == len(categories):
        raise ValueError("answers, expected and categories differ in length")
    by_category: dict[str, Counter[str]] = {}
    total = 0
    for got, want, category in zip(answers, expected, categories, strict=True):
        if got == want:
            continue
        total += 1
        kind = "false_allow" if got else "false_deny"
        by_category.setdefault(category, Counter())[kind] += 1
    return total, {cat: dict(counts) for cat, counts in sorted(by_category.items())}
