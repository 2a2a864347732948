"""One benchmark run: the side-by-side small workload, the scale run, contributed modules.

Kept apart from ``__main__`` so tests can drive a run on a tiny workload.
"""

from __future__ import annotations

import functools
import os
import platform
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from bench import engines as engines_mod
from bench import plugins, scale, scale_peers, timing
from bench.workload import BenchRequest

PEER_NAMES = ("cedar", "rego", "agt")
ALL_ENGINES = ("ztgate", *PEER_NAMES)

# Targets from the "Done when" list.
TARGET_P50_US = 5.0
TARGET_P99_US = 25.0
TARGET_SPEEDUP_VS_CEDAR = 10.0
TARGET_SCALE_RATIO = 1.5


def machine_info() -> dict[str, Any]:
    info: dict[str, Any] = {
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
    }
    if hasattr(os, "sched_getaffinity"):
        info["cpus_usable"] = len(os.sched_getaffinity(0))
    if hasattr(os, "getloadavg"):
        info["loadavg_at_start"] = [round(x, 2) for x in os.getloadavg()]
    return info


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def workload_summary(requests: Sequence[BenchRequest]) -> dict[str, Any]:
    return {
        "requests": len(requests),
        "expected_allows": sum(r.expected for r in requests),
        "categories": dict(sorted(Counter(r.category for r in requests).items())),
    }


def run_engine(
    engine: engines_mod.Engine, requests: Sequence[BenchRequest], warmup: int
) -> dict[str, Any]:
    """Prepare (untimed), measure (timed), and compare with the reference."""
    prepared = [engine.prepare(r.agent, r.tool, r.args) for r in requests]
    measurement = timing.measure(engine.decide, prepared, warmup)
    total, by_category = timing.disagreements(
        measurement.answers, [r.expected for r in requests], [r.category for r in requests]
    )
    return {
        "status": "ok",
        "version": engine.version,
        **measurement.summary(),
        "allows": sum(measurement.answers),
        "disagreements": total,
        "disagreements_by_category": by_category,
    }


