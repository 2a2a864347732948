"""Guard micro-benchmarks: scan cost of a 1 KB tool output with the full ``tool_output``
profile (target p50 <= 200 us), of tool arguments (a larger call, and the small call of
``bench_service`` both repeated and never seen before), and the shipped model's size
(target <= 5 MB). Run by ``make bench`` through the bench harness, or alone with
``python -m bench.bench_guard``."""

from __future__ import annotations

import gc
import json
import math
import time
from collections.abc import Callable
from importlib import resources
from typing import Any

from ztgate.guard.injection.detector import prepare
from ztgate.guard.injection.model import MODEL_FILE, default_model
from ztgate.guard.pii import scan_pii
from ztgate.guard.scan import scan
from ztgate.guard.secrets import scan_secrets
from ztgate.guard.view import build_view

# A realistic 1 KB tool output: an e-mail a mail tool returned, with a link, an amount,
# an address and a signature, but nothing hostile.
_OUTPUT = (
    "From: Priya Raman <priya.raman@example.com>\n"
    "Subject: Re: Q3 vendor invoices\n\n"
    "Hi Sam,\n\nThanks for sending the invoices over. I went through the three from "
    "Northwind and the totals match the purchase orders, except for PO-4471 where the "
    "shipping line was billed twice ($184.20). I have asked their accounts team to issue "
    "a credit note, and they said it should arrive by Friday. The updated tracker is at "
    "https://docs.example.com/finance/q3-tracker and I added a column for the approval "
    "date so we can see what is still waiting on sign-off. Could you check the two "
    "Contoso invoices before the month-end close? Their portal was down yesterday, so "
    "I could not download the PDFs, but the amounts in the summary e-mail were 12,400 "
    "and 3,150 EUR. If anything looks off, ping me and we can go through it on Thursday "
    "after the stand-up. Best regards, Priya -- Finance Operations, Building 4, "
    "room 2.17, extension 4432. Please consider the environment before printing. "
    "Sent from the finance team's shared mailbox."
)
_ARGUMENTS = {
    "to": "sam@example.com",
    "subject": "Q3 vendor invoices",
    "body": _OUTPUT[200:800],
    "attachments": ["/data/finance/q3/northwind-4471.pdf"],
    "command": "ls -la /data/finance/q3 && tar czf /tmp/q3.tgz /data/finance/q3",
}


# The tool call bench_service authorizes: a handful of short, plain arguments.
_SMALL_ARGUMENTS = {"account": "AP-2291", "query": "open invoices for globex"}


def _fresh_small() -> Callable[[], object]:
    """The small call with a query never seen before on each call: the scanner remembers
    injection scores of short argument documents, and this row measures the cost when it
    cannot (the model runs every time)."""
    counter = iter(range(1 << 62))

    def call() -> object:
        arguments = {"account": "AP-2291", "query": f"open invoices for globex {next(counter)}"}
        return scan(arguments, "tool_arguments")

    return call


def _time(call: Callable[[], object], iterations: int) -> dict[str, float]:
    for _ in range(max(10, iterations // 10)):
        call()
    samples: list[int] = []
    gc_was_enabled = gc.isenabled()
    gc.disable()
    cpu_started = time.process_time_ns()
    try:
        for _ in range(iterations):
            started = time.perf_counter_ns()
            call()
            samples.append(time.perf_counter_ns() - started)
    finally:
        cpu_ns = time.process_time_ns() - cpu_started
        if gc_was_enabled:
            gc.enable()
    samples.sort()

    def pct(fraction: float) -> float:
        return samples[max(0, math.ceil(fraction * len(samples)) - 1)] / 1000

    # CPU time per call is reported too: on a shared machine wall-clock percentiles include
    # time the process spent waiting for a core.
    return {
        "p50_us": pct(0.5),
        "p99_us": pct(0.99),
        "cpu_mean_us": round(cpu_ns / iterations / 1000, 1),
        "iterations": iterations,
    }


def run(quick: bool) -> dict[str, Any]:
    """Medians and p99 of the guard's scan paths, plus model size."""
    iterations = 300 if quick else 3000
    model = default_model()
    text = _OUTPUT[:1024]
    folded = prepare(text)
    view = build_view(text)
    with resources.as_file(resources.files("ztgate.guard.injection") / MODEL_FILE) as path:
        model_bytes = path.stat().st_size
    result = {
        "input_chars": len(text),
        "tool_output_1kb": _time(lambda: scan(text, "tool_output"), iterations),
        "tool_arguments_json": _time(lambda: scan(_ARGUMENTS, "tool_arguments"), iterations),
        # The same small call every time (its injection score comes from the memo) ...
        "tool_arguments_small": _time(lambda: scan(_SMALL_ARGUMENTS, "tool_arguments"), iterations),
        # ... and a new one every time (the model scores it).
        "tool_arguments_small_fresh": _time(_fresh_small(), iterations),
        "stages_1kb": {
            "view": _time(lambda: build_view(text), iterations),
            "secrets": _time(lambda: scan_secrets(view.text), iterations),
            "pii": _time(lambda: scan_pii(view.text), iterations),
            "model": _time(lambda: model.score(folded), iterations),
        },
        "model_file_bytes": model_bytes,
        "model_file_mb": round(model_bytes / 1_000_000, 3),
        "model_weights": int(model.weights.size),
        "targets": {"tool_output_1kb_p50_us": 200, "model_file_mb": 5},
    }
    result["meets_targets"] = (
        result["tool_output_1kb"]["p50_us"] <= 200 and result["model_file_mb"] <= 5
    )
    return result


if __name__ == "__main__":
    print(json.dumps(run(quick=True), indent=2))
