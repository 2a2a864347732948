"""SQLite backend: the embedded default.

WAL journal with ``synchronous=FULL`` so a committed transaction has been fsynced before
``append`` returns; triggers refuse UPDATE and DELETE on records so that only deliberate
tampering (dropping the triggers) can change history, and that is what the hash chain and
signed checkpoints exist to catch.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import threading
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

from ztgate.audit.backends import QueryFilter
from ztgate.audit.chain import GENESIS, StoredRecord
from ztgate.audit.checkpoint import Checkpoint
from ztgate.errors import AuditError, StoreError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS audit_records (
    seq INTEGER PRIMARY KEY,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    record TEXT NOT NULL,
    time_us INTEGER NOT NULL,
    type TEXT NOT NULL,
    agent TEXT,
    tool TEXT,
    effect TEXT,
    kind TEXT
);
CREATE INDEX IF NOT EXISTS audit_records_time ON audit_records (time_us);
CREATE INDEX IF NOT EXISTS audit_records_agent ON audit_records (agent, time_us);
CREATE INDEX IF NOT EXISTS audit_records_tool ON audit_records (tool, time_us);
CREATE TRIGGER IF NOT EXISTS audit_records_no_update BEFORE UPDATE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_records_no_delete BEFORE DELETE ON audit_records
BEGIN SELECT RAISE(ABORT, 'audit records are append-only'); END;
CREATE TABLE IF NOT EXISTS audit_checkpoints (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    seq INTEGER NOT NULL,
    body TEXT NOT NULL,
    frontier TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS audit_cursors (name TEXT PRIMARY KEY, seq INTEGER NOT NULL);
"""

_COLUMNS = "seq, prev_hash, hash, record, time_us, type, agent, tool, effect, kind"
_PAGE = 1000


