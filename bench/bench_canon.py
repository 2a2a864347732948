"""Micro-benchmarks for ``ztgate.core.canon``: the cost policy and scanners pay per input.

``run(quick)`` times single calls with ``perf_counter_ns`` and reports, per case, the
median and 99th percentile in microseconds. ``_memo`` cases repeat one input (what a
policy sees for recurring arguments); ``_cold`` cases use a new input on every call, and
include the cost of formatting that input. Runs on its own too:
``python bench/bench_canon.py [--quick]``.
"""

from __future__ import annotations

import gc
import itertools
import json
import math
import sys
import time
from collections.abc import Callable
from typing import Any

from ztgate.core.canon import (
    HostPatterns,
    canonical_path,
    canonical_string,
    find_invisible,
    host_matches,
    is_forbidden_destination,
    is_under,
    parse_email,
    parse_url,
    strip_invisible,
)


def _percentile(ordered: list[int], fraction: float) -> float:
    return float(ordered[max(1, math.ceil(fraction * len(ordered))) - 1])


def _time(call: Callable[[], object], iterations: int) -> dict[str, float]:
    for _ in range(min(1000, iterations)):
        call()
    gc.collect()
    clock = time.perf_counter_ns
    samples = [0] * iterations
    for i in range(iterations):
        start = clock()
        call()
        samples[i] = clock() - start
    samples.sort()
    return {
        "p50_us": round(_percentile(samples, 0.50) / 1000, 3),
        "p99_us": round(_percentile(samples, 0.99) / 1000, 3),
        "calls": iterations,
    }


def _fresh(template: str) -> Callable[[], str]:
    """A new input on every call, so memoised functions are timed without their memo."""
    counter = itertools.count()
    return lambda: template.format(next(counter))


def _cases() -> dict[str, Callable[[], object]]:
    url_cold = _fresh("https://api.example.com/v1/items?id={}")
    idn_cold = _fresh("https://b\u00fccher.example/\u00e4?q={}")
    v6_cold = _fresh("http://[::ffff:169.254.169.254]/{}")
    path_cold = _fresh("/data/reports/2024/q{}.csv")
    encoded_cold = _fresh("/data/reports/%2e%2e/q{}%252ecsv")
    api = parse_url("https://api.example.com/v1/items?id=3")
    domains = [f"service{i}.example.org" for i in range(1000)] + ["example.com"]
    host_matches(api, domains=domains)  # warm the canonical pattern cache, as a policy would
    patterns = HostPatterns.compile(domains=domains)
    scan_text = ("ordinary tool output line with numbers 12345\n" * 200) + "hid\u200bden"
    return {
        "canonical_string_ascii": lambda: canonical_string("read_file"),
        "canonical_string_ascii_multiline": lambda: canonical_string("line one\nline two\n"),
        "canonical_string_unicode": lambda: canonical_string("\uff52\uff4d -rf caf\u00e9"),
        "canonical_path": lambda: canonical_path("/data/reports/2024/q1.csv"),
        "is_under_plain_memo": lambda: is_under("/data/reports/2024/q1.csv", ["/data", "/tmp"]),
        "is_under_plain_cold": lambda: is_under(path_cold(), ["/data", "/tmp"]),
        "is_under_encoded_memo": lambda: is_under("/data/reports/%2e%2e/q1%252ecsv", ["/data"]),
        "is_under_encoded_cold": lambda: is_under(encoded_cold(), ["/data"]),
        "parse_url_ascii_memo": lambda: parse_url("https://api.example.com/v1/items?id=3"),
        "parse_url_ascii_cold": lambda: parse_url(url_cold()),
        "parse_url_idn_cold": lambda: parse_url(idn_cold()),
        "parse_url_ipv4_legacy_memo": lambda: parse_url("http://0x7f.1/admin"),
        "forbidden_destination_ipv6_cold": lambda: is_forbidden_destination(parse_url(v6_cold())),
        "host_matches_1001_domains": lambda: host_matches(api, domains=domains),
        "host_patterns_1001_domains": lambda: patterns.matches(api),
        "parse_email": lambda: parse_email("alice.smith+ops@example.com"),
        "find_invisible_9kb": lambda: find_invisible(scan_text),
        "strip_invisible_9kb": lambda: strip_invisible(scan_text),
    }


def run(quick: bool) -> dict[str, Any]:
    """Time every case; ``quick`` uses small samples for a smoke run."""
    iterations = 2_000 if quick else 50_000
    return {name: _time(call, iterations) for name, call in _cases().items()}


if __name__ == "__main__":
    print(json.dumps(run("--quick" in sys.argv), indent=1))
