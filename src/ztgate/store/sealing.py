"""Encryption at rest for the one secret the store keeps: ztgate's token-signing keys.

Anyone who can read the database must not be able to mint access tokens. Private keys
are therefore sealed with AES-256-GCM under a key-encryption key (KEK) that lives
outside the database, and the key id is bound in as associated data so a sealed key
cannot be moved to another row. Where the KEK comes from, first match wins:

1. the ``key_encryption_key`` argument of :func:`ztgate.store.open_store`;
2. ``ZTGATE_KEY_ENCRYPTION_KEY``: 32 bytes, base64url (padding optional);
3. ``ZTGATE_KEY_ENCRYPTION_KEY_FILE``: a file holding the same text;
4. for an embedded (directory) store: ``signing-keys.kek`` in the data directory,
   created with mode 0600 on first use, so a copied database file alone is useless.

A database store (PostgreSQL) with none of 1-3 keeps keys unsealed and warns once;
that is the explicit, visible opt-out. Reading a sealed key without the right KEK
raises :class:`StoreError` - signing stops, it never falls back to anything weaker.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
import secrets
import warnings
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ztgate.errors import StoreError, UsageError

KEK_ENV = "ZTGATE_KEY_ENCRYPTION_KEY"
KEK_FILE_ENV = "ZTGATE_KEY_ENCRYPTION_KEY_FILE"
KEK_FILENAME = "signing-keys.kek"
SEALED_PREFIX = b"ztgate-sealed-v1:"
_NONCE_BYTES = 12
_KEK_BYTES = 32
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")


def _aad(kid: str) -> bytes:
    return b"ztgate signing key\x00" + kid.encode("utf-8")


def parse_kek(text: str, *, where: str) -> bytes:
    """Decode a base64url KEK; anything but exactly 32 bytes is a configuration error."""
    cleaned = text.strip().rstrip("=")
    if not _BASE64URL.fullmatch(cleaned):
        raise UsageError(f"{where} is not base64url")
    try:
        raw = base64.urlsafe_b64decode(cleaned + "=" * (-len(cleaned) % 4))
    except (binascii.Error, ValueError) as error:
        raise UsageError(f"{where} is not base64url") from error
    if len(raw) != _KEK_BYTES:
        raise UsageError(f"{where} must decode to {_KEK_BYTES} bytes, got {len(raw)}")
    return raw


def new_kek_text() -> str:
    """A fresh random KEK in the text form the environment variable and file take."""
    return base64.urlsafe_b64encode(secrets.token_bytes(_KEK_BYTES)).decode("ascii").rstrip("=")


class KeySealer:
    """Seals and opens signing keys; ``None`` KEK means unsealed storage (warned)."""

    def __init__(self, kek: bytes | None, *, origin: str) -> None:
        if kek is not None and len(kek) != _KEK_BYTES:
            raise UsageError(f"a key-encryption key must be {_KEK_BYTES} bytes")
        self._aead = AESGCM(kek) if kek is not None else None
        self.origin = origin
        self._warned = False

    @property
    def sealing(self) -> bool:
        return self._aead is not None

    def seal(self, kid: str, private_pem: bytes) -> bytes:
        if self._aead is None:
            if not self._warned:
                self._warned = True
                warnings.warn(
                    f"token-signing keys are stored unencrypted ({self.origin}); set "
                    f"{KEK_ENV} or {KEK_FILE_ENV} to seal them",
                    RuntimeWarning,
                    stacklevel=3,
                )
            return private_pem
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return SEALED_PREFIX + nonce + self._aead.encrypt(nonce, private_pem, _aad(kid))

    def open(self, kid: str, stored: bytes) -> bytes:
        """The private key PEM; a sealed key that cannot be opened is a hard error."""
        if not stored.startswith(SEALED_PREFIX):
            return stored  # written before sealing was configured; rotate to seal it
        if self._aead is None:
            raise StoreError(
                f"signing key `{kid}` is sealed but no key-encryption key is configured "
                f"(set {KEK_ENV} or {KEK_FILE_ENV})"
            )
        body = stored[len(SEALED_PREFIX) :]
        try:
            return self._aead.decrypt(body[:_NONCE_BYTES], body[_NONCE_BYTES:], _aad(kid))
        except (InvalidTag, ValueError) as error:
            raise StoreError(
                f"signing key `{kid}` cannot be opened: wrong key-encryption key "
                "or the stored key was altered"
            ) from error


def _file_kek(path: Path, *, create: bool) -> bytes | None:
    try:
        return parse_kek(path.read_text(encoding="ascii"), where=f"`{path}`")
    except FileNotFoundError:
        if not create:
            return None
    except (OSError, UnicodeDecodeError) as error:
        raise StoreError(f"cannot read key-encryption key `{path}`: {error}") from error
    text = new_kek_text()
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first: use theirs
        return _file_kek(path, create=False)
    except OSError as error:
        raise StoreError(f"cannot create key-encryption key `{path}`: {error}") from error
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(text + "\n")
    return parse_kek(text, where=f"`{path}`")


def resolve_sealer(explicit: bytes | None, data_dir: Path | None) -> KeySealer:
    """Pick the KEK by the documented precedence (see the module docstring)."""
    if explicit is not None:
        return KeySealer(explicit, origin="argument")
    text = os.environ.get(KEK_ENV)
    if text:
        return KeySealer(parse_kek(text, where=KEK_ENV), origin=KEK_ENV)
    file_name = os.environ.get(KEK_FILE_ENV)
    if file_name:
        kek = _file_kek(Path(file_name), create=False)
        if kek is None:
            raise UsageError(f"{KEK_FILE_ENV} names `{file_name}`, which does not exist")
        return KeySealer(kek, origin=KEK_FILE_ENV)
    if data_dir is not None:
        path = data_dir / KEK_FILENAME
        return KeySealer(_file_kek(path, create=True), origin=str(path))
    return KeySealer(None, origin="no key-encryption key configured")