def run_side_by_side(
    names: Sequence[str],
    requests: Sequence[BenchRequest],
    warmup: int,
    factories: dict[str, Callable[[], engines_mod.Engine]] | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> dict[str, dict[str, Any]]:
    """Every named engine on the same requests, one after the other, in one process."""
    results: dict[str, dict[str, Any]] = {}
    for name in names:
        log(f"setting up {name}")
        factory = (factories or {}).get(name)
        started = time.perf_counter()
        engine = engines_mod.load(name, factory)
        setup_s = time.perf_counter() - started
        if isinstance(engine, engines_mod.Skipped):
            log(f"{name} skipped: {engine.reason}")
            results[name] = {"status": "skipped", "reason": engine.reason}
            continue
        log(f"timing {name} on {len(requests)} decisions")
        results[name] = {**run_engine(engine, requests, warmup), "setup_s": round(setup_s, 3)}
    return results


def comparisons(engines: dict[str, dict[str, Any]]) -> dict[str, float]:
    """p50 and p99 of each peer divided by ztgate's: how many times faster ztgate is."""
    ours = engines.get("ztgate", {})
    if ours.get("status") != "ok":
        return {}
    out: dict[str, float] = {}
    for name, res in engines.items():
        if name == "ztgate" or res.get("status") != "ok":
            continue
        out[f"{name}_p50_over_ztgate_p50"] = round(res["p50_us"] / ours["p50_us"], 2)
        out[f"{name}_p99_over_ztgate_p99"] = round(res["p99_us"] / ours["p99_us"], 2)
    return out


# Decisions per peer in the scale run: Cedar and AGT cost milliseconds per decision on
# 10,000 rules, so they get a smaller sample to keep `make bench` within minutes.
PEER_SCALE_REQUESTS = {"cedar": 200, "rego": 20_000, "agt": 200}


def run_scale(
    quick: bool,
    requests: int,
    seed: int,
    warmup: int,
    small: dict[str, dict[str, Any]],
    peers: Sequence[str] = (),
    log: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """ztgate on the generated large policy, loaded from a file with ``Gate.from_file``.

    Peers named in ``peers`` run the same workload (a prefix of it, see
    :data:`PEER_SCALE_REQUESTS`) on their own rendering of the same policy.
    """
    spec = (
        scale.build_spec(agents=10_000, blueprints=20, rules=1_000, tools=100)
        if quick
        else scale.build_spec()
    )
    out: dict[str, Any] = {
        "agents": spec.agents,
        "blueprints": spec.blueprints,
        "rules": spec.rule_count,
        "allow_rules": len(spec.allows),
        "deny_rules": len(spec.denies),
        "tools": len(spec.tools),
    }
    workload = scale.generate(spec, requests, seed)
    out["workload"] = workload_summary(workload)
    engines_out: dict[str, dict[str, Any]] = {}
    out["engines"] = engines_out
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-") as tmp:
        started = time.perf_counter()
        path = scale.write_policy(spec, Path(tmp))
        out["policy_file_bytes"] = path.stat().st_size
        log(f"loading scale policy ({out['policy_file_bytes'] // 1024} KiB) with Gate.from_file")
        started = time.perf_counter()
        engine = engines_mod.load("ztgate", lambda: engines_mod.ZtgateEngine(path))
        setup_s = round(time.perf_counter() - started, 3)
    if isinstance(engine, engines_mod.Skipped):
        engines_out["ztgate"] = {"status": "skipped", "reason": engine.reason}
    else:
        log(f"timing ztgate at scale on {len(workload)} decisions")
        engines_out["ztgate"] = {**run_engine(engine, workload, warmup), "setup_s": setup_s}
    for name in peers:
        log(f"setting up {name} at scale")
        started = time.perf_counter()
        peer = engines_mod.load(name, functools.partial(scale_peers.FACTORIES[name], spec))
        setup_s = round(time.perf_counter() - started, 3)
        if isinstance(peer, engines_mod.Skipped):
            engines_out[name] = {"status": "skipped", "reason": peer.reason}
            continue
        sample = workload[: min(len(workload), PEER_SCALE_REQUESTS[name] // (10 if quick else 1))]
        log(f"timing {name} at scale on {len(sample)} decisions")
        engines_out[name] = {
            **run_engine(peer, sample, min(warmup, len(sample) // 10)),
            "setup_s": setup_s,
        }
    for name, res in engines_out.items():
        base = small.get(name, {})
        if res.get("status") == "ok" and base.get("status") == "ok":
            res["p50_ratio_scale_over_small"] = round(res["p50_us"] / base["p50_us"], 3)
    return out


def targets(
    small: dict[str, dict[str, Any]], scale_result: dict[str, Any] | None
) -> dict[str, Any]:
    """The issue's acceptance numbers, each with the measured value and pass/fail."""
    ours = small.get("ztgate", {})
    if ours.get("status") != "ok":
        return {"ztgate": "not measured"}
    checks: dict[str, Any] = {
        "p50_le_5us": {"value": ours["p50_us"], "ok": ours["p50_us"] <= TARGET_P50_US},
        "p99_le_25us": {"value": ours["p99_us"], "ok": ours["p99_us"] <= TARGET_P99_US},
        "zero_disagreements": {"value": ours["disagreements"], "ok": ours["disagreements"] == 0},
    }
    cedar = small.get("cedar", {})
    if cedar.get("status") == "ok":
        speedup = cedar["p50_us"] / ours["p50_us"]
        checks["ge_10x_faster_than_cedar_p50"] = {
            "value": round(speedup, 2),
            "ok": speedup >= TARGET_SPEEDUP_VS_CEDAR,
        }
    scale_ours = (scale_result or {}).get("engines", {}).get("ztgate", {})
    if "p50_ratio_scale_over_small" in scale_ours:
        ratio = scale_ours["p50_ratio_scale_over_small"]
        checks["scale_p50_ratio_le_1_5"] = {"value": ratio, "ok": ratio <= TARGET_SCALE_RATIO}
        checks["scale_zero_disagreements"] = {
            "value": scale_ours["disagreements"],
            "ok": scale_ours["disagreements"] == 0,
        }
    return checks


def run_modules(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for area in plugins.discover():
        log(f"running bench_{area}")
        out[area] = plugins.run_one(area, quick)
    return out
