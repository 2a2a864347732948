"""OpenTelemetry logs sink (optional: ``pip install 'ztgate[otel]'``).

Emits one OTel log record per audit object through a ``LoggerProvider`` (the global one
unless given), so audit events reach any OTLP collector the deployment already runs.
Attributes follow the GenAI semantic conventions where they exist (``gen_ai.agent.id``,
``gen_ai.tool.name``) plus ``ztgate.audit.*`` for the chain position. The sink flushes the
provider after each batch and raises if the flush fails, so the shipper's cursor only
moves past records the exporter accepted.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ztgate.audit.chain import StoredRecord
from ztgate.audit.sinks import SinkFormat, render
from ztgate.errors import AuditError, UsageError

try:
    from opentelemetry._logs import LoggerProvider, LogRecord, SeverityNumber, get_logger_provider
except ImportError as missing:  # pragma: no cover - exercised only without the extra
    raise UsageError(
        "the OpenTelemetry sink needs the `otel` extra: pip install 'ztgate[otel]'"
    ) from missing

_SEVERITY = {
    "allow": (SeverityNumber.INFO, "INFO"),
    "approval_required": (SeverityNumber.INFO2, "NOTICE"),
    "deny": (SeverityNumber.WARN, "WARN"),
}


class OtelLogSink:
    """Delivers audit records as OpenTelemetry log records."""

    def __init__(
        self,
        provider: LoggerProvider | None = None,
        *,
        fmt: SinkFormat = "jsonl",
        name: str = "otel",
        flush_timeout_ms: int = 10_000,
    ) -> None:
        self.provider = provider if provider is not None else get_logger_provider()
        self.fmt: SinkFormat = fmt
        self.name = name
        self._flush_timeout_ms = flush_timeout_ms
        self._logger = self.provider.get_logger("ztgate.audit")

    def send(self, batch: Sequence[StoredRecord]) -> None:
        for record in batch:
            data = json.loads(record.record)
            event = data.get("event") or {}
            if record.type == "decision":
                number, text = _SEVERITY.get(str(record.effect), (SeverityNumber.WARN, "WARN"))
            elif record.kind == "kill_switch":
                number, text = SeverityNumber.FATAL, "CRITICAL"
            else:
                number, text = SeverityNumber.INFO, "INFO"
            attributes: dict[str, Any] = {
                "ztgate.audit.seq": record.seq,
                "ztgate.audit.hash": record.hash,
                "ztgate.audit.type": record.type,
            }
            if record.agent:
                attributes["gen_ai.agent.id"] = record.agent
            if record.tool:
                attributes["gen_ai.tool.name"] = record.tool
            if record.effect:
                attributes["ztgate.audit.effect"] = record.effect
            if record.kind:
                attributes["ztgate.audit.kind"] = record.kind
            if event.get("session_id"):
                attributes["session.id"] = event["session_id"]
            for payload in render(record, self.fmt):
                self._logger.emit(
                    LogRecord(
                        timestamp=record.time_us * 1000,
                        observed_timestamp=record.time_us * 1000,
                        severity_number=number,
                        severity_text=text,
                        body=json.dumps(payload, sort_keys=True, separators=(",", ":")),
                        attributes=attributes,
                    )
                )
        flush = getattr(self.provider, "force_flush", None)
        if flush is not None and flush(self._flush_timeout_ms) is False:
            raise AuditError("OpenTelemetry log export did not complete")

    def close(self) -> None:
        return None
