"""Two ztgate source trees side by side: the guard and pipeline rows of ``make bench``,
alternating between the trees for a number of rounds, each round in a fresh process.

The machine's speed drifts by 2x and more between runs, so a before/after figure is only
worth quoting when both sides ran in one session; this runs them interleaved::

    git worktree add /tmp/before <commit>
    python -m bench.compare_trees /tmp/before/src src --rounds 3

Main's bench code measures both trees (only ``PYTHONPATH`` differs), and the medians of
the rounds are printed with the ratio before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_MEASURE = """
import json
from bench import bench_guard as guard, bench_service as service
guarded = guard.run(False)
row = {
    "tool_output_1kb": guarded["tool_output_1kb"]["p50_us"],
    "tool_arguments_json": guarded["tool_arguments_json"]["p50_us"],
    "tool_arguments_small": guarded["tool_arguments_small"]["p50_us"],
    "tool_arguments_small_fresh": guarded["tool_arguments_small_fresh"]["p50_us"],
    "model_1kb": guarded["stages_1kb"]["model"]["p50_us"],
}
for name, options in {
    "pipeline_full": dict(scan=True, audit=True),
    "pipeline_full_fresh": dict(scan=True, audit=True, fresh=True),
    "pipeline_no_audit_fresh": dict(scan=True, audit=False, fresh=True),
    "pipeline_no_scan": dict(scan=False, audit=True),
}.items():
    row[name] = service.bench_pipeline(20000, **options)["p50_us"]
print(json.dumps(row))
"""


def measure(src: Path) -> dict[str, float]:
    """One round for one tree, in a fresh interpreter."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(src), str(ROOT)])}
    env.pop("ZTGATE_REQUIRE_KERNEL", None)  # the older tree may have no compiled kernel
    done = subprocess.run(
        [sys.executable, "-c", _MEASURE], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode:
        raise RuntimeError(f"measuring {src} failed:\n{done.stderr[-3000:]}")
    row: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path, help="the older tree's src directory")
    parser.add_argument("after", type=Path, help="the newer tree's src directory")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    rows: dict[str, list[dict[str, float]]] = {"before": [], "after": []}
    for _ in range(args.rounds):
        for side in ("before", "after"):
            rows[side].append(measure(getattr(args, side).resolve()))
            print(side, json.dumps(rows[side][-1]), file=sys.stderr, flush=True)
    print(f"{'p50, microseconds':28s} {'before':>10s} {'after':>10s} {'ratio':>7s}")
    for key in rows["after"][0]:
        before = statistics.median(row[key] for row in rows["before"])
        after = statistics.median(row[key] for row in rows["after"])
        print(f"{key:28s} {before:10.1f} {after:10.1f} {before / after:6.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
