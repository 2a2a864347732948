from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.integration.identity.identity_support import T0, Backend
from ztgate.errors import StoreError, UsageError
from ztgate.store import (
    Agent,
    AgentStatus,
    LifecycleEvent,
    Revocation,
    Store,
    StoreEventSink,
    open_store,
)
from ztgate.store import _schema as s
from ztgate.store._migrations import MIGRATIONS, Migration, migrate


def _agent(agent_id: str = "a1") -> Agent:
    return Agent(
        id=agent_id,
        display_name="A one",
        blueprint=None,
        owners=("alice",),
        sponsors=("bob",),
        status=AgentStatus.ACTIVE,
        created_at=T0,
        expires_at=T0 + timedelta(days=30),
        last_attested_at=None,
        risk_level="low",
        tags=("t",),
        scopes=("read",),
        conditions={"max_risk": "high"},
    )


def test_sqlite_store_is_created_in_the_data_dir(tmp_path: Path) -> None:
    target = tmp_path / "nested" / "data"
    with open_store(target) as store:
        assert (target / "ztgate.db").is_file()
        assert store.dialect == "sqlite"
        assert store.revision() == 0


def test_migrations_run_once_and_are_recorded(backend: Backend) -> None:
    first = backend.open()
    second = backend.open()  # migrating again applies nothing
    with first.transaction() as conn:
        versions = list(conn.execute(select(s.schema_versions.c.version)).scalars())
        assert migrate(conn) == []
    assert versions == [m.version for m in MIGRATIONS]
    assert second.revision() == first.revision()


def test_migration_versions_must_increase(store: Store) -> None:
    bad = (Migration(2, "b", lambda c: None), Migration(1, "a", lambda c: None))
    with store.transaction() as conn, pytest.raises(ValueError, match="increasing"):
        migrate(conn, bad)


def test_agent_round_trip_and_revision_bump(store: Store) -> None:
    before = store.revision()
    generation = store.local_generation
    store.agents.add(_agent())
    assert store.revision() == before + 1
    assert store.local_generation == generation + 1
    loaded = store.agents.get("a1")
    assert loaded == replace(_agent(), conditions={"max_risk": "high"})
    assert loaded is not None
    assert loaded.created_at.tzinfo is not None
    store.agents.replace(replace(_agent(), status=AgentStatus.SUSPENDED))
    got = store.agents.get("a1")
    assert got is not None
    assert got.status is AgentStatus.SUSPENDED
    assert [a.id for a in store.agents.list(status=AgentStatus.SUSPENDED)] == ["a1"]
    assert store.agents.list(status=AgentStatus.ACTIVE) == []


def test_duplicate_agent_is_a_store_error(store: Store) -> None:
    store.agents.add(_agent())
    with pytest.raises(StoreError, match="already exists"):
        store.agents.add(_agent())


def test_replace_of_missing_agent_fails(store: Store) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        store.agents.replace(_agent("ghost"))


def test_failed_transaction_rolls_back(store: Store) -> None:
    def add_then_fail() -> None:
        with store.transaction() as conn:
            store.agents.add(_agent("rolled"), conn)
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        add_then_fail()
    assert store.agents.get("rolled") is None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(StoreError):
        store.agents.add(replace(_agent(), created_at=T0.replace(tzinfo=None)))


def test_revocations_expire_and_purge(store: Store) -> None:
    store.revocations.revoke(Revocation("j1", T0, T0 + timedelta(minutes=5), "test"))
    store.revocations.revoke(Revocation("j1", T0, T0 + timedelta(minutes=5), "again"))
    assert store.revocations.is_revoked("j1")
    assert store.revocations.active(T0) == frozenset({"j1"})
    assert store.revocations.active(T0 + timedelta(minutes=6)) == frozenset()
    assert store.revocations.purge(T0 + timedelta(minutes=6)) == 1
    assert not store.revocations.is_revoked("j1")


def test_assertion_ids_are_accepted_once(store: Store) -> None:
    assert store.assertions.remember("k", T0 + timedelta(minutes=1), T0)
    assert not store.assertions.remember("k", T0 + timedelta(minutes=1), T0)
    # once expired, the row is purged and the id could be seen again (the assertion
    # itself is then rejected as expired by the caller)
    assert store.assertions.remember("k", T0 + timedelta(minutes=5), T0 + timedelta(minutes=2))


def test_events_are_appended_in_order(store: Store) -> None:
    sink = StoreEventSink(store)
    sink.emit(LifecycleEvent("agent.created", "a1", T0, actor="cli", detail={"x": 1}))
    sink.emit(LifecycleEvent("agent.suspended", "a1", T0, reason="why"))
    sink.emit(LifecycleEvent("agent.created", "a2", T0))
    events = store.events.list(subject="a1")
    assert [e.kind for e in events] == ["agent.created", "agent.suspended"]
    assert events[0].detail == {"x": 1}
    assert events[1].reason == "why"
    assert [e.subject for e in store.events.list(kind="agent.created")] == ["a1", "a2"]


def test_schema_option_is_validated() -> None:
    with pytest.raises(UsageError, match="invalid schema"):
        open_store("postgresql://nobody@127.0.0.1:1/x", schema="bad-name;drop")
    with pytest.raises(UsageError, match="PostgreSQL"):
        open_store("sqlite:///x.db", schema="fine")


def test_unreachable_database_is_a_store_error() -> None:
    with pytest.raises(StoreError, match="cannot open store"):
        open_store("postgresql://nobody@127.0.0.1:1/none")


def test_second_handle_sees_the_revision_move(backend: Backend) -> None:
    a, b = backend.open(), backend.open()
    before = b.revision()
    a.agents.add(_agent())
    assert b.revision() == before + 1
    assert b.local_generation == 0
