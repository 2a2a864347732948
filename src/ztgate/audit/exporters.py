"""Checkpoint exporters: copies of every signed checkpoint kept away from the log.

Whoever can rewrite the audit database can also delete its checkpoint table; a copy in an
append-only file on another volume, or at a webhook owned by someone else, is what makes
truncation and wholesale rewrites detectable.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

import httpx

from ztgate.audit.checkpoint import Checkpoint
from ztgate.errors import AuditError


class FileCheckpointExporter:
    """Appends each checkpoint as one JSON line and fsyncs it."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    def export(self, checkpoint: Checkpoint) -> None:
        line = (checkpoint.to_json() + "\n").encode("ascii")
        with self._lock:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
            try:
                os.write(fd, line)
                os.fsync(fd)
            finally:
                os.close(fd)

    def __repr__(self) -> str:
        return f"FileCheckpointExporter({str(self.path)!r})"


class WebhookCheckpointExporter:
    """POSTs each checkpoint as JSON; a non-2xx answer is a failure (retried by the log)."""

    def __init__(
        self, url: str, *, headers: dict[str, str] | None = None, timeout: float = 5.0
    ) -> None:
        self.url = url
        self._client = httpx.Client(timeout=timeout, headers=headers or {})

    def export(self, checkpoint: Checkpoint) -> None:
        try:
            response = self._client.post(self.url, json={"checkpoint": checkpoint.to_dict()})
        except httpx.HTTPError as error:
            raise AuditError(f"checkpoint webhook `{self.url}` unreachable: {error}") from error
        if not response.is_success:
            raise AuditError(f"checkpoint webhook `{self.url}` answered {response.status_code}")

    def close(self) -> None:
        self._client.close()

    def __repr__(self) -> str:
        return f"WebhookCheckpointExporter({self.url!r})"
