"""Shared identity/store fixtures (see tests/integration/identity/identity_support.py)."""

from tests.integration.identity.identity_support import (
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
