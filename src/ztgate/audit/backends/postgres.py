"""PostgreSQL backend, for deployments that already run a database server.

Same tables as SQLite inside one schema (``ztgate_audit`` unless the URL says
``?schema=NAME``). Commits use ``synchronous_commit = on`` so an acknowledged append has
reached the server's WAL on disk; a trigger refuses UPDATE and DELETE on records.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import sql

from ztgate.audit.backends import QueryFilter
from ztgate.audit.chain import GENESIS, StoredRecord
from ztgate.audit.checkpoint import Checkpoint
from ztgate.errors import AuditError, StoreError, UsageError

_COLUMNS = "seq, prev_hash, hash, record, time_us, type, agent, tool, effect, kind"
_PAGE = 1000
_SCHEMA_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")

_DDL = """
CREATE SCHEMA IF NOT EXISTS {s};
CREATE TABLE IF NOT EXISTS {s}.audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS {s}.audit_records (
    seq BIGINT PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    record TEXT NOT NULL,
    time_us BIGINT NOT NULL,
    type TEXT NOT NULL,
    agent TEXT,
    tool TEXT,
    effect TEXT,
    kind TEXT
);
CREATE INDEX IF NOT EXISTS audit_records_time ON {s}.audit_records (time_us);
CREATE INDEX IF NOT EXISTS audit_records_agent ON {s}.audit_records (agent, time_us);
CREATE INDEX IF NOT EXISTS audit_records_tool ON {s}.audit_records (tool, time_us);
CREATE OR REPLACE FUNCTION {s}.audit_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit records are append-only'; END $$;
CREATE OR REPLACE TRIGGER audit_records_append_only BEFORE UPDATE OR DELETE
    ON {s}.audit_records FOR EACH ROW EXECUTE FUNCTION {s}.audit_refuse_change();
