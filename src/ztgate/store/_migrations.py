"""A small, ordered, versioned migration runner.

Each migration has a version (strictly increasing), a name and a function that receives a
connection inside the migration transaction. ``schema_versions`` records what ran, so
opening a store twice, or from two processes at once, applies each step exactly once
(PostgreSQL serialises runners with an advisory lock; SQLite with its write lock).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Table, insert, select, text

from ztgate.store import _schema as s


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    apply: Callable[[Connection], None]


def create_tables(*tables: Table) -> Callable[[Connection], None]:
    """A migration step that creates the given tables (and their indexes)."""

    def step(conn: Connection) -> None:
        for table in tables:
            table.create(conn, checkfirst=True)

    return step


def _v1_identity(conn: Connection) -> None:
    create_tables(
        s.revisions,
        s.blueprints,
        s.agents,
        s.client_keys,
        s.signing_keys,
        s.federation_trusts,
        s.subject_mappings,
        s.revocations,
        s.used_assertions,
        s.lifecycle_events,
    )(conn)
    conn.execute(insert(s.revisions).values(name="identity", value=0))


def _v2_service(conn: Connection) -> None:
    create_tables(
        s.grants,
        s.session_labels,
        s.quota_counters,
        s.approvals,
        s.policy_versions,
        s.kill_switches,
        s.admin_keys,
    )(conn)
    conn.execute(insert(s.revisions).values(name="service", value=0))
    conn.execute(insert(s.revisions).values(name="sessions", value=0))


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1, "identity registry, keys, federation, revocations, lifecycle events", _v1_identity
    ),
    Migration(
        2,
        "service state: grants, sessions, quota counters, approvals, policies, kill switches",
        _v2_service,
    ),
)

_ADVISORY_LOCK_ID = 0x7A74_6761  # "ztga"


def migrate(conn: Connection, migrations: tuple[Migration, ...] = MIGRATIONS) -> list[int]:
    """Apply every migration not yet recorded; returns the versions applied now."""
    versions = [m.version for m in migrations]
    if versions != sorted(set(versions)):
        raise ValueError("migration versions must be unique and increasing")
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_ID})
    s.schema_versions.create(conn, checkfirst=True)
    done = set(conn.execute(select(s.schema_versions.c.version)).scalars())
    applied: list[int] = []
    for migration in migrations:
        if migration.version in done:
            continue
        migration.apply(conn)
        conn.execute(
            insert(s.schema_versions).values(
                version=migration.version, name=migration.name, applied_at=datetime.now(UTC)
            )
        )
        applied.append(migration.version)
    return applied
