"""Fixtures for audit tests: real logs on real SQLite files in a temp dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from tests.unit.audit.helpers import decision, lifecycle, ticking_clock
from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.checkpoint import Signer
from ztgate.audit.log import AuditLog


@pytest.fixture
def signer() -> Signer:
    return Signer.generate()


@pytest.fixture
def make_log(tmp_path: Path, signer: Signer) -> Callable[..., AuditLog]:
    def make(name: str = "audit.db", **options: object) -> AuditLog:
        options.setdefault("clock", ticking_clock())
        options.setdefault("checkpoint_interval", None)
        return AuditLog(SQLiteBackend(tmp_path / name), signer, **options)  # type: ignore[arg-type]

    return make


@pytest.fixture
def filled_db(make_log: Callable[..., AuditLog], tmp_path: Path) -> Path:
    """A closed log of 20 records with checkpoints every 5 (at 5, 10, 15, 20)."""
    log = make_log(checkpoint_every=5)
    for i in range(20):
        log.append(decision(i) if i % 4 else lifecycle(i))
    log.close()
    return tmp_path / "audit.db"
