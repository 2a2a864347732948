"""The store handle: one engine, the migration runner, repositories and a revision counter.

``open_store`` is the only way in. It picks SQLite (a directory, default ``./.ztgate``,
file ``ztgate.db``) or PostgreSQL (a ``postgresql://`` URL), runs pending migrations and
returns a :class:`Store` whose attributes are the repositories, one per aggregate.

Cross-process invalidation: writes that can change a verification outcome (agent status,
keys, revocations, trusts) increment the ``identity`` row of ``revisions`` in the same
transaction. A reader in any process compares that one integer with the value it last saw
(:meth:`Store.revision`) to know its caches are stale.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, select, text, update
from sqlalchemy.exc import SQLAlchemyError

from ztgate.errors import StoreError, UsageError
from ztgate.store import _schema as s
from ztgate.store._migrations import migrate
from ztgate.store.sealing import KeySealer, resolve_sealer

DEFAULT_DATA_DIR = ".ztgate"
DB_FILENAME = "ztgate.db"
IDENTITY_REVISION = "identity"
_BUMPED = "ztgate_revision_bumped"
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


class Store:
    """A migrated database plus its repositories. Thread-safe; share one per process."""

    def __init__(
        self, engine: Engine, *, description: str, sealer: KeySealer | None = None
    ) -> None:
        from ztgate.store.agents import AgentRepository, BlueprintRepository
        from ztgate.store.approvals import ApprovalRepository
        from ztgate.store.control import AdminKeyRepository, KillSwitchRepository
        from ztgate.store.events import EventRepository
        from ztgate.store.federation import FederationRepository
        from ztgate.store.grants import GrantRepository, SessionRepository
        from ztgate.store.keys import ClientKeyRepository, SigningKeyRepository
        from ztgate.store.policies import PolicyRepository
        from ztgate.store.quotas import QuotaRepository
        from ztgate.store.revocations import AssertionReplayRepository, RevocationRepository

        self.engine = engine
        self.description = description
        self.sealer = sealer if sealer is not None else KeySealer(None, origin=description)
        self._generation = 0
        self._generation_lock = threading.Lock()
        self.agents = AgentRepository(self)
        self.blueprints = BlueprintRepository(self)
        self.client_keys = ClientKeyRepository(self)
        self.signing_keys = SigningKeyRepository(self)
        self.federation = FederationRepository(self)
        self.revocations = RevocationRepository(self)
        self.assertions = AssertionReplayRepository(self)
        self.events = EventRepository(self)
        self.grants = GrantRepository(self)
        self.sessions = SessionRepository(self)
        self.quotas = QuotaRepository(self)
        self.approvals = ApprovalRepository(self)
        self.policies = PolicyRepository(self)
        self.kill_switches = KillSwitchRepository(self)
        self.admin_keys = AdminKeyRepository(self)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def transaction(self, conn: Connection | None = None) -> Iterator[Connection]:
        """A transaction, or the caller's one when ``conn`` is given (so steps compose)."""
        if conn is not None:
            yield conn
            return
        try:
            with self.engine.begin() as new_conn:
                yield new_conn
                bumped = bool(new_conn.info.pop(_BUMPED, False))
        except SQLAlchemyError as error:
            raise StoreError(f"store operation failed: {type(error).__name__}") from error
        if bumped:
            # Counted after commit, so a same-process reader that sees the new generation
            # is guaranteed to read the new revision.
            with self._generation_lock:
                self._generation += 1

    def bump_revision(self, conn: Connection, name: str = IDENTITY_REVISION) -> None:
        """Mark every reader's cache stale; call inside the transaction that changed data."""
        conn.execute(
            update(s.revisions)
            .where(s.revisions.c.name == name)
            .values(value=s.revisions.c.value + 1)
        )
        conn.info[_BUMPED] = True

    @property
    def local_generation(self) -> int:
        """Changes made through this handle; lets same-process readers skip polling."""
        return self._generation

    def revisions(self, names: tuple[str, ...]) -> tuple[int, ...]:
        """Several revision counters in one read (a cache watching more than one area)."""
        with self.transaction() as conn:
            rows = dict(
                conn.execute(
                    select(s.revisions.c.name, s.revisions.c.value).where(
                        s.revisions.c.name.in_(names)
                    )
                ).all()
            )
        missing = [name for name in names if name not in rows]
        if missing:
            raise StoreError(f"revision counter `{missing[0]}` is missing")
        return tuple(int(rows[name]) for name in names)

    def revision(self, name: str = IDENTITY_REVISION) -> int:
        """The shared revision counter: one indexed single-row read."""
        with self.transaction() as conn:
            value = conn.execute(
                select(s.revisions.c.value).where(s.revisions.c.name == name)
            ).scalar_one_or_none()
        if value is None:
            raise StoreError(f"revision counter `{name}` is missing")
        return int(value)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _engine_for(target: str, schema: str | None) -> tuple[Engine, str]:
    if "://" not in target:
        directory = Path(target)
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        except OSError as error:
            raise StoreError(f"cannot create data directory `{directory}`: {error}") from error
        path = directory / DB_FILENAME
        engine = create_engine(f"sqlite:///{path}")
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine, f"sqlite:{path}"
    if target.startswith(("postgresql://", "postgres://")):
        url = "postgresql+psycopg://" + target.split("://", 1)[1]
    else:
        url = target
    connect_args: dict[str, Any] = {}
    if schema is not None:
        if not _SCHEMA_NAME.match(schema):
            raise UsageError(f"invalid schema name `{schema}`")
        if not url.startswith("postgresql"):
            raise UsageError("a schema can only be given for a PostgreSQL store")
        connect_args["options"] = f"-csearch_path={schema}"
    engine = create_engine(url, connect_args=connect_args, pool_pre_ping=True)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    shown = engine.url.render_as_string(hide_password=True)
    return engine, shown


def open_store(
    url_or_dir: str | os.PathLike[str] | None = None,
    *,
    schema: str | None = None,
    run_migrations: bool = True,
    key_encryption_key: bytes | None = None,
) -> Store:
    """Open (and by default migrate) the store at a directory or database URL.

    ``None`` means the ``ZTGATE_STORE`` environment variable if set, else ``./.ztgate``.
    ``schema`` puts every table in that PostgreSQL schema (created if missing), which is
    how tests and co-tenant deployments isolate themselves. ``key_encryption_key`` seals
    the token-signing keys at rest (see :mod:`ztgate.store.sealing` for where it is
    looked up when not given).
    """
    target = os.fspath(url_or_dir) if url_or_dir is not None else None
    if target is None:
        target = os.environ.get("ZTGATE_STORE") or DEFAULT_DATA_DIR
    engine, description = _engine_for(target, schema)
    try:
        sealer = resolve_sealer(key_encryption_key, None if "://" in target else Path(target))
    except Exception:
        engine.dispose()
        raise
    try:
        if schema is not None:
            with engine.begin() as conn:
                conn.execute(text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
        if run_migrations:
            with engine.begin() as conn:
                migrate(conn)
    except SQLAlchemyError as error:
        engine.dispose()
        raise StoreError(f"cannot open store `{description}`: {type(error).__name__}") from error
    return Store(engine, description=description, sealer=sealer)
