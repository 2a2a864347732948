"""Signed checkpoints: the log's head, sealed with Ed25519 and kept somewhere else too.

A hash chain alone proves nothing to someone who can rewrite the whole chain; a signed
statement "after record ``seq`` the head was ``head`` and the Merkle root was ``root``"
does, as long as the signing key is not in the attacker's hands. Checkpoints are written
every N records and every T seconds and on close, stored next to the log, and copied to
exporters (a JSONL file, a webhook) so that truncating the log *and* its checkpoint table
is still detected against the copy.

The signature covers ``b"ztgate-audit-checkpoint-v1\\n"`` followed by the canonical JSON
of ``{"v", "log_id", "seq", "head", "root", "time", "key_id"}``. ``key_id`` is the first
16 hex digits of SHA-256 over the raw 32-byte public key.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import os
import stat
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from ztgate.audit.canonical import canonical_bytes, canonical_text, parse_canonical
from ztgate.errors import AuditError

SIGNING_CONTEXT = b"ztgate-audit-checkpoint-v1\n"
CHECKPOINT_VERSION = 1


def key_id_of(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """A signed statement about the head of the log after record ``seq``."""

    log_id: str
    seq: int
    head: str
    root: str
    time: str
    key_id: str
    signature: str  # base64

    def body(self) -> dict[str, Any]:
        return {
            "v": CHECKPOINT_VERSION,
            "log_id": self.log_id,
            "seq": self.seq,
            "head": self.head,
            "root": self.root,
            "time": self.time,
            "key_id": self.key_id,
        }

    def signed_bytes(self) -> bytes:
        return SIGNING_CONTEXT + canonical_bytes(self.body())

    def to_dict(self) -> dict[str, Any]:
        return {**self.body(), "signature": self.signature}

    def to_json(self) -> str:
        return canonical_text(self.to_dict())

    @classmethod
    def from_dict(cls, unverified: Mapping[str, Any]) -> Checkpoint:
        try:
            if unverified.get("v") != CHECKPOINT_VERSION:
                raise AuditError(f"unsupported checkpoint version `{unverified.get('v')}`")
            seq = unverified["seq"]
            if not isinstance(seq, int) or isinstance(seq, bool) or seq < 0:
                raise AuditError(f"checkpoint seq `{seq}` is not a non-negative integer")
            return cls(
                log_id=str(unverified["log_id"]),
                seq=seq,
                head=str(unverified["head"]),
                root=str(unverified["root"]),
                time=str(unverified["time"]),
                key_id=str(unverified["key_id"]),
                signature=str(unverified["signature"]),
            )
        except KeyError as error:
            raise AuditError(f"checkpoint lacks field `{error.args[0]}`") from error

    @classmethod
    def from_json(cls, unverified_text: str) -> Checkpoint:
        try:
            data = parse_canonical(unverified_text)
        except ValueError as error:
            raise AuditError(f"checkpoint is not valid JSON: {error}") from error
        if not isinstance(data, dict):
            raise AuditError("checkpoint is not a JSON object")
        return cls.from_dict(data)


class Signer:
    """Holds the Ed25519 private key and signs checkpoints."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.public_key = private_key.public_key()
        self.key_id = key_id_of(self.public_key)

    @classmethod
    def generate(cls) -> Signer:
        return cls(Ed25519PrivateKey.generate())

    def sign(self, *, log_id: str, seq: int, head: str, root: str, time: str) -> Checkpoint:
        unsigned = Checkpoint(log_id, seq, head, root, time, self.key_id, "")
        signature = self._key.sign(unsigned.signed_bytes())
        return Checkpoint(
            log_id, seq, head, root, time, self.key_id, base64.b64encode(signature).decode()
        )

    def public_pem(self) -> bytes:
        return public_key_pem(self.public_key)

    def private_pem(self) -> bytes:
        return self._key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )


def public_key_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError as error:
        raise AuditError(f"cannot read public key: {error}") from error
    if not isinstance(key, Ed25519PublicKey):
        raise AuditError("public key is not an Ed25519 key")
    return key


def load_or_create_signer(path: Path) -> Signer:
    """Load the signing key at ``path``, creating it (mode 0600) on first use.

    A key readable by group or others is refused: a leaked checkpoint key lets an
    attacker re-sign a rewritten log.
    """
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            raise AuditError(
                f"signing key `{path}` is accessible by group or others (mode {mode:o}); "
                "run `chmod 600` on it"
            ) from None
        try:
            key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError as error:
            raise AuditError(f"cannot read signing key `{path}`: {error}") from error
        if not isinstance(key, Ed25519PrivateKey):
            raise AuditError(f"signing key `{path}` is not an Ed25519 key") from None
        return Signer(key)
    signer = Signer.generate()
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(signer.private_pem())
            out.flush()
            os.fsync(out.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            path.unlink()
        raise
    return signer


def verify_checkpoint(checkpoint: Checkpoint, keys: Mapping[str, Ed25519PublicKey]) -> str | None:
    """``None`` when the signature is good, else why not (one message, no oracle detail)."""
    key = keys.get(checkpoint.key_id)
    if key is None:
        return f"signed with unknown key `{checkpoint.key_id}`"
    try:
        key.verify(base64.b64decode(checkpoint.signature, validate=True), checkpoint.signed_bytes())
    except (InvalidSignature, ValueError):
        return "bad signature"
    return None


def keyring(keys: Iterable[Ed25519PublicKey]) -> dict[str, Ed25519PublicKey]:
    return {key_id_of(k): k for k in keys}


def read_checkpoints_file(path: Path) -> list[Checkpoint]:
    """Checkpoints from a JSONL file written by :class:`FileCheckpointExporter`."""
    out = []
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as error:
        raise AuditError(f"cannot read checkpoints `{path}`: {error.strerror}") from error
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            out.append(Checkpoint.from_json(line))
        except AuditError as error:
            raise AuditError(f"`{path}` line {number}: {error}") from error
    return out
