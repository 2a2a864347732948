"""One benchmark run: the side-by-side small workload, the scale run, contributed modules.

Kept apart from ``__main__`` so tests can drive a run on a tiny workload.
"""

from __future__ import annotations

import functools
import os
import platform
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import yaml

from bench import engines as engines_mod
from bench import plugins, scale, scale_peers, timing, workload
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


def git_commit() -> str:
    """The commit being measured (with ``+dirty`` when the tree has changes), or unknown."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=engines_mod.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=engines_mod.REPO_ROOT,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return head + ("+dirty" if dirty else "")


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
    return summarize(engine, timing.measure(engine.decide, prepared, warmup), requests)


def summarize(
    engine: engines_mod.Engine, measurement: timing.Measurement, requests: Sequence[BenchRequest]
) -> dict[str, Any]:
    """A measurement's statistics plus its disagreements with the reference."""
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
NOVEL_TOOL_REQUESTS = 500


def _spec(quick: bool) -> scale.ScaleSpec:
    if quick:
        return scale.build_spec(agents=10_000, blueprints=20, rules=1_000, tools=100)
    return scale.build_spec()


def _baseline_spec() -> scale.ScaleSpec:
    """The generated policy at toy size: the denominator for the generated-mix ratio."""
    return scale.build_spec(agents=100, blueprints=10, rules=100, tools=50)


def _bench_finance_document() -> dict[str, Any]:
    text = (engines_mod.REPO_ROOT / workload.POLICY_PATH).read_text(encoding="utf-8")
    doc = yaml.safe_load(text)
    if not isinstance(doc, dict):
        raise TypeError("the bench-finance policy is not a mapping")
    return doc


def _load_ztgate(
    spec: scale.ScaleSpec, base: dict[str, Any] | None
) -> tuple[engines_mod.Engine | engines_mod.Skipped, int, float]:
    with tempfile.TemporaryDirectory(prefix="ztgate-bench-") as tmp:
        path = scale.write_policy(spec, Path(tmp), base)
        size = path.stat().st_size
        started = time.perf_counter()
        engine = engines_mod.load("ztgate", lambda: engines_mod.ZtgateEngine(path))
        return engine, size, round(time.perf_counter() - started, 3)


def _sample_size(name: str, available: int, quick: bool) -> int:
    cap = PEER_SCALE_REQUESTS.get(name, available) // (10 if quick else 1)
    return min(available, cap)


