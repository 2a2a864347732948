"""Micro-benchmarks that other areas contribute as ``bench/bench_<area>.py``.

Each module exposes ``run(quick: bool) -> dict`` and its result is stored under
``<area>`` in the results file. A module that fails to import, raises, or returns
something other than a JSON-ready dict is recorded as failed with the reason; it never
stops the rest of the benchmark.
"""

from __future__ import annotations

import importlib
import json
import time
import traceback
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent


def discover(directory: Path = BENCH_DIR) -> list[str]:
    """Area names of the ``bench_<area>.py`` modules next to this file, sorted."""
    return sorted(p.stem.removeprefix("bench_") for p in directory.glob("bench_*.py"))


def run_one(area: str, quick: bool, package: str = "bench") -> dict[str, Any]:
    """Run one area's ``run(quick)``; failures become ``{"status": "failed", ...}``."""
    started = time.perf_counter()
    try:
        module = importlib.import_module(f"{package}.bench_{area}")
        run = getattr(module, "run", None)
        if not callable(run):
            raise TypeError(f"`{package}.bench_{area}` has no callable `run(quick)`")
        result = run(quick)
        if not isinstance(result, dict):
            raise TypeError(f"`run` returned `{type(result).__name__}`, expected a dict")
        # Round-trip now so that a value JSON cannot hold fails here, not at write time.
        result = json.loads(json.dumps(result, allow_nan=False, default=str))
    except Exception as exc:  # a broken contributor is a finding, not a crash
        return {
            "status": "failed",
            "error": f"{type(exc).__name__}: {exc}",
            "traceback_tail": traceback.format_exc().strip().splitlines()[-6:],
            "seconds": round(time.perf_counter() - started, 3),
        }
    return {"status": "ok", "seconds": round(time.perf_counter() - started, 3), "result": result}
