"""``python -m bench``: ztgate side by side with Cedar, Rego and the Agent Governance Toolkit.

Writes ``bench/results/<timestamp>.json`` and ``bench/results/latest.json`` and prints a
table. Exit status 1 when ztgate disagrees with the reference or could not be measured;
timing targets are reported, not enforced, because a shared machine is noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import runner, timing, workload
from bench.report import print_report

RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smoke run: small samples")
    parser.add_argument("--requests", type=int, help="decisions per engine (default 20000)")
    parser.add_argument("--seed", type=int, default=workload.DEFAULT_SEED)
    parser.add_argument(
        "--engines",
        default=",".join(runner.ALL_ENGINES),
        help="comma-separated subset of: " + ", ".join(runner.ALL_ENGINES),
    )
    parser.add_argument("--no-scale", action="store_true", help="skip the scale run")
    parser.add_argument(
        "--no-peer-scale", action="store_true", help="run the scale policy on ztgate only"
    )
    parser.add_argument(
        "--no-modules", action="store_true", help="skip contributed bench_<area>.py modules"
    )
    parser.add_argument("--output-dir", type=Path, default=RESULTS_DIR)
    args = parser.parse_args(argv)
    unknown = set(args.engines.split(",")) - set(runner.ALL_ENGINES)
    if unknown:
        parser.error(f"unknown engine(s): {', '.join(sorted(unknown))}")
    return args


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = parse_args(argv)
    # Rust peers (cedarpy, regorus) capture a full stack backtrace into every error when
    # RUST_BACKTRACE is set, charging them for a debugging aid on every request their
    # parser rejects. They are imported lazily by the engine adapters, so switching it
    # off here, before any of them loads, times them as they would be deployed.
    os.environ["RUST_BACKTRACE"] = "0"
    os.environ["RUST_LIB_BACKTRACE"] = "0"
    count = args.requests or (2_000 if args.quick else workload.DEFAULT_COUNT)
    warmup = min(2_000, max(100, count // 10))
    names = [n for n in runner.ALL_ENGINES if n in args.engines.split(",")]

    def log(message: str) -> None:
        print(f"[bench] {message}", file=sys.stderr, flush=True)

    started = datetime.now(UTC)
    wall = time.perf_counter()
    results: dict[str, Any] = {
        "schema": 1,
        "timestamp": started.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": shlex.join(["python", "-m", "bench", *argv]),
        "git_commit": runner.git_commit(),
        "machine": runner.machine_info(),
        "config": {
            "quick": args.quick,
            "requests": count,
            "warmup": warmup,
            "seed": args.seed,
            "engines": names,
            "timer": "time.perf_counter_ns around each decision, single thread, gc enabled",
        },
        "clock_overhead_ns": timing.clock_overhead_ns(),
    }

    requests = workload.generate(count, args.seed)
    small = runner.run_side_by_side(names, requests, warmup, log=log)
    results["small"] = {
        "policy": workload.POLICY_PATH,
        "workload": runner.workload_summary(requests),
        "engines": small,
        "comparisons": runner.comparisons(small),
    }

    scale_result = None
    if not args.no_scale:
        peers = [] if args.no_peer_scale else [n for n in names if n != "ztgate"]
        scale_result = runner.run_scale(
            args.quick, requests, count, args.seed + 1, warmup, peers, log
        )
        results["scale"] = scale_result
    results["targets"] = runner.targets(small, scale_result)
    if not args.no_modules:
        results["modules"] = runner.run_modules(args.quick, log)
    results["duration_s"] = round(time.perf_counter() - wall, 1)
    if hasattr(os, "getloadavg"):
        # The machine may be shared: a high load average explains a noisy p99.
        results["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]

    written = write_results(results, args.output_dir, started)
    print_report(results)
    print(f"results: {written}")
    return exit_status(results)


def write_results(results: dict[str, Any], directory: Path, started: datetime) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    text = json.dumps(results, indent=2, allow_nan=False, default=str) + "\n"
    path = directory / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(text, encoding="utf-8")
    (directory / "latest.json").write_text(text, encoding="utf-8")
    return path


def exit_status(results: dict[str, Any]) -> int:
    engines = results["small"]["engines"]
    if "ztgate" not in engines:
        return 0
    ours = engines["ztgate"]
    if ours.get("status") != "ok" or ours["disagreements"]:
        return 1
    scale = results.get("scale")
    if scale:
        for res in (
            scale["same_requests"]["ztgate"],
            scale["novel_tools"]["ztgate"],
            scale["generated"]["engines"].get("ztgate", {"status": "skipped"}),
        ):
            if res.get("status") != "ok" or res["disagreements"]:
                return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
