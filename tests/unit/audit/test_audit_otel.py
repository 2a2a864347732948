"""The OpenTelemetry logs sink through a real SDK LoggerProvider and in-memory exporter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.unit.audit.helpers import decision, lifecycle

pytest.importorskip("opentelemetry.sdk")

from opentelemetry.sdk._logs import LoggerProvider
from opentelemetry.sdk._logs.export import (
    InMemoryLogRecordExporter,
    SimpleLogRecordProcessor,
)

from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.log import AuditLog
from ztgate.audit.otel import OtelLogSink
from ztgate.audit.shipper import Shipper


def test_otel_sink_emits_log_records(make_log, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    log: AuditLog = make_log()
    log.append(decision(1, effect="deny"))
    log.append(lifecycle(2))
    log.close()
    exporter = InMemoryLogRecordExporter()
    provider = LoggerProvider()
    provider.add_log_record_processor(SimpleLogRecordProcessor(exporter))
    backend = SQLiteBackend(tmp_path / "audit.db")
    shipper = Shipper(backend, OtelLogSink(provider, fmt="ocsf"))
    assert shipper.drain() == 2
    assert shipper.cursor == 2
    backend.close()
    provider.shutdown()
    records = [item.log_record for item in exporter.get_finished_logs()]
    assert len(records) == 2
    first = records[0]
    assert first.severity_text == "WARN"
    assert first.attributes["gen_ai.agent.id"] == "agent-a"
    assert first.attributes["gen_ai.tool.name"] == "db.query"
    assert first.attributes["ztgate.audit.seq"] == 1
    assert json.loads(first.body)["class_uid"] == 6003
    assert records[1].attributes["ztgate.audit.kind"] == "agent_created"
