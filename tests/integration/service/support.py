"""A control plane on SQLite, and on PostgreSQL when ``ZTGATE_TEST_POSTGRES_URL`` is set
(a schema unique to the test, dropped afterwards), seeded with the finance example."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ztgate.audit import open_log
from ztgate.identity import TokenSettings
from ztgate.service.control import ControlPlane
from ztgate.store import open_store

ROOT = Path(__file__).resolve().parents[3]
FINANCE = (ROOT / "examples" / "finance" / "policy.yaml").read_text()
ISSUER = "https://ztgate.test"
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)  # a Monday, business hours in Berlin
PAY = {"amount": 120, "currency": "EUR", "recipient": "globex"}


@dataclass
class Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@dataclass
class Target:
    """Where a test's store lives: ``open()`` gives an independent handle each time."""

    kind: str
    location: str
    schema: str | None
    data_dir: Path

    def open_control(self, clock: Clock, **kwargs: object) -> ControlPlane:
        store = open_store(self.location, schema=self.schema)
        log = open_log(self.data_dir / "audit", durability="strict")
        return ControlPlane(
            store,
            audit=log,
            settings=TokenSettings(issuer=ISSUER, revocation_staleness=0.0),
            clock=clock,
            staleness=0.0,
            **kwargs,  # type: ignore[arg-type]
        )


def postgres_url() -> str | None:
    return os.environ.get("ZTGATE_TEST_POSTGRES_URL") or None


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def target(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Target]:
    if request.param == "sqlite":
        yield Target("sqlite", str(tmp_path / "data"), None, tmp_path)
        return
    url = postgres_url()
    if url is None:
        pytest.skip("ZTGATE_TEST_POSTGRES_URL is not set")
    schema = f"zs_{uuid.uuid4().hex[:16]}"
    yield Target("postgres", url, schema, tmp_path)
    engine = create_engine("postgresql+psycopg://" + url.split("://", 1)[1])
    with engine.begin() as conn:
        conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    engine.dispose()


def seed(control: ControlPlane) -> None:
    """The finance example, active, with its agents registered."""
    version = control.upload_policy(FINANCE, actor="root")
    control.activate_policy(version.number, actor="root")
    control.registry.create_blueprint("assistant")
    control.registry.create_blueprint("finance-bot", parent="assistant")
    for agent in ("fin-1", "fin-2"):
        control.registry.create_agent(
            agent, owners=["alice"], sponsors=["bob"], blueprint="finance-bot"
        )
    control.registry.create_agent(
        "intern-bot", owners=["alice"], sponsors=["bob"], blueprint="assistant"
    )


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def control(target: Target, clock: Clock) -> Iterator[ControlPlane]:
    plane = target.open_control(clock)
    seed(plane)
    yield plane
    plane.close()
