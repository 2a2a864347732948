"""Token-signing keys are sealed at rest: a database alone cannot mint tokens."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, update

from ztgate.errors import StoreError, UsageError
from ztgate.identity import Registry
from ztgate.identity.signing import SigningKeys
from ztgate.store import _schema as s
from ztgate.store import open_store
from ztgate.store.sealing import (
    KEK_ENV,
    KEK_FILE_ENV,
    KEK_FILENAME,
    SEALED_PREFIX,
    KeySealer,
    new_kek_text,
    parse_kek,
)

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
KEK_A = bytes(range(32))
KEK_B = bytes(range(1, 33))


def _stored(path: Path) -> dict[str, bytes]:
    with open_store(path, key_encryption_key=KEK_A) as store, store.engine.connect() as conn:
        rows = conn.execute(select(s.signing_keys.c.kid, s.signing_keys.c.private_pem))
        return {row.kid: bytes(row.private_pem) for row in rows}


@pytest.fixture
def no_env_kek(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(KEK_ENV, raising=False)
    monkeypatch.delenv(KEK_FILE_ENV, raising=False)


@pytest.mark.usefixtures("no_env_kek")
def test_directory_store_seals_with_a_private_key_file(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        key = SigningKeys(store).ensure(NOW)
        assert store.sealer.sealing
    kek_file = tmp_path / KEK_FILENAME
    assert stat.S_IMODE(kek_file.stat().st_mode) == 0o600
    with open_store(tmp_path) as store, store.engine.connect() as conn:
        raw = conn.execute(select(s.signing_keys.c.private_pem)).scalar_one()
        assert bytes(raw).startswith(SEALED_PREFIX)
        assert b"PRIVATE KEY" not in bytes(raw)
        assert store.sealer.open(key.kid, bytes(raw)).startswith(b"-----BEGIN PRIVATE KEY")
        assert SigningKeys(store).snapshot().signer_key is not None


@pytest.mark.usefixtures("no_env_kek")
def test_a_copied_database_without_its_key_file_cannot_sign(tmp_path: Path) -> None:
    with open_store(tmp_path) as store:
        SigningKeys(store).ensure(NOW)
    (tmp_path / KEK_FILENAME).unlink()  # the attacker has the database, not the key file
    with open_store(tmp_path) as store:
        assert len(store.signing_keys.list()) == 1  # listing needs no private key
        registry = Registry(store)
        with pytest.raises(StoreError, match="cannot be opened"):
            SigningKeys(store, events=registry.events).snapshot()


def test_after_losing_the_kek_a_rotation_under_a_new_one_signs_again(tmp_path: Path) -> None:
    with open_store(tmp_path, key_encryption_key=KEK_A) as store:
        old = SigningKeys(store).ensure(NOW)
    with open_store(tmp_path, key_encryption_key=KEK_B) as store:
        keys = SigningKeys(store)
        with pytest.raises(StoreError):
            keys.snapshot()
        new = keys.rotate(NOW, retire_after=timedelta(0))
        snapshot = keys.snapshot()
        assert snapshot.signer is not None
        assert snapshot.signer.kid == new.kid
        assert snapshot.signer_key is not None
        assert old.kid in snapshot.verifiers  # still published until it expires


def test_wrong_key_encryption_key_fails_closed(tmp_path: Path) -> None:
    with open_store(tmp_path, key_encryption_key=KEK_A) as store:
        SigningKeys(store).ensure(NOW)
    with (
        open_store(tmp_path, key_encryption_key=KEK_B) as store,
        pytest.raises(StoreError, match="wrong key-encryption key"),
    ):
        SigningKeys(store).snapshot()


def test_a_sealed_key_is_bound_to_its_kid(tmp_path: Path) -> None:
    with open_store(tmp_path, key_encryption_key=KEK_A) as store:
        keys = SigningKeys(store)
        first = keys.ensure(NOW)
        second = keys.rotate(NOW, retire_after=timedelta(minutes=5))
        third = keys.rotate(NOW, retire_after=timedelta(minutes=5))
    sealed = _stored(tmp_path)
    with open_store(tmp_path, key_encryption_key=KEK_A) as store, store.transaction() as conn:
        conn.execute(
            update(s.signing_keys)
            .where(s.signing_keys.c.kid == third.kid)
            .values(private_pem=sealed[second.kid])
        )
    with (
        open_store(tmp_path, key_encryption_key=KEK_A) as store,
        pytest.raises(StoreError, match=third.kid),
    ):
        SigningKeys(store).snapshot()  # the signer's slot now holds another key's seal
    assert first.kid != third.kid


@pytest.mark.usefixtures("no_env_kek")
def test_database_url_without_a_key_warns_and_later_sealing_still_reads_it(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'plain.db'}"
    with open_store(url) as store:
        assert not store.sealer.sealing
        with pytest.warns(RuntimeWarning, match="unencrypted"):
            key = SigningKeys(store).ensure(NOW)
        assert key.private_pem.startswith(b"-----BEGIN PRIVATE KEY")
    with open_store(url, key_encryption_key=KEK_A) as store:
        assert SigningKeys(store).snapshot().signer_key is not None


@pytest.mark.usefixtures("no_env_kek")
def test_a_sealed_key_without_any_kek_names_the_setting(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'sealed.db'}"
    with open_store(url, key_encryption_key=KEK_A) as store:
        SigningKeys(store).ensure(NOW)
    with open_store(url) as store, pytest.raises(StoreError, match=KEK_ENV):
        SigningKeys(store).snapshot()


def test_environment_and_file_settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    text = new_kek_text()
    monkeypatch.setenv(KEK_ENV, text)
    with open_store(tmp_path / "a") as store:
        assert store.sealer.origin == KEK_ENV
        assert not (tmp_path / "a" / KEK_FILENAME).exists()
    monkeypatch.delenv(KEK_ENV)
    kek_file = tmp_path / "kek.txt"
    kek_file.write_text(text + "\n")
    monkeypatch.setenv(KEK_FILE_ENV, str(kek_file))
    with open_store(tmp_path / "b") as store:
        assert store.sealer.origin == KEK_FILE_ENV
    monkeypatch.setenv(KEK_FILE_ENV, str(tmp_path / "missing"))
    with pytest.raises(UsageError, match="does not exist"):
        open_store(tmp_path / "c")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "32 bytes"),
        ("not base64 at all!", "base64url"),
        ("AAAA", "32 bytes"),
        (new_kek_text() + "AAAA", "32 bytes"),
    ],
)
def test_invalid_key_encryption_keys_are_refused(
    text: str, message: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(UsageError, match=message):
        parse_kek(text, where=KEK_ENV)
    monkeypatch.setenv(KEK_ENV, text or "x")
    with pytest.raises(UsageError):
        open_store(tmp_path)


@given(
    kid=st.text(min_size=1, max_size=40),
    secret=st.binary(min_size=1, max_size=300),
    position=st.integers(min_value=0),
    flip=st.integers(min_value=1, max_value=255),
)
def test_any_altered_byte_is_detected(kid: str, secret: bytes, position: int, flip: int) -> None:
    sealer = KeySealer(KEK_A, origin="test")
    sealed = sealer.seal(kid, secret)
    assert sealer.open(kid, sealed) == secret
    index = position % len(sealed)
    altered = bytearray(sealed)
    altered[index] ^= flip
    if index >= len(SEALED_PREFIX):
        with pytest.raises(StoreError):
            sealer.open(kid, bytes(altered))
    else:  # no longer marked sealed: read as a legacy key, never as the real secret
        assert sealer.open(kid, bytes(altered)) != secret
