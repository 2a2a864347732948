"""Where audit records live: an append-only table plus checkpoints and shipper cursors.

Backends only store and fetch; hashing, signing and verification live above them, so a
backend (or whoever controls its database) is never trusted. ``open_backend`` picks one
from a URL: ``sqlite:///path/audit.db`` (the default) or ``postgresql://...``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from ztgate.audit.chain import StoredRecord
from ztgate.audit.checkpoint import Checkpoint
from ztgate.errors import UsageError


@dataclass(frozen=True, slots=True)
class QueryFilter:
    """Filters for ``query``/``export``; ``since``/``until`` are epoch microseconds."""

    agent: str | None = None
    tool: str | None = None
    effect: str | None = None
    type: str | None = None
    kind: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    after_seq: int = 0


class Backend(Protocol):
    """Storage contract shared by the SQLite and PostgreSQL backends."""

    url: str

    def log_id(self) -> str: ...
    def acquire_writer(self) -> None: ...
    def release_writer(self) -> None: ...
    def head(self) -> tuple[int, str]: ...
    def append(self, records: Sequence[StoredRecord]) -> None: ...
    def records(self, after_seq: int = 0, limit: int | None = None) -> Iterator[StoredRecord]: ...
    def hashes(
        self, after_seq: int = 0, upto_seq: int | None = None
    ) -> Iterator[tuple[int, str]]: ...
    def query(
        self, flt: QueryFilter, limit: int | None = None, newest_first: bool = False
    ) -> list[StoredRecord]: ...
    def add_checkpoint(self, checkpoint: Checkpoint, frontier: str) -> None: ...
    def checkpoints(self) -> list[Checkpoint]: ...
    def latest_frontier(self) -> tuple[int, str] | None: ...
    def get_cursor(self, name: str) -> int: ...
    def set_cursor(self, name: str, seq: int) -> None: ...
    def close(self) -> None: ...


def open_backend(url: str, *, strict: bool = True) -> Backend:
    """Open the backend named by ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    if url.startswith("sqlite:///"):
        from ztgate.audit.backends.sqlite import SQLiteBackend

        return SQLiteBackend(Path(url[len("sqlite:///") :]), strict=strict)
    if url.startswith(("postgresql://", "postgres://")):
        from ztgate.audit.backends.postgres import PostgresBackend

        return PostgresBackend(url)
    raise UsageError(f"unsupported audit store `{url}`: use sqlite:///PATH or postgresql://...")


def sqlite_url(path: Path) -> str:
    return f"sqlite:///{path}"


__all__ = ["Backend", "QueryFilter", "open_backend", "sqlite_url"]
