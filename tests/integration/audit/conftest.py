"""Real local receivers for sink tests: an HTTP server and syslog listeners on loopback."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.integration.audit.helpers import Receiver
from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import Signer
from ztgate.audit.log import AuditLog


@pytest.fixture
def http_receiver() -> Iterator[Receiver]:
    receiver = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                receiver.attempts += 1
                failing = receiver.attempts <= receiver.fail_first
                if not failing:
                    receiver.requests.append((dict(self.headers.items()), body))
            self.send_response(receiver.status if failing else 200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            return None

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/collect"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()


@pytest.fixture
def udp_listener() -> Iterator[socket.socket]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(5)
    yield sock
    sock.close()


@pytest.fixture
def audit_db(tmp_path: Path) -> Iterator[tuple[Path, Signer, AuditLog]]:
    signer = Signer.generate()
    log = AuditLog(SQLiteBackend(tmp_path / "audit.db"), signer, checkpoint_interval=None)
    yield tmp_path / "audit.db", signer, log
    log.close()
