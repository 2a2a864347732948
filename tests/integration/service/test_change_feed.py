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
from ztgate.service.changes import PostgresChangeFeed, RedisChangeFeed
from ztgate.store import KillScope

_REPLICA = """
import sys, time
from datetime import datetime, UTC
from ztgate.service.changes import PostgresChangeFeed, RedisChangeFeed
from ztgate.service.control import ControlPlane
from ztgate.service.pipeline import Call
from ztgate.store import open_store
store = open_store(sys.argv[1], schema=sys.argv[4] or None)
now = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
kind = RedisChangeFeed if sys.argv[2].startswith("redis") else PostgresChangeFeed
plane = ControlPlane(store, clock=lambda: now, staleness=3600.0,
                     change_feed=kind(sys.argv[2], channel=sys.argv[3]))
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


@pytest.fixture(
    params=[
        pytest.param("redis", marks=pytest.mark.redis),
        pytest.param("postgres", marks=pytest.mark.postgres),
    ]
)
def feed_url(request: pytest.FixtureRequest) -> str:
    name = "ZTGATE_TEST_REDIS_URL" if request.param == "redis" else "ZTGATE_TEST_POSTGRES_URL"
    url = os.environ.get(name)
    if not url:
        pytest.skip(f"{name} is not set")
    return url


def test_a_kill_switch_reaches_another_replica_within_a_second(
    tmp_path: Path, feed_url: str
) -> None:
    channel = f"ztgate_test_{uuid.uuid4().hex}"
    schema = None if feed_url.startswith("redis") else f"zf_{uuid.uuid4().hex[:12]}"
    location = str(tmp_path / "data") if schema is None else feed_url
    target = Target("sqlite" if schema is None else "postgres", location, schema, tmp_path)
    kind = RedisChangeFeed if feed_url.startswith("redis") else PostgresChangeFeed
    plane = target.open_control(Clock(), change_feed=kind(feed_url, channel=channel))
    seed(plane)
    replica = subprocess.Popen(
        [sys.executable, "-c", _REPLICA, target.location, feed_url, channel, schema or ""],
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
        if schema is not None:
            from sqlalchemy import create_engine, text

            engine = create_engine("postgresql+psycopg://" + feed_url.split("://", 1)[1])
            with engine.begin() as conn:
                conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
            engine.dispose()