class SQLiteBackend:
    """One connection, serialised by a lock; open another instance for a reader thread."""

    def __init__(self, path: Path, *, strict: bool = True) -> None:
        self.path = Path(path)
        self.url = f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._writer_fd: int | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                self.path, check_same_thread=False, isolation_level=None, timeout=30.0
            )
            self._db.execute("PRAGMA journal_mode=WAL")
            # FULL in both modes: batched mode amortises the fsync over a group instead
            # of skipping it, so "flushed" still means "on disk".
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.executescript(_SCHEMA)
            self._log_id = self._ensure_log_id()
        except sqlite3.Error as error:
            raise StoreError(f"cannot open audit store `{self.path}`: {error}") from error

    def _ensure_log_id(self) -> str:
        with self._lock:
            row = self._db.execute("SELECT value FROM audit_meta WHERE key='log_id'").fetchone()
            if row:
                return str(row[0])
            log_id = str(uuid.uuid4())
            self._db.execute(
                "INSERT OR IGNORE INTO audit_meta (key, value) VALUES ('log_id', ?)", (log_id,)
            )
            row = self._db.execute("SELECT value FROM audit_meta WHERE key='log_id'").fetchone()
            return str(row[0])

    def log_id(self) -> str:
        return self._log_id

    def acquire_writer(self) -> None:
        """Take the single-writer lock (an ``flock`` beside the database file).

        Sequence numbers and the Merkle frontier live in the writer's memory, so a second
        writer would fork the chain; it gets a clear error instead. The kernel drops the
        lock when the process dies, even by SIGKILL.
        """
        if self._writer_fd is not None:
            return
        lock_path = self.path.with_name(self.path.name + ".writer.lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise AuditError(
                f"audit log `{self.path}` is already open for writing by another process "
                "or log; one writer per log"
            ) from None
        self._writer_fd = fd

    def release_writer(self) -> None:
        if self._writer_fd is not None:
            fcntl.flock(self._writer_fd, fcntl.LOCK_UN)
            os.close(self._writer_fd)
            self._writer_fd = None

    def head(self) -> tuple[int, str]:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, hash FROM audit_records ORDER BY seq DESC LIMIT 1"
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
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._db.executemany(
                    f"INSERT INTO audit_records ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?)",  # noqa: S608
                    rows,
                )
                self._db.execute("COMMIT")
            except sqlite3.Error as error:
                with contextlib.suppress(sqlite3.Error):
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                raise AuditError(f"cannot write audit records: {error}") from error

    def records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[StoredRecord]:
        remaining = limit
        last = after_seq
        while remaining is None or remaining > 0:
            page = _PAGE if remaining is None else min(_PAGE, remaining)
            with self._lock:
                rows = self._db.execute(
                    f"SELECT {_COLUMNS} FROM audit_records WHERE seq > ? ORDER BY seq LIMIT ?",  # noqa: S608
                    (last, page),
                ).fetchall()
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
        while True:
            with self._lock:
                rows = self._db.execute(
                    "SELECT seq, hash FROM audit_records WHERE seq > ? AND seq <= ? "
                    "ORDER BY seq LIMIT ?",
                    (last, bound, _PAGE * 10),
                ).fetchall()
            if not rows:
                return
            yield from ((int(s), str(h)) for s, h in rows)
            last = rows[-1][0]

    def query(
        self, flt: QueryFilter, limit: int | None = None, newest_first: bool = False
    ) -> list[StoredRecord]:
        clauses, params = ["seq > ?"], [flt.after_seq]
        for column in ("agent", "tool", "effect", "type", "kind"):
            value = getattr(flt, column)
            if value is not None:
                clauses.append(f"{column} = ?")
                params.append(value)
        if flt.since_us is not None:
            clauses.append("time_us >= ?")
            params.append(flt.since_us)
        if flt.until_us is not None:
            clauses.append("time_us < ?")
            params.append(flt.until_us)
        order = "DESC" if newest_first else "ASC"
        where = " AND ".join(clauses)
        # Only fixed column names are interpolated; every value is a bound parameter.
        where = " AND ".join(clauses)
        # Only fixed column names are interpolated; every value is a bound parameter.
        sql = f"SELECT {_COLUMNS} FROM audit_records WHERE {where} ORDER BY seq {order}"  # noqa: S608
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        with self._lock:
            rows = self._db.execute(sql, params).fetchall()
        return [StoredRecord(*row) for row in rows]

    def add_checkpoint(self, checkpoint: Checkpoint, frontier: str) -> None:
        with self._lock:
            try:
                self._db.execute(
                    "INSERT INTO audit_checkpoints (seq, body, frontier) VALUES (?, ?, ?)",
                    (checkpoint.seq, checkpoint.to_json(), frontier),
                )
            except sqlite3.Error as error:
                raise AuditError(f"cannot write checkpoint: {error}") from error

    def checkpoints(self) -> list[Checkpoint]:
        with self._lock:
            rows = self._db.execute("SELECT body FROM audit_checkpoints ORDER BY id").fetchall()
        return [Checkpoint.from_json(row[0]) for row in rows]

    def latest_frontier(self) -> tuple[int, str] | None:
        with self._lock:
            row = self._db.execute(
                "SELECT seq, frontier FROM audit_checkpoints ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return None if row is None else (int(row[0]), str(row[1]))

    def get_cursor(self, name: str) -> int:
        with self._lock:
            row = self._db.execute(
                "SELECT seq FROM audit_cursors WHERE name = ?", (name,)
            ).fetchone()
        return 0 if row is None else int(row[0])

    def set_cursor(self, name: str, seq: int) -> None:
        with self._lock:
            self._db.execute(
                "INSERT INTO audit_cursors (name, seq) VALUES (?, ?) "
                "ON CONFLICT(name) DO UPDATE SET seq = excluded.seq",
                (name, seq),
            )

    def close(self) -> None:
        with self._lock:
            self.release_writer()
            self._db.close()
