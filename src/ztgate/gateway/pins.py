"""Pinning of tool definitions against "rug pulls".

Each tool's name, description and input schema are hashed (SHA-256 over canonical JSON)
and kept per upstream server in a small SQLite file. A tool is usable only while the
definition the server announces hashes to the approved pin. A changed definition is
recorded as *pending* and the tool is blocked until an operator approves the new hash
(``ztgate gateway pins approve``). A tool seen for the first time is approved when the
store trusts on first use, unless its description was flagged as poisoned.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from ztgate.errors import StoreError, UsageError

_SCHEMA = """
CREATE TABLE IF NOT EXISTS tool_pins (
    server TEXT NOT NULL,
    tool TEXT NOT NULL,
    approved_hash TEXT,
    pending_hash TEXT,
    pending_definition TEXT,
    pending_reason TEXT,
    approved_by TEXT,
    first_seen TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    PRIMARY KEY (server, tool)
)
"""


class PinStatus(StrEnum):
    APPROVED = "approved"  # the announced definition is the approved one
    CHANGED = "changed"  # an approved tool now announces another definition
    UNAPPROVED = "unapproved"  # never approved (first use not trusted, or flagged)


def definition_hash(tool: Mapping[str, Any]) -> str:
    """``sha256:<hex>`` over the canonical JSON of name, description and input schema."""
    pinned = {
        "name": tool.get("name"),
        "description": tool.get("description"),
        "inputSchema": tool.get("inputSchema"),
    }
    canonical = json.dumps(pinned, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True, slots=True)
class Pin:
    server: str
    tool: str
    approved_hash: str | None
    pending_hash: str | None
    pending_reason: str | None
    approved_by: str | None
    first_seen: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "tool": self.tool,
            "approved_hash": self.approved_hash,
            "pending_hash": self.pending_hash,
            "pending_reason": self.pending_reason,
            "approved_by": self.approved_by,
            "first_seen": self.first_seen,
            "updated_at": self.updated_at,
            "status": "pending" if self.pending_hash else "approved",
        }


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class PinStore:
    """Tool pins in one SQLite file, shared by gateway processes and the CLI."""

    def __init__(self, path: str | Path, *, trust_on_first_use: bool = True) -> None:
        self.path = Path(path)
        self.trust_on_first_use = trust_on_first_use
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            self._db.execute(_SCHEMA)
        except sqlite3.Error as error:
            raise StoreError(f"cannot open pin store `{self.path}`: {error}") from error
        self._approved: dict[tuple[str, str], str | None] = {}

    def close(self) -> None:
        self._db.close()

    def _row(self, server: str, tool: str) -> Pin | None:
        row = self._db.execute(
            "SELECT server, tool, approved_hash, pending_hash, pending_reason, approved_by,"
            " first_seen, updated_at FROM tool_pins WHERE server = ? AND tool = ?",
            (server, tool),
        ).fetchone()
        return Pin(*row) if row is not None else None

    def check(
        self, server: str, tool: Mapping[str, Any], *, flagged: str | None = None
    ) -> PinStatus:
        """Compare an announced definition with its pin, recording what is new or changed.

        ``flagged`` names why the definition is suspect (poisoned description); a flagged
        definition is never approved on first use.
        """
        name = str(tool.get("name"))
        digest = definition_hash(tool)
        key = (server, name)
        if self._approved.get(key) == digest and flagged is None:
            return PinStatus.APPROVED
        try:
            with self._lock:
                return self._check_locked(server, name, digest, tool, flagged)
        except sqlite3.Error as error:
            raise StoreError(f"pin store `{self.path}` failed: {error}") from error

    def _check_locked(
        self, server: str, name: str, digest: str, tool: Mapping[str, Any], flagged: str | None
    ) -> PinStatus:
        now = _now()
        pin = self._row(server, name)
        definition = json.dumps(dict(tool), sort_keys=True, default=str)
        if pin is None:
            approve = self.trust_on_first_use and flagged is None
            self._db.execute(
                "INSERT INTO tool_pins (server, tool, approved_hash, pending_hash,"
                " pending_definition, pending_reason, approved_by, first_seen, updated_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    server,
                    name,
                    digest if approve else None,
                    None if approve else digest,
                    None if approve else definition,
                    None if approve else (flagged or "first_use"),
                    "trust-on-first-use" if approve else None,
                    now,
                    now,
                ),
            )
            if approve:
                self._approved[(server, name)] = digest
                return PinStatus.APPROVED
            return PinStatus.UNAPPROVED
        if pin.approved_hash == digest:
            self._approved[(server, name)] = digest
            return PinStatus.APPROVED
        if pin.pending_hash != digest:
            reason = flagged or ("changed" if pin.approved_hash else "first_use")
            self._db.execute(
                "UPDATE tool_pins SET pending_hash = ?, pending_definition = ?,"
                " pending_reason = ?, updated_at = ? WHERE server = ? AND tool = ?",
                (digest, definition, reason, now, server, name),
            )
        return PinStatus.CHANGED if pin.approved_hash else PinStatus.UNAPPROVED

    def list(self) -> list[Pin]:
        rows = self._db.execute(
            "SELECT server, tool, approved_hash, pending_hash, pending_reason, approved_by,"
            " first_seen, updated_at FROM tool_pins ORDER BY server, tool"
        ).fetchall()
        return [Pin(*row) for row in rows]

    def pending_definition(self, server: str, tool: str) -> dict[str, Any] | None:
        row = self._db.execute(
            "SELECT pending_definition FROM tool_pins WHERE server = ? AND tool = ?",
            (server, tool),
        ).fetchone()
        if row is None or row[0] is None:
            return None
        loaded: dict[str, Any] = json.loads(row[0])
        return loaded

    def approve(self, server: str, tool: str, *, by: str, expected_hash: str | None = None) -> Pin:
        """Make the pending definition the approved one (only if it is ``expected_hash``,
        when given)."""
        with self._lock:
            pin = self._row(server, tool)
            if pin is None or pin.pending_hash is None:
                raise UsageError(f"no pending definition for tool `{tool}` of server `{server}`")
            if expected_hash is not None and pin.pending_hash != expected_hash:
                raise UsageError(
                    f"the pending definition of `{tool}` is `{pin.pending_hash}`, "
                    f"not `{expected_hash}`"
                )
            self._db.execute(
                "UPDATE tool_pins SET approved_hash = pending_hash, pending_hash = NULL,"
                " pending_definition = NULL, pending_reason = NULL, approved_by = ?,"
                " updated_at = ? WHERE server = ? AND tool = ?",
                (by, _now(), server, tool),
            )
            self._approved.pop((server, tool), None)
            approved = self._row(server, tool)
        assert approved is not None
        return approved
