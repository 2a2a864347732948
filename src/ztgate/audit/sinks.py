"""Sinks: where the shipper delivers audit records (a file, syslog, a webhook, OTel).

A sink gets a batch of stored records and either delivers all of them or raises; it
never decides what was delivered. The shipper (:mod:`.shipper`) owns the cursor, so a
failing sink only delays delivery. Delivery is at least once: every emitted object carries
the record's sequence number and hash, so a receiver can drop the rare duplicate after a
crash between delivery and cursor update.
"""

from __future__ import annotations

import json
import os
import socket
import threading
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, Protocol

import httpx

from ztgate.audit.chain import StoredRecord
from ztgate.audit.ocsf import to_ocsf
from ztgate.errors import AuditError, UsageError

SinkFormat = Literal["jsonl", "ocsf"]


class Sink(Protocol):
    """Delivers batches; ``name`` keys the shipper's persisted cursor."""

    name: str

    def send(self, batch: Sequence[StoredRecord]) -> None: ...
    def close(self) -> None: ...


def render(record: StoredRecord, fmt: SinkFormat) -> list[dict[str, Any]]:
    """The objects one record becomes in a given format."""
    data = json.loads(record.record)
    if fmt == "jsonl":
        return [{"hash": record.hash, "record": data}]
    if fmt == "ocsf":
        return to_ocsf(data, record.hash)
    raise UsageError(f"unknown sink format `{fmt}`: use `jsonl` or `ocsf`")


