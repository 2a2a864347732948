"""Crash test: a child process appends and is killed with SIGKILL at random points.

Every record the child acknowledged (it prints the sequence number only after ``append``
returned in strict mode, or after ``flush`` returned in batched mode) must be in the store
afterwards, the chain must verify, and the log must reopen and keep growing.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import load_or_create_signer
from ztgate.audit.log import AuditLog
from ztgate.audit.verify import verify_backend

CHILD = r"""
import sys
from pathlib import Path
from ztgate.audit.config import open_log
from ztgate.core.models import Decision, Effect, Reason, ReasonCode
DECISION = Decision(Effect.ALLOW, (Reason(ReasonCode.ALLOWED, "ok", "r"),), ("r",), "pv")
data_dir, durability = Path(sys.argv[1]), sys.argv[2]
log = open_log(data_dir, durability=durability, checkpoint_every=7, checkpoint_interval=0.05)
print("ready", flush=True)
i = 0
while True:
    i += 1
    if i % 2:
        receipt = log.record_lifecycle("agent_updated", actor="crash-test", subject=f"a{i}",
                                       details={"i": i, "pad": "x" * (i % 50)})
    else:  # the decision path: batched mode seals these on the writer thread
        receipt = log.record_call(agent="crash-test", tool="t", args={"i": i, "pad": "x" * (i % 50)},
                                  decision=DECISION, request_id=f"r{i}")
    if durability == "batched":
        if i % 5:
            continue
        log.flush()
    print(receipt.seq, flush=True)
"""


def _run_and_kill(data_dir: Path, durability: str, rng: random.Random) -> list[int]:
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(data_dir), durability],
        stdout=subprocess.PIPE,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == b"ready"
    fd = child.stdout.fileno()
    os.set_blocking(fd, False)
    acknowledged: list[int] = []
    buffer = b""
    deadline = time.monotonic() + rng.uniform(0.05, 0.6)
    while time.monotonic() < deadline:
        try:
            buffer += os.read(fd, 65536)
        except BlockingIOError:
            time.sleep(0.005)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=30)
    os.set_blocking(fd, True)
    while chunk := os.read(fd, 65536):
        buffer += chunk
    child.stdout.close()
    # a line without its newline may have been cut mid-write: only whole lines count
    for line in buffer.decode().split("\n")[:-1]:
        acknowledged.append(int(line))
    assert child.returncode == -signal.SIGKILL
    return acknowledged


@pytest.mark.slow
@pytest.mark.parametrize("durability", ["strict", "batched"])
def test_sigkill_never_loses_an_acknowledged_record(tmp_path: Path, durability: str) -> None:
    rng = random.Random(int.from_bytes(os.urandom(4), "big"))
    data_dir = tmp_path / "data"
    total_acked = 0
    for _round in range(4):
        acknowledged = _run_and_kill(data_dir, durability, rng)
        total_acked += len(acknowledged)
        backend = SQLiteBackend(data_dir / "audit.db")
        signer = load_or_create_signer(data_dir / "audit-signing.key")
        try:
            head, _ = backend.head()
            stored = {r.seq for r in backend.records()}
            missing = [seq for seq in acknowledged if seq not in stored]
            assert not missing, f"acknowledged records lost after SIGKILL: {missing[:10]}"
            report = verify_backend(backend, [signer.public_key])
            assert report.ok, report.failure
            assert report.records == head
        finally:
            backend.close()
    assert total_acked > 0
    # and the log reopens cleanly and keeps its chain
    log = AuditLog(SQLiteBackend(data_dir / "audit.db"), signer)
    receipt = log.record_lifecycle("agent_updated", actor="t", subject="after")
    log.close()
    assert receipt.seq == head + 1
