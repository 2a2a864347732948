"""Approval notifications: a webhook told about every new approval request.

Delivery runs on a small background worker so a slow or failing receiver never delays a
decision; failures are logged (the approval itself is in the store and the admin API
lists it either way). The payload names the call, never its arguments.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

import httpx

from ztgate.store import ApprovalRecord

_log = logging.getLogger("ztgate.service.notify")


def approval_payload(record: ApprovalRecord) -> dict[str, Any]:
    return {
        "type": "approval_requested",
        "approval_id": record.id,
        "agent": record.agent,
        "tool": record.tool,
        "server": record.server,
        "session": record.session,
        "requested_by": record.requested_by,
        "created_at": record.created_at.isoformat(),
        "expires_at": record.expires_at.isoformat(),
    }


class WebhookNotifier:
    """Posts :func:`approval_payload` as JSON to ``url``; call it as a notifier."""

    def __init__(self, url: str, *, timeout: float = 5.0, max_queue: int = 1000) -> None:
        if not url.startswith(("https://", "http://")):
            raise ValueError("webhook url must be http(s)")
        self.url = url
        self._client = httpx.Client(timeout=timeout)
        self._queue: queue.Queue[dict[str, Any] | None] = queue.Queue(maxsize=max_queue)
        self._thread = threading.Thread(target=self._run, name="ztgate-webhook", daemon=True)
        self._thread.start()

    def __call__(self, record: ApprovalRecord) -> None:
        try:
            self._queue.put_nowait(approval_payload(record))
        except queue.Full:
            _log.warning("approval webhook queue is full; notification for %s dropped", record.id)

    def _run(self) -> None:
        while True:
            payload = self._queue.get()
            if payload is None:
                return
            try:
                response = self._client.post(self.url, json=payload)
                if response.status_code >= 300:
                    _log.warning("approval webhook answered %s", response.status_code)
            except httpx.HTTPError as error:
                _log.warning("approval webhook failed: %s", type(error).__name__)
            finally:
                self._queue.task_done()

    def flush(self) -> None:
        self._queue.join()

    def close(self) -> None:
        self._queue.put(None)
        self._thread.join(timeout=5)
        self._client.close()
