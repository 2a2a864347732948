"""Redis pub/sub invalidation: a suspension made by one process is enforced by another
replica at once, even when that replica's polling interval is an hour."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tests.integration.service.support import Clock, Target, seed
from ztgate.service.changes import RedisChangeFeed
from ztgate.store import KillScope

pytestmark = pytest.mark.redis

_REPLICA = """
import sys, time
from datetime import datetime, UTC
from ztgate.service.changes import RedisChangeFeed
from ztgate.service.control import ControlPlane
from ztgate.service.pipeline import Call
from ztgate.store import open_store
store = open_store(sys.argv[1])
now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
plane = ControlPlane(store, clock=lambda: now, staleness=3600.0,
                     change_feed=RedisChangeFeed(sys.argv[2], channel=sys.argv[3]))
assert plane.pipeline.authorize(Call("ledger.read", {}, "fin-1")).allowed
print("ready", flush=True)
deadline = time.time() + 20
while time.time() < deadline:
    if not plane.pipeline.authorize(Call("ledger.read", {}, "fin-1")).allowed:
        print(f"denied {time.time()}", flush=True)
        break
    time.sleep(0.005)
else:
    print("never denied", flush=True)
plane.close()
"""


@pytest.fixture
def redis_url() -> str:
    url = os.environ.get("ZTGATE_TEST_REDIS_URL")
    if not url:
        pytest.skip("ZTGATE_TEST_REDIS_URL is not set")
    return url


def test_a_kill_switch_reaches_another_replica_within_a_second(
    tmp_path: Path, redis_url: str
) -> None:
    channel = f"ztgate-test-{uuid.uuid4().hex}"
    target = Target("sqlite", str(tmp_path / "data"), None, tmp_path)
    plane = target.open_control(Clock(), change_feed=RedisChangeFeed(redis_url, channel=channel))
    seed(plane)
    replica = subprocess.Popen(
        [sys.executable, "-c", _REPLICA, target.location, redis_url, channel],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert replica.stdout is not None
        assert replica.stdout.readline().strip() == "ready"
        time.sleep(0.3)  # let the replica's subscription settle
        engaged_at = time.time()
        plane.kill(KillScope.AGENT, "fin-1", actor="root", reason="incident")
        line = replica.stdout.readline().split()
        assert line[0] == "denied"
        assert float(line[1]) - engaged_at < 1.0
    finally:
        replica.wait(timeout=30)
        if replica.stdout is not None:
            replica.stdout.close()
        plane.close()
