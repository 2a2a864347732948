"""Prometheus metrics of one app: decisions by effect and decision latency.

Each app has its own registry so several apps (tests, replicas in one process) never
collide on metric names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from ztgate.service.pipeline import Outcome

__all__ = ["CONTENT_TYPE_LATEST", "Metrics"]

_BUCKETS = (0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.01, 0.1, 1.0)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.decisions = Counter(
            "ztgate_decisions",
            "Authorization decisions by effect and public reason code",
            ("effect", "reason"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "ztgate_decision_latency_seconds",
            "Time spent in the decision pipeline",
            buckets=_BUCKETS,
            registry=self.registry,
        )

    def observe(self, outcome: Outcome) -> None:
        self.decisions.labels(outcome.effect.value, outcome.public_reason).inc()
        self.latency.observe(outcome.latency_us / 1_000_000)

    def render(self) -> bytes:
        return generate_latest(self.registry)
