"""The shipper: moves records from the log to a sink, resuming from a persisted cursor.

Decisions never wait for a SIEM. The log commits records locally; a shipper thread reads
what is committed after its cursor, hands a batch to its sink and only then advances the
cursor (stored in the audit database under ``sink:<name>``). If the sink fails, the batch
is retried with exponential backoff, nothing is skipped, and after a restart the shipper
continues where its cursor says.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

from ztgate.audit.backends import Backend
from ztgate.audit.sinks import Sink

_log = logging.getLogger("ztgate.audit.shipper")


@dataclass
class ShipperStats:
    shipped: int = 0
    batches: int = 0
    failures: int = 0
    last_error: str | None = None


class Shipper:
    """Delivers records after the cursor to ``sink``; use one backend per shipper."""

    def __init__(
        self,
        backend: Backend,
        sink: Sink,
        *,
        batch_size: int = 200,
        poll_interval: float = 0.5,
        initial_backoff: float = 0.2,
        max_backoff: float = 30.0,
    ) -> None:
        self.backend = backend
        self.sink = sink
        self.cursor_name = f"sink:{sink.name}"
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.stats = ShipperStats()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def cursor(self) -> int:
        return self.backend.get_cursor(self.cursor_name)

    def run_once(self) -> int:
        """Ship one batch; returns how many records were delivered (0 when caught up).

        Raises whatever the sink raised; the cursor then stays where it was.
        """
        batch = list(self.backend.records(self.cursor, self.batch_size))
        if not batch:
            return 0
        self.sink.send(batch)
        self.backend.set_cursor(self.cursor_name, batch[-1].seq)
        self.stats.shipped += len(batch)
        self.stats.batches += 1
        return len(batch)

    def drain(self) -> int:
        """Ship until caught up (raising on the first sink failure)."""
        total = 0
        while shipped := self.run_once():
            total += shipped
        return total

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._loop, name=f"ztgate-ship-{self.sink.name}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float | None = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        backoff = self.initial_backoff
        while not self._stop.is_set():
            try:
                shipped = self.run_once()
            except Exception as error:
                self.stats.failures += 1
                self.stats.last_error = str(error)
                _log.warning(
                    "sink %s failed, retrying in %.1fs: %s", self.sink.name, backoff, error
                )
                self._stop.wait(backoff)
                backoff = min(self.max_backoff, backoff * 2)
                continue
            backoff = self.initial_backoff
            if shipped < self.batch_size:
                self._stop.wait(self.poll_interval)
