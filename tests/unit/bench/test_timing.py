"""Percentiles, the timing loop's fail-closed accounting and the disagreement breakdown."""

from __future__ import annotations

import pytest
from bench import timing


@pytest.mark.parametrize(
    ("fraction", "expected"),
    [(0.0, 1.0), (0.01, 1.0), (0.5, 50.0), (0.99, 99.0), (0.995, 100.0), (1.0, 100.0)],
)
def test_nearest_rank_percentile(fraction: float, expected: float) -> None:
    assert timing.percentile(list(range(1, 101)), fraction) == expected


def test_percentile_refuses_empty_and_out_of_range() -> None:
    with pytest.raises(ValueError, match="empty"):
        timing.percentile([], 0.5)
    with pytest.raises(ValueError, match="outside"):
        timing.percentile([1], 1.5)


def test_measure_times_every_decision_and_counts_errors_as_denies() -> None:
    def decide(item: int) -> bool:
        if item % 3 == 0:
            raise RuntimeError(f"engine failed on `{item}`\nsecond line")
        return item % 2 == 0

    m = timing.measure(decide, list(range(10)), warmup=4)
    assert len(m.latencies_ns) == 10
    assert all(ns >= 0 for ns in m.latencies_ns)
    assert m.answers == [False, False, True, False, True, False, False, False, True, False]
    assert m.errors == 4
    assert m.error_samples == [
        "RuntimeError: engine failed on `0`",
        "RuntimeError: engine failed on `3`",
        "RuntimeError: engine failed on `6`",
    ]
    summary = m.summary()
    assert summary["decisions"] == 10
    assert summary["errors"] == 4
    assert summary["p50_us"] <= summary["p99_us"] <= summary["max_us"]


def test_summary_statistics_on_known_latencies() -> None:
    m = timing.Measurement(latencies_ns=[1000 * i for i in range(1, 101)], answers=[True] * 100)
    s = m.summary()
    assert s["p50_us"] == 50.0
    assert s["p99_us"] == 99.0
    assert s["mean_us"] == 50.5
    assert s["decisions_per_s"] == pytest.approx(100 / (5050 * 1000 / 1e9))


def test_disagreements_split_false_allows_from_false_denies() -> None:
    total, by_category = timing.disagreements(
        answers=[True, False, True, True, False],
        expected=[True, True, False, False, False],
        categories=["ok", "a", "b", "b", "c"],
    )
    assert total == 3
    assert by_category == {"a": {"false_deny": 1}, "b": {"false_allow": 2}}


def test_disagreements_refuse_mismatched_lengths() -> None:
    with pytest.raises(ValueError, match="length"):
        timing.disagreements([True], [True, False], ["x"])


def test_clock_overhead_is_small_and_positive() -> None:
    # Not a timing assert on product code: a sanity bound on the clock itself.
    assert 0 <= timing.clock_overhead_ns(1_000) < 1_000_000
