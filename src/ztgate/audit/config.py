"""Where the audit log lives by default and how to open it from a data directory.

Embedded default: ``./.ztgate/`` holding ``audit.db`` (SQLite) and ``audit-signing.key``
(Ed25519, PKCS#8 PEM, mode 0600, created on first use). ``store`` overrides the database
with a ``postgresql://`` (or another ``sqlite:///``) URL; the key stays in the data dir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ztgate.audit.backends import open_backend, sqlite_url
from ztgate.audit.checkpoint import Signer, load_or_create_signer
from ztgate.audit.log import AuditLog, Durability

DEFAULT_DATA_DIR = Path(".ztgate")
DB_FILE = "audit.db"
KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"


def ensure_data_dir(data_dir: Path) -> Path:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir


def store_url(data_dir: Path | None = None, store: str | None = None) -> str:
    if store:
        return store
    return sqlite_url((data_dir or DEFAULT_DATA_DIR) / DB_FILE)


def signer_for(data_dir: Path | None = None, key_path: Path | None = None) -> Signer:
    """The checkpoint signer of a data dir; writes the public key next to it."""
    directory = ensure_data_dir(data_dir or DEFAULT_DATA_DIR)
    signer = load_or_create_signer(key_path or directory / KEY_FILE)
    public = directory / PUBLIC_KEY_FILE
    pem = signer.public_pem()
    if not public.exists() or public.read_bytes() != pem:
        tmp = public.with_suffix(".tmp")
        tmp.write_bytes(pem)
        os.replace(tmp, public)
    return signer


def open_log(
    data_dir: Path | None = None,
    *,
    store: str | None = None,
    durability: Durability = "strict",
    key_path: Path | None = None,
    **options: Any,
) -> AuditLog:
    """Open (creating if needed) the audit log of a data dir or store URL."""
    directory = ensure_data_dir(data_dir or DEFAULT_DATA_DIR)
    signer = signer_for(directory, key_path)
    backend = open_backend(store_url(directory, store), strict=durability == "strict")
    try:
        return AuditLog(backend, signer, durability=durability, **options)
    except BaseException:
        backend.close()
        raise
