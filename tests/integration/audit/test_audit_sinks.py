"""Sinks against real local receivers, and the shipper's cursor: nothing lost, nothing
blocked, resume after restart."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from pathlib import Path

import pytest

from tests.integration.audit.helpers import Receiver, decision
from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import Signer
from ztgate.audit.exporters import WebhookCheckpointExporter
from ztgate.audit.log import AuditLog
from ztgate.audit.shipper import Shipper
from ztgate.audit.sinks import JsonlFileSink, SyslogSink, WebhookSink
from ztgate.errors import AuditError

RFC5424 = re.compile(
    r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) (?P<pid>\S+) (?P<msgid>\S+) "
    r"(?P<sd>\[ztgate@32473(?: [a-z]+=\"(?:[^\"\\\]]|\\.)*\")*\]) (?P<msg>\{.*\})$"
)


def _wait(predicate, timeout: float = 15.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.02)


def test_file_sink_resumes_from_persisted_cursor(audit_db, tmp_path: Path) -> None:
    db, _, log = audit_db
    for i in range(7):
        log.append(decision(i))
    out = tmp_path / "siem" / "audit.jsonl"
    backend = SQLiteBackend(db)
    shipper = Shipper(backend, JsonlFileSink(out), batch_size=3)
    assert shipper.drain() == 7
    backend.close()
    for i in range(7, 10):
        log.append(decision(i))
    backend = SQLiteBackend(db)  # a restarted shipper
    shipper = Shipper(backend, JsonlFileSink(out), batch_size=3)
    assert shipper.cursor == 7
    assert shipper.drain() == 3
    backend.close()
    seqs = [json.loads(line)["record"]["seq"] for line in out.read_text().splitlines()]
    assert seqs == list(range(1, 11))


def test_syslog_udp_rfc5424(audit_db, udp_listener: socket.socket) -> None:
    db, _, log = audit_db
    log.append(decision(3))
    log.record_lifecycle("kill_switch", actor="ops", subject="*")
    backend = SQLiteBackend(db)
    port = udp_listener.getsockname()[1]
    sink = SyslogSink("127.0.0.1", port, transport="udp", hostname="gw-1")
    Shipper(backend, sink).drain()
    sink.close()
    backend.close()
    messages = [udp_listener.recv(65536).decode() for _ in range(2)]
    first = RFC5424.match(messages[0])
    assert first, messages[0]
    assert int(first["pri"]) == 13 * 8 + 4  # log audit, warning (a deny)
    assert (first["host"], first["app"], first["msgid"]) == ("gw-1", "ztgate", "decision")
    assert 'seq="1"' in first["sd"]
    assert 'effect="deny"' in first["sd"]
    assert json.loads(first["msg"])["record"]["event"]["request_id"] == "req-3"
    second = RFC5424.match(messages[1])
    assert second, messages[1]
    assert int(second["pri"]) == 13 * 8 + 2  # kill switch is critical


def test_syslog_tcp_octet_counting_ocsf(audit_db) -> None:
    db, _, log = audit_db
    for i in range(1, 4):
        log.append(decision(i))
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    received = bytearray()

    def accept() -> None:
        conn, _ = server.accept()
        with conn:
            conn.settimeout(5)
            while chunk := conn.recv(65536):
                received.extend(chunk)

    thread = threading.Thread(target=accept)
    thread.start()
    backend = SQLiteBackend(db)
    sink = SyslogSink("127.0.0.1", server.getsockname()[1], transport="tcp", fmt="ocsf")
    Shipper(backend, sink).drain()
    sink.close()
    thread.join(10)
    server.close()
    backend.close()
    frames, rest = [], bytes(received)
    while rest:
        length, _, rest = rest.partition(b" ")
        frames.append(rest[: int(length)].decode())
        rest = rest[int(length) :]
    assert len(frames) == 3
    for frame in frames:
        match = RFC5424.match(frame)
        assert match, frame
        assert json.loads(match["msg"])["class_uid"] == 6003


def test_webhook_generic_retries_and_never_blocks_appends(
    audit_db, http_receiver: Receiver
) -> None:
    db, _, log = audit_db
    http_receiver.fail_first = 3
    backend = SQLiteBackend(db)
    shipper = Shipper(backend, WebhookSink(http_receiver.url), batch_size=4, poll_interval=0.02,
                      initial_backoff=0.01, max_backoff=0.05)  # fmt: skip
    shipper.start()
    for i in range(10):  # appends go on while the sink is failing
        log.append(decision(i))
    _wait(lambda: shipper.stats.shipped == 10)
    shipper.stop()
    assert shipper.stats.failures >= 3
    assert shipper.cursor == 10
    backend.close()
    seqs = [
        obj["record"]["seq"]
        for _, body in http_receiver.requests
        for obj in json.loads(body)["records"]
    ]
    assert seqs == list(range(1, 11))  # in order, none lost, none skipped


def test_webhook_failure_keeps_cursor(audit_db, http_receiver: Receiver) -> None:
    db, _, log = audit_db
    log.append(decision(1))
    http_receiver.fail_first = 10**6
    backend = SQLiteBackend(db)
    shipper = Shipper(backend, WebhookSink(http_receiver.url))
    with pytest.raises(AuditError, match="answered 503"):
        shipper.run_once()
    assert shipper.cursor == 0
    backend.close()


def test_webhook_splunk_hec_shape(audit_db, http_receiver: Receiver) -> None:
    db, _, log = audit_db
    log.append(decision(1, findings=({"scanner": "secrets", "rule": "aws", "severity": "high"},)))
    backend = SQLiteBackend(db)
    sink = WebhookSink(http_receiver.url, shape="splunk_hec", fmt="ocsf", token="hec-token")
    Shipper(backend, sink).drain()
    sink.close()
    backend.close()
    headers, body = http_receiver.requests[0]
    assert headers["Authorization"] == "Splunk hec-token"
    events = [json.loads(line) for line in body.decode().splitlines()]
    assert [e["event"]["class_uid"] for e in events] == [6003, 2004]
    assert {e["sourcetype"] for e in events} == {"ocsf"}
    assert all(isinstance(e["time"], float) and e["source"] == "ztgate" for e in events)


def test_checkpoint_webhook_exporter_retries(tmp_path: Path, http_receiver: Receiver) -> None:
    http_receiver.fail_first = 1
    signer = Signer.generate()
    exporter = WebhookCheckpointExporter(http_receiver.url)
    log = AuditLog(SQLiteBackend(tmp_path / "a.db"), signer, checkpoint_every=2,
                   checkpoint_interval=None, exporters=[exporter])  # fmt: skip
    log.append(decision(1))
    log.append(decision(2))
    _wait(lambda: len(http_receiver.requests) >= 1)
    log.close()
    exporter.close()
    bodies = [json.loads(body)["checkpoint"] for _, body in http_receiver.requests]
    assert bodies[0]["seq"] == 2
    assert bodies[-1]["seq"] == 2