def _dumps(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"))


class JsonlFileSink:
    """Appends one JSON object per line and fsyncs each batch."""

    def __init__(self, path: Path, *, fmt: SinkFormat = "jsonl", name: str | None = None) -> None:
        self.path = Path(path)
        self.fmt: SinkFormat = fmt
        self.name = name or f"file:{self.path}"

    def send(self, batch: Sequence[StoredRecord]) -> None:
        data = "".join(_dumps(obj) + "\n" for r in batch for obj in render(r, self.fmt))
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            try:
                os.write(fd, data.encode("utf-8"))
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError as error:
            raise AuditError(f"cannot write sink file `{self.path}`: {error.strerror}") from error

    def close(self) -> None:
        return None


# --- syslog (RFC 5424) ---------------------------------------------------------------

FACILITY_LOG_AUDIT = 13
# Private Enterprise Number 32473 is reserved for documentation (RFC 5612); operators
# with their own PEN pass ``sd_id``.
DEFAULT_SD_ID = "ztgate@32473"


def _sd_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("]", "\\]")


def _severity(data: Mapping[str, Any]) -> int:
    event = data.get("event") or {}
    if data.get("type") == "decision":
        return {"allow": 6, "deny": 4, "approval_required": 5}.get(str(event.get("effect")), 4)
    return 2 if event.get("kind") == "kill_switch" else 5


def _header_token(value: str, limit: int) -> str:
    cleaned = "".join(ch for ch in value if 33 <= ord(ch) <= 126)[:limit]
    return cleaned or "-"


def format_rfc5424(
    record: StoredRecord,
    payload: Mapping[str, Any],
    *,
    app_name: str = "ztgate",
    hostname: str | None = None,
    facility: int = FACILITY_LOG_AUDIT,
    sd_id: str = DEFAULT_SD_ID,
) -> str:
    """One RFC 5424 message: header, a structured-data element, the JSON as MSG."""
    data = json.loads(record.record)
    pri = facility * 8 + _severity(data)
    stamp = datetime.fromtimestamp(record.time_us / 1e6, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    host = _header_token(hostname or socket.gethostname(), 255)
    params = {"seq": str(record.seq), "hash": record.hash, "type": record.type}
    for key in ("agent", "tool", "effect", "kind"):
        value = getattr(record, key)
        if value is not None:
            params[key] = str(value)
    sd = "[" + sd_id + "".join(f' {k}="{_sd_escape(v)}"' for k, v in params.items()) + "]"
    return (
        f"<{pri}>1 {stamp} {host} {_header_token(app_name, 48)} {os.getpid()} "
        f"{_header_token(record.type, 32)} {sd} {_dumps(payload)}"
    )


class SyslogSink:
    """RFC 5424 over UDP (one datagram per message) or TCP (RFC 6587 octet counting)."""

    def __init__(
        self,
        host: str,
        port: int,
        *,
        transport: Literal["udp", "tcp"] = "udp",
        fmt: SinkFormat = "jsonl",
        app_name: str = "ztgate",
        hostname: str | None = None,
        sd_id: str = DEFAULT_SD_ID,
        timeout: float = 5.0,
        name: str | None = None,
    ) -> None:
        if transport not in ("udp", "tcp"):
            raise UsageError(f"unknown syslog transport `{transport}`: use `udp` or `tcp`")
        self.address = (host, port)
        self.transport = transport
        self.fmt: SinkFormat = fmt
        self.app_name = app_name
        self.hostname = hostname
        self.sd_id = sd_id
        self.timeout = timeout
        self.name = name or f"syslog:{transport}:{host}:{port}"
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()

    def _connect(self) -> socket.socket:
        if self._sock is None:
            if self.transport == "udp":
                self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self._sock.connect(self.address)
            else:
                self._sock = socket.create_connection(self.address, timeout=self.timeout)
            self._sock.settimeout(self.timeout)
        return self._sock

    def send(self, batch: Sequence[StoredRecord]) -> None:
        messages = [
            format_rfc5424(
                r, obj, app_name=self.app_name, hostname=self.hostname, sd_id=self.sd_id
            ).encode("utf-8")
            for r in batch
            for obj in render(r, self.fmt)
        ]
        with self._lock:
            try:
                sock = self._connect()
                if self.transport == "udp":
                    for message in messages:
                        sock.send(message)
                else:
                    sock.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))
            except OSError as error:
                self._reset()
                raise AuditError(f"syslog sink `{self.name}` failed: {error}") from error

    def _reset(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def close(self) -> None:
        with self._lock:
            self._reset()


# --- HTTP webhook --------------------------------------------------------------------


class WebhookSink:
    """POSTs batches to an HTTP endpoint, as generic JSON or as Splunk HEC events.

    ``generic``: ``{"source": "ztgate", "records": [...]}``. ``splunk_hec``: the HEC
    event endpoint's body of concatenated ``{"time", "host", "source", "sourcetype",
    "event"}`` objects with ``Authorization: Splunk <token>``. Any non-2xx answer or
    transport error raises, so the shipper retries the same batch.
    """

    def __init__(
        self,
        url: str,
        *,
        shape: Literal["generic", "splunk_hec"] = "generic",
        fmt: SinkFormat = "jsonl",
        token: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        sourcetype: str | None = None,
        name: str | None = None,
    ) -> None:
        if shape not in ("generic", "splunk_hec"):
            raise UsageError(f"unknown webhook shape `{shape}`: use `generic` or `splunk_hec`")
        self.url = url
        self.shape = shape
        self.fmt: SinkFormat = fmt
        self.name = name or f"webhook:{url}"
        self.sourcetype = sourcetype or ("ocsf" if fmt == "ocsf" else "ztgate:audit")
        all_headers = dict(headers or {})
        if token is not None:
            all_headers["Authorization"] = (
                f"Splunk {token}" if shape == "splunk_hec" else f"Bearer {token}"
            )
        self._host = socket.gethostname()
        self._client = httpx.Client(timeout=timeout, headers=all_headers)

    def body(self, batch: Sequence[StoredRecord]) -> tuple[bytes, str]:
        objects = [(r, obj) for r in batch for obj in render(r, self.fmt)]
        if self.shape == "generic":
            payload = {"source": "ztgate", "records": [obj for _, obj in objects]}
            return _dumps(payload).encode("utf-8"), "application/json"
        lines = [
            _dumps(
                {
                    "time": round(r.time_us / 1e6, 6),
                    "host": self._host,
                    "source": "ztgate",
                    "sourcetype": self.sourcetype,
                    "event": obj,
                }
            )
            for r, obj in objects
        ]
        return "\n".join(lines).encode("utf-8"), "application/json"

    def send(self, batch: Sequence[StoredRecord]) -> None:
        content, content_type = self.body(batch)
        try:
            response = self._client.post(
                self.url, content=content, headers={"Content-Type": content_type}
            )
        except httpx.HTTPError as error:
            raise AuditError(f"webhook sink `{self.url}` unreachable: {error}") from error
        if not response.is_success:
            raise AuditError(f"webhook sink `{self.url}` answered {response.status_code}")

    def close(self) -> None:
        self._client.close()


def sink_from_url(
    url: str,
    *,
    fmt: SinkFormat = "jsonl",
    shape: Literal["generic", "splunk_hec"] = "generic",
    token: str | None = None,
) -> Sink:
    """Build a sink from a URL: ``file:PATH``, ``syslog+udp://host:port``,
    ``syslog+tcp://host:port``, or an ``http(s)://`` webhook."""
    from urllib.parse import urlsplit

    if url.startswith("file:"):
        return JsonlFileSink(Path(url[len("file:") :]), fmt=fmt)
    parts = urlsplit(url)
    if parts.scheme in ("syslog+udp", "syslog+tcp"):
        if not parts.hostname or not parts.port:
            raise UsageError(f"syslog sink `{url}` needs a host and a port")
        transport: Literal["udp", "tcp"] = "udp" if parts.scheme == "syslog+udp" else "tcp"
        return SyslogSink(parts.hostname, parts.port, transport=transport, fmt=fmt)
    if parts.scheme in ("http", "https"):
        return WebhookSink(url, shape=shape, fmt=fmt, token=token)
    raise UsageError(
        f"unsupported sink `{url}`: use file:PATH, syslog+udp://, syslog+tcp:// or http(s)://"
    )
