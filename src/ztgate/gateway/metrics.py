"""In-process counters and latency summaries for gateway decisions.

Kept deliberately small: counts by (server, tool, effect, reason code) and decision
latencies per server, rendered in the Prometheus text format at ``/metrics`` by the HTTP
transport and available to embedders as :meth:`Metrics.snapshot`.
"""

from __future__ import annotations

import threading
from collections import Counter, deque


class Metrics:
    def __init__(self, window: int = 4096) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, str, str]] = Counter()
        self._latency: dict[str, deque[int]] = {}
        self._window = window

    def count(self, server: str, tool: str, effect: str, code: str) -> None:
        with self._lock:
            self._counts[(server, tool, effect, code)] += 1

    def observe(self, server: str, latency_us: int) -> None:
        with self._lock:
            self._latency.setdefault(server, deque(maxlen=self._window)).append(latency_us)

    def snapshot(self) -> dict[str, object]:
        with self._lock:
            counts = [
                {"server": s, "tool": t, "effect": e, "code": c, "count": n}
                for (s, t, e, c), n in sorted(self._counts.items())
            ]
            latency = {}
            for server, values in self._latency.items():
                ordered = sorted(values)
                latency[server] = {
                    "p50_us": ordered[len(ordered) // 2],
                    "p99_us": ordered[min(len(ordered) - 1, (len(ordered) * 99) // 100)],
                    "samples": len(ordered),
                }
        return {"calls": counts, "decision_latency": latency}

    def prometheus(self) -> str:
        lines = [
            "# HELP ztgate_gateway_calls_total Gateway decisions by server, tool, effect, code.",
            "# TYPE ztgate_gateway_calls_total counter",
        ]
        with self._lock:
            items = sorted(self._counts.items())
        for (server, tool, effect, code), n in items:
            labels = ",".join(
                f'{k}="{_escape(v)}"'
                for k, v in (("server", server), ("tool", tool), ("effect", effect), ("code", code))
            )
            lines.append(f"ztgate_gateway_calls_total{{{labels}}} {n}")
        return "\n".join(lines) + "\n"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
