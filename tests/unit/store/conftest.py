import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "integration" / "identity"))

from identity_support import (
    backend,
    clock,
    local_issuer,
    postgres_schema,
    registry,
    server,
    settings,
    sqlite_backend,
    store,
)

__all__ = [
    "backend",
    "clock",
    "local_issuer",
    "postgres_schema",
    "registry",
    "server",
    "settings",
    "sqlite_backend",
    "store",
]
