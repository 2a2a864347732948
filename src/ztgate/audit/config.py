"""Where the audit log lives by default and how to open it from a data directory.

Embedded default: ``./.ztgate/`` holding ``audit.db`` (SQLite) and ``audit-signing.key``
(Ed25519, PKCS#8 PEM, mode 0600, created on first use). ``store`` overrides the database
with a ``postgresql://`` (or another ``sqlite:///``) URL; the key stays in the data dir.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ztgate.audit.backends import open_backend, sqlite_url
from ztgate.audit.checkpoint import Signer, load_or_create_signer, load_public_key
from ztgate.audit.events import LifecycleKind
from ztgate.audit.log import AuditLog, Durability

DEFAULT_DATA_DIR = Path(".ztgate")
DB_FILE = "audit.db"
KEY_FILE = "audit-signing.key"
PUBLIC_KEY_FILE = "audit-signing.pub"
# Every checkpoint public key this data dir ever used, so old checkpoints still verify.
KEYRING_FILE = "audit-public-keys.pem"


def ensure_data_dir(data_dir: Path) -> Path:
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    return data_dir


def store_url(data_dir: Path | None = None, store: str | None = None) -> str:
    if store:
        return store
    return sqlite_url((data_dir or DEFAULT_DATA_DIR) / DB_FILE)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def signer_for(data_dir: Path | None = None, key_path: Path | None = None) -> Signer:
    """The checkpoint signer of a data dir; writes the public key (and keyring) beside it."""
    directory = ensure_data_dir(data_dir or DEFAULT_DATA_DIR)
    signer = load_or_create_signer(key_path or directory / KEY_FILE)
    pem = signer.public_pem()
    public = directory / PUBLIC_KEY_FILE
    if not public.exists() or public.read_bytes() != pem:
        _write_atomically(public, pem)
    ring = directory / KEYRING_FILE
    known = ring.read_bytes() if ring.exists() else b""
    if pem not in known:
        _write_atomically(ring, known + pem)
    return signer


def public_keys_for(data_dir: Path) -> list[Ed25519PublicKey]:
    """Every public key a data dir has signed checkpoints with (current one included)."""
    ring = data_dir / KEYRING_FILE
    if not ring.exists():
        return []
    marker = b"-----BEGIN PUBLIC KEY-----"
    blocks = [marker + part for part in ring.read_bytes().split(marker)[1:]]
    return [load_public_key(block) for block in blocks]


def rotate_signing_key(
    data_dir: Path | None = None, *, store: str | None = None
) -> tuple[str, str]:
    """Replace the checkpoint key; the old key signs a checkpoint vouching for the new one.

    The log records a ``key_rotated`` event naming both key ids and the new public key,
    and the final checkpoint under the old key covers that event. The old private key is
    then destroyed; its public key stays in the keyring so old checkpoints verify.
    """
    directory = ensure_data_dir(data_dir or DEFAULT_DATA_DIR)
    old = signer_for(directory)
    new = Signer.generate()
    log = open_log(directory, store=store, checkpoint_interval=None)
    try:
        log.record_lifecycle(
            LifecycleKind.KEY_ROTATED,
            actor="ztgate-audit",
            subject="audit-checkpoint-key",
            details={
                "old_key_id": old.key_id,
                "new_key_id": new.key_id,
                "new_public_key": new.public_pem().decode("ascii"),
            },
        )
    finally:
        log.close()
    key_path = directory / KEY_FILE
    tmp = key_path.with_name(key_path.name + ".new")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(new.private_pem())
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, key_path)
    signer_for(directory)  # publishes the new public key and adds it to the keyring
    return old.key_id, new.key_id


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
