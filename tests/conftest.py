"""Shared test helpers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from ztgate.store.sealing import KEK_ENV

# PostgreSQL stores have no data directory for a key file: give the whole run (and the
# processes it starts) a key-encryption key, as a deployment would. Tests of the
# directory default and of missing keys remove it with monkeypatch.
os.environ.setdefault(KEK_ENV, "dGVzdC1vbmx5LWtleS1lbmNyeXB0aW9uLWtleS0zMmI")

ROOT = Path(__file__).resolve().parent.parent
VECTORS = ROOT / "tests" / "vectors"
EXAMPLES = ROOT / "examples"


@pytest.fixture
def examples_dir() -> Path:
    return EXAMPLES