CREATE TABLE IF NOT EXISTS {s}.audit_checkpoints (
    id BIGSERIAL PRIMARY KEY,
    seq BIGINT NOT NULL,
    body TEXT NOT NULL,
    frontier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS {s}.audit_cursors (name TEXT PRIMARY KEY, seq BIGINT NOT NULL);
"""


def split_schema(url: str) -> tuple[str, str]:
    """Take ``schema=NAME`` out of the URL query; libpq would refuse it."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schema = "ztgate_audit"
    rest = []
    for key, value in query:
        if key == "schema":
            schema = value
        else:
            rest.append((key, value))
    if not _SCHEMA_NAME.match(schema):
        raise UsageError(f"invalid audit schema name `{schema}`")
    return urlunsplit(parts._replace(query=urlencode(rest))), schema


class PostgresBackend:
    """One psycopg connection serialised by a lock."""

    def __init__(self, url: str, schema: str | None = None) -> None:
        dsn, parsed_schema = split_schema(url)
        self.schema = schema or parsed_schema
        self.url = url
        self._lock = threading.RLock()
        self._writer = False
        try:
            self._db = psycopg.connect(dsn, autocommit=True)
            self._db.execute("SET synchronous_commit = on")
            with self._db.transaction():
                self._db.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", (self.schema,))
                self._db.execute(_DDL.replace("{s}", self.schema).encode())
            self._log_id = self._ensure_log_id()
        except psycopg.Error as error:
            raise StoreError(f"cannot open audit store `{self.schema}`: {error}") from error

    def _t(self, table: str) -> sql.Composed:
        return sql.SQL("{}.{}").format(sql.Identifier(self.schema), sql.Identifier(table))

    def _q(self, template: str, **tables: str) -> sql.Composed:
        return sql.SQL(template).format(**{k: self._t(v) for k, v in tables.items()})

    def _ensure_log_id(self) -> str:
        with self._lock:
            self._db.execute(
                self._q(
                    "INSERT INTO {m} (key, value) VALUES ('log_id', %s) ON CONFLICT DO NOTHING",
                    m="audit_meta",
                ),
                (str(uuid.uuid4()),),
            )
            row = self._db.execute(
                self._q("SELECT value FROM {m} WHERE key = 'log_id'", m="audit_meta")
            ).fetchone()
        assert row is not None
        return str(row[0])

    def log_id(self) -> str:
        return self._log_id

    def acquire_writer(self) -> None:
        """Take the single-writer lock: a session advisory lock, dropped with the session."""
        if self._writer:
            return
        with self._lock:
            row = self._db.execute(
                "SELECT pg_try_advisory_lock(hashtext(%s))", (f"{self.schema}.audit-writer",)
            ).fetchone()
        if not row or not row[0]:
            raise AuditError(
                f"audit log in schema `{self.schema}` is already open for writing by another "
                "process or log; one writer per log"
            )
        self._writer = True

    def release_writer(self) -> None:
        if self._writer:
            with self._lock:
                self._db.execute(
                    "SELECT pg_advisory_unlock(hashtext(%s))", (f"{self.schema}.audit-writer",)
                )
            self._writer = False

    def head(self) -> tuple[int, str]:
        with self._lock:
            row = self._db.execute(
                self._q("SELECT seq, hash FROM {r} ORDER BY seq DESC LIMIT 1", r="audit_records")
            ).fetchone()
        return (0, GENESIS) if row is None else (int(row[0]), str(row[1]))

    def append(self, records: Sequence[StoredRecord]) -> None:
        rows = [
            (
                r.seq,
                r.prev_hash,
                r.hash,
                r.record,
                r.time_us,
                r.type,
                r.agent,
                r.tool,
                r.effect,
                r.kind,
            )
            for r in records
        ]
        statement = self._q(
            f"INSERT INTO {{r}} ({_COLUMNS}) VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)",  # noqa: S608
            r="audit_records",
        )
        with self._lock:
            try:
                with self._db.transaction(), self._db.cursor() as cur:
                    cur.executemany(statement, rows)
            except psycopg.Error as error:
                raise AuditError(f"cannot write audit records: {error}") from error

    def _rows(self, statement: sql.Composed, params: Sequence[Any]) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(statement, params).fetchall()
            except psycopg.Error as error:
                raise StoreError(f"cannot read audit store: {error}") from error

    def records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[StoredRecord]:
        remaining = limit
        last = after_seq
        statement = self._q(
            f"SELECT {_COLUMNS} FROM {{r}} WHERE seq > %s ORDER BY seq LIMIT %s",  # noqa: S608
            r="audit_records",
        )
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            rows = self._rows(statement, (last, page))
            if not rows:
                return
            for row in rows:
                yield StoredRecord(*row)
            last = rows[-1][0]
            if remaining is not None:
                remaining -= len(rows)

    def hashes(self, after_seq: int = 0, upto_seq: int | None = None) -> Iterator[tuple[int, str]]:
        last = after_seq
        bound = upto_seq if upto_seq is not None else 2**62
        statement = self._q(
            "SELECT seq, hash FROM {r} WHERE seq > %s AND seq <= %s ORDER BY seq LIMIT %s",
            r="audit_records",
        )
        while True:
            rows = self._rows(statement, (last, bound, _PAGE * 10))
            if not rows:
                return
            yield from ((int(s), str(h)) for s, h in rows)
            last = rows[-1][0]

    def query(
        self, flt: QueryFilter, limit: int | None = None, newest_first: bool = False
    ) -> list[StoredRecord]:
        clauses: list[sql.Composable] = [sql.SQL("seq > %s")]
        params: list[Any] = [flt.after_seq]
        for column in ("agent", "tool", "effect", "type", "kind"):
            value = getattr(flt, column)
            if value is not None:
                clauses.append(sql.SQL("{} = %s").format(sql.Identifier(column)))
                params.append(value)
        if flt.since_us is not None:
            clauses.append(sql.SQL("time_us >= %s"))
            params.append(flt.since_us)
        if flt.until_us is not None:
            clauses.append(sql.SQL("time_us < %s"))
            params.append(flt.until_us)
        statement = sql.SQL("SELECT {cols} FROM {t} WHERE {where} ORDER BY seq {order}").format(
            cols=sql.SQL(_COLUMNS),
            t=self._t("audit_records"),
            where=sql.SQL(" AND ").join(clauses),
            order=sql.SQL("DESC" if newest_first else "ASC"),
        )
        if limit is not None:
            statement = statement + sql.SQL(" LIMIT %s")
            params.append(limit)
        return [StoredRecord(*row) for row in self._rows(statement, params)]

    def add_checkpoint(self, checkpoint: Checkpoint, frontier: str) -> None:
        with self._lock:
            try:
                self._db.execute(
                    self._q(
                        "INSERT INTO {c} (seq, body, frontier) VALUES (%s, %s, %s)",
                        c="audit_checkpoints",
                    ),
                    (checkpoint.seq, checkpoint.to_json(), frontier),
                )
            except psycopg.Error as error:
                raise AuditError(f"cannot write checkpoint: {error}") from error

    def checkpoints(self) -> list[Checkpoint]:
        rows = self._rows(self._q("SELECT body FROM {c} ORDER BY id", c="audit_checkpoints"), ())
        return [Checkpoint.from_json(row[0]) for row in rows]

    def latest_frontier(self) -> tuple[int, str] | None:
        rows = self._rows(
            self._q(
                "SELECT seq, frontier FROM {c} ORDER BY id DESC LIMIT 1", c="audit_checkpoints"
            ),
            (),
        )
        return None if not rows else (int(rows[0][0]), str(rows[0][1]))

    def get_cursor(self, name: str) -> int:
        rows = self._rows(
            self._q("SELECT seq FROM {k} WHERE name = %s", k="audit_cursors"), (name,)
        )
        return 0 if not rows else int(rows[0][0])

    def set_cursor(self, name: str, seq: int) -> None:
        with self._lock:
            self._db.execute(
                self._q(
                    "INSERT INTO {k} (name, seq) VALUES (%s, %s) "
                    "ON CONFLICT (name) DO UPDATE SET seq = excluded.seq",
                    k="audit_cursors",
                ),
                (name, seq),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