def _run_peers(
    spec: scale.ScaleSpec,
    names: Sequence[str],
    requests: Sequence[BenchRequest],
    warmup: int,
    quick: bool,
    log: Callable[[str], None],
) -> dict[str, dict[str, Any]]:
    """The peers on their own rendering of ``spec``, on a prefix of ``requests``."""
    out: dict[str, dict[str, Any]] = {}
    for name in names:
        log(f"setting up {name} on {spec.agents:,} agents / {spec.rule_count:,} rules")
        started = time.perf_counter()
        engine = engines_mod.load(name, functools.partial(scale_peers.FACTORIES[name], spec))
        setup_s = round(time.perf_counter() - started, 3)
        if isinstance(engine, engines_mod.Skipped):
            out[name] = {"status": "skipped", "reason": engine.reason}
            continue
        sample = requests[: _sample_size(name, len(requests), quick)]
        log(f"timing {name} on {len(sample):,} generated decisions")
        out[name] = {
            **run_engine(engine, sample, min(warmup, len(sample) // 10)),
            "setup_s": setup_s,
        }
    return out


_WARM_KEYS = ("p50_us", "p99_us", "mean_us", "decisions_per_s", "disagreements")
BLOCKS = 10


def _ratio(numerator: dict[str, Any], denominator: dict[str, Any]) -> float:
    return round(float(numerator["p50_us"]) / float(denominator["p50_us"]), 3)


def run_scale(
    quick: bool,
    small_requests: Sequence[BenchRequest],
    count: int,
    seed: int,
    warmup: int,
    peers: Sequence[str] = (),
    log: Callable[[str], None] = lambda _msg: None,
    spec: scale.ScaleSpec | None = None,
    baseline: scale.ScaleSpec | None = None,
) -> dict[str, Any]:
    """The scale run, measured three ways; every ztgate ratio is measured interleaved.

    1. ``same_requests``: the exact bench-finance requests on a policy that holds the
       bench-finance policy *plus* the generated agents and rules, against the
       bench-finance policy alone. Only the policy size changes, so p50(scale) /
       p50(small) isolates the cost of size: this ratio is the "flat in scale" target.
    2. ``generated``: a mixed workload over the generated agents and rules (every request
       reaches argument checks) on the large policy, against the same generator on a
       toy-size policy (``baseline``). ztgate builds per-tool indexes on first sight of a
       tool name, so it is timed twice: ``cold`` (first pass) and ``warm`` (second pass).
       The peers run it too, on their own rendering of the policy (not interleaved).
    3. ``novel_tools``: tool names no rule mentions, each seen once (caller-controlled
       names cannot be pre-warmed).

    The two runs of each ratio are timed in alternating slices
    (:func:`timing.measure_interleaved`) so that drift in machine load cannot bias it.
    """
    spec = spec or _spec(quick)
    toy = baseline or _baseline_spec()
    out: dict[str, Any] = {
        "agents": spec.agents,
        "blueprints": spec.blueprints,
        "generated_rules": spec.rule_count,
        "allow_rules": len(spec.allows),
        "deny_rules": len(spec.denies),
        "tools": len(spec.tools),
        "includes": workload.POLICY_PATH,
        "interleaved_blocks": BLOCKS,
    }
    log(f"writing and loading the scale policy with Gate.from_file ({spec.agents:,} agents)")
    big, size, setup_s = _load_ztgate(spec, _bench_finance_document())
    out["policy_file_bytes"] = size
    out["ztgate_load_s"] = setup_s
    small_engine = engines_mod.load("ztgate")
    toy_engine, _size, toy_setup = _load_ztgate(toy, None)
    generated = scale.generate(spec, count, seed)
    toy_requests = scale.generate(toy, count, seed)
    skipped = next(
        (e for e in (big, small_engine, toy_engine) if isinstance(e, engines_mod.Skipped)), None
    )
    same: dict[str, Any]
    same_small: dict[str, Any]
    mixed: dict[str, Any]
    toy_mixed: dict[str, Any]
    novel: dict[str, Any]
    if (
        isinstance(big, engines_mod.Skipped)
        or isinstance(small_engine, engines_mod.Skipped)
        or isinstance(toy_engine, engines_mod.Skipped)
    ):
        reason = skipped.reason if skipped is not None else "not loaded"
        same = same_small = mixed = toy_mixed = novel = {"status": "skipped", "reason": reason}
    else:
        log(f"timing ztgate on the {len(small_requests):,} bench-finance requests, scale vs small")
        on_big = [big.prepare(r.agent, r.tool, r.args) for r in small_requests]
        on_small = [small_engine.prepare(r.agent, r.tool, r.args) for r in small_requests]
        timing.measure(big.decide, on_big, len(on_big))  # both warm: steady state
        timing.measure(small_engine.decide, on_small, len(on_small))
        both = timing.measure_interleaved(
            {"scale": (big.decide, on_big), "small": (small_engine.decide, on_small)}, BLOCKS
        )
        same = summarize(big, both["scale"], small_requests)
        same_small = summarize(small_engine, both["small"], small_requests)
        same["p50_ratio_scale_over_small"] = _ratio(same, same_small)

        log(f"timing ztgate on {len(generated):,} generated requests, large vs toy policy")
        runs = {
            "large": (big.decide, [big.prepare(r.agent, r.tool, r.args) for r in generated]),
            "toy": (
                toy_engine.decide,
                [toy_engine.prepare(r.agent, r.tool, r.args) for r in toy_requests],
            ),
        }
        cold = timing.measure_interleaved(runs, BLOCKS)
        warm = timing.measure_interleaved(runs, BLOCKS)
        mixed = summarize(big, cold["large"], generated)
        toy_mixed = summarize(toy_engine, cold["toy"], toy_requests)
        mixed["warm"] = {k: summarize(big, warm["large"], generated)[k] for k in _WARM_KEYS}
        toy_mixed["warm"] = {
            k: summarize(toy_engine, warm["toy"], toy_requests)[k] for k in _WARM_KEYS
        }
        mixed["p50_ratio_scale_over_baseline"] = _ratio(mixed, toy_mixed)
        mixed["warm"]["p50_ratio_scale_over_baseline"] = _ratio(mixed["warm"], toy_mixed["warm"])

        fresh = scale.novel_tool_requests(spec, NOVEL_TOOL_REQUESTS // (10 if quick else 1), seed)
        log(f"timing ztgate at scale on {len(fresh):,} never-seen tool names")
        novel = run_engine(big, fresh, 0)
    out["same_requests"] = {
        "workload": workload_summary(small_requests),
        "ztgate": same,
        "ztgate_small_policy": same_small,
    }
    out["novel_tools"] = {"ztgate": novel}
    out["generated"] = {
        "workload": workload_summary(generated),
        "engines": {
            "ztgate": {**mixed, "setup_s": setup_s} if mixed.get("status") == "ok" else mixed,
            **_run_peers(spec, peers, generated, warmup, quick, log),
        },
        "baseline": {
            "agents": toy.agents,
            "blueprints": toy.blueprints,
            "rules": toy.rule_count,
            "ztgate_load_s": toy_setup,
            "engines": {
                "ztgate": toy_mixed,
                **_run_peers(toy, peers, toy_requests, warmup, quick, log),
            },
        },
    }
    for name, res in out["generated"]["engines"].items():
        base = out["generated"]["baseline"]["engines"].get(name, {})
        if name != "ztgate" and res.get("status") == "ok" and base.get("status") == "ok":
            res["p50_ratio_scale_over_baseline"] = _ratio(res, base)
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
    if scale_result:
        same = scale_result["same_requests"]["ztgate"]
        mixed = scale_result["generated"]["engines"].get("ztgate", {})
        if "p50_ratio_scale_over_small" in same:
            ratio = same["p50_ratio_scale_over_small"]
            checks["scale_p50_ratio_le_1_5"] = {"value": ratio, "ok": ratio <= TARGET_SCALE_RATIO}
        for label, res in (("cold", mixed), ("warm", mixed.get("warm", {}))):
            if "p50_ratio_scale_over_baseline" in res:
                ratio = res["p50_ratio_scale_over_baseline"]
                checks[f"scale_generated_mix_{label}_p50_ratio_le_1_5"] = {
                    "value": ratio,
                    "ok": ratio <= TARGET_SCALE_RATIO,
                }
        measured = [same, mixed, scale_result["novel_tools"]["ztgate"]]
        wrong = [res["disagreements"] for res in measured if res.get("status") == "ok"]
        wrong.extend(res["warm"]["disagreements"] for res in measured if "warm" in res)
        if wrong:
            checks["scale_zero_disagreements"] = {"value": sum(wrong), "ok": sum(wrong) == 0}
    return checks


def run_modules(quick: bool, log: Callable[[str], None]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for area in plugins.discover():
        log(f"running bench_{area}")
        out[area] = plugins.run_one(area, quick)
    return out
