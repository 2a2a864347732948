"""Tamper with a real SQLite audit log in every way an attacker with write access could,
and check that verification names the first bad record and the kind of tampering."""

from __future__ import annotations

import base64
import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from ztgate.audit.backends.sqlite import SQLiteBackend
from ztgate.audit.canonical import canonical_text
from ztgate.audit.checkpoint import Checkpoint, Signer
from ztgate.audit.log import AuditLog
from ztgate.audit.verify import Report, verify_backend
from ztgate.errors import IntegrityError


def _db(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("DROP TRIGGER audit_records_no_update")
    db.execute("DROP TRIGGER audit_records_no_delete")
    return db


def _verify(path: Path, signer: Signer, **kw: object) -> Report:
    backend = SQLiteBackend(path)
    try:
        return verify_backend(backend, [signer.public_key], **kw)  # type: ignore[arg-type]
    finally:
        backend.close()


def _record(db: sqlite3.Connection, seq: int) -> dict:
    return json.loads(
        db.execute("SELECT record FROM audit_records WHERE seq=?", (seq,)).fetchone()[0]
    )


def _rewrite(db: sqlite3.Connection, seq: int, data: dict, *, rehash: bool) -> str:
    text = canonical_text(data)
    digest = hashlib.sha256(text.encode()).hexdigest()
    if rehash:
        db.execute("UPDATE audit_records SET record=?, hash=? WHERE seq=?", (text, digest, seq))
    else:
        db.execute("UPDATE audit_records SET record=? WHERE seq=?", (text, seq))
    return digest


def test_intact_log_verifies(filled_db: Path, signer: Signer) -> None:
    report = _verify(filled_db, signer)
    assert report.ok, report.failure
    assert (report.records, report.checkpoints, report.sealed_seq) == (20, 4, 20)
    report.raise_for_failure()


def test_append_only_triggers_refuse_update_and_delete(filled_db: Path) -> None:
    db = sqlite3.connect(filled_db)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE audit_records SET agent='x' WHERE seq=1")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM audit_records WHERE seq=1")


def test_edited_field_is_modified(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    data = _record(db, 7)
    data["event"]["effect"] = "deny"
    _rewrite(db, 7, data, rehash=False)
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("modified", 7)
    assert "record 7" in report.failure.message
    with pytest.raises(IntegrityError, match=r"record 7 .* was modified"):
        report.raise_for_failure()


def test_edited_field_with_recomputed_hash_breaks_the_next_link(
    filled_db: Path, signer: Signer
) -> None:
    db = _db(filled_db)
    data = _record(db, 7)
    data["event"]["agent"] = "someone-else"
    _rewrite(db, 7, data, rehash=True)
    db.execute("UPDATE audit_records SET agent='someone-else' WHERE seq=7")
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("modified", 8)
    assert "does not link to record 7" in report.failure.message


def test_index_column_edit_is_modified(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    db.execute("UPDATE audit_records SET effect='deny' WHERE seq=6")
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("modified", 6)
    assert "index columns" in report.failure.message


def test_rewritten_tail_disagrees_with_signed_checkpoint(filled_db: Path, signer: Signer) -> None:
    """An attacker re-chains every record after an edit; only the signature catches it."""
    db = _db(filled_db)
    prev = db.execute("SELECT hash FROM audit_records WHERE seq=11").fetchone()[0]
    for seq in range(12, 21):
        data = _record(db, seq)
        if seq == 12:
            data["event"]["tool"] = "innocent.tool"
        data["prev"] = prev
        prev = _rewrite(db, seq, data, rehash=True)
        db.execute("UPDATE audit_records SET prev_hash=? WHERE seq=?", (data["prev"], seq))
        if seq == 12:
            db.execute("UPDATE audit_records SET tool='innocent.tool' WHERE seq=12")
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("rewritten", 15)


def test_deleted_record(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    db.execute("DELETE FROM audit_records WHERE seq=9")
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("deleted", 9)
    assert "record 9 is missing" in report.failure.message


def test_deleted_and_renumbered(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    db.execute("DELETE FROM audit_records WHERE seq=9")
    db.execute("UPDATE audit_records SET seq=seq-1 WHERE seq>9")
    report = _verify(filled_db, signer)
    assert report.failure.kind == "reordered"
    assert report.failure.seq == 9


def test_inserted_duplicate_is_named_inserted(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    for seq in range(20, 8, -1):
        db.execute("UPDATE audit_records SET seq=? WHERE seq=?", (seq + 1, seq))
    original = db.execute("SELECT * FROM audit_records WHERE seq=10").fetchone()
    forged = json.loads(original[3])
    forged["event"]["tool"] = "forged.tool" if forged["type"] == "decision" else None
    text = canonical_text(forged)
    digest = hashlib.sha256(text.encode()).hexdigest()
    db.execute(
        "INSERT INTO audit_records VALUES (9, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            original[1],
            digest,
            text,
            original[4],
            original[5],
            original[6],
            forged["event"]["tool"],
            original[8],
            original[9],
        ),
    )
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("inserted", 9)
    assert "appears twice" in report.failure.message


def test_reordered_rows(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    a = db.execute("SELECT * FROM audit_records WHERE seq=5").fetchone()
    b = db.execute("SELECT * FROM audit_records WHERE seq=6").fetchone()
    for target, row in ((5, b), (6, a)):
        db.execute(
            "UPDATE audit_records SET prev_hash=?, hash=?, record=?, time_us=?, type=?, agent=?, "
            "tool=?, effect=?, kind=? WHERE seq=?",
            (*row[1:], target),
        )
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("reordered", 5)


def test_truncated_log(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    db.execute("DELETE FROM audit_records WHERE seq>17")
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("truncated", 18)
    assert "covers 20 records but the log ends at record 17" in report.failure.message


def test_truncated_log_and_checkpoints_caught_by_exported_copy(
    filled_db: Path, signer: Signer
) -> None:
    exported = [
        Checkpoint.from_json(row[0])
        for row in sqlite3.connect(filled_db).execute("SELECT body FROM audit_checkpoints")
    ]
    db = _db(filled_db)
    db.execute("DELETE FROM audit_records WHERE seq>12")
    db.execute("DELETE FROM audit_checkpoints WHERE seq>12")
    assert _verify(filled_db, signer).ok  # the attacker's view is self-consistent...
    report = _verify(filled_db, signer, extra_checkpoints=exported)
    assert (report.failure.kind, report.failure.seq) == ("truncated", 13)


def test_forged_checkpoint_signature(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    body = json.loads(db.execute("SELECT body FROM audit_checkpoints WHERE seq=10").fetchone()[0])
    sig = bytearray(base64.b64decode(body["signature"]))
    sig[0] ^= 1
    body["signature"] = base64.b64encode(bytes(sig)).decode()
    db.execute("UPDATE audit_checkpoints SET body=? WHERE seq=10", (canonical_text(body),))
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("bad_signature", 10)


def test_checkpoint_resigned_with_attacker_key(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    body = json.loads(db.execute("SELECT body FROM audit_checkpoints WHERE seq=20").fetchone()[0])
    cp = Checkpoint.from_dict(body)
    forged = Signer.generate().sign(
        log_id=cp.log_id, seq=cp.seq, head="0" * 64, root=cp.root, time=cp.time
    )
    db.execute("UPDATE audit_checkpoints SET body=? WHERE seq=20", (forged.to_json(),))
    report = _verify(filled_db, signer)
    assert report.failure.kind == "bad_signature"
    assert "unknown key" in report.failure.message


def test_checkpoint_head_edited_keeps_signature_check(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    body = json.loads(db.execute("SELECT body FROM audit_checkpoints WHERE seq=5").fetchone()[0])
    body["seq"] = 4
    db.execute("UPDATE audit_checkpoints SET body=? WHERE seq=5", (canonical_text(body),))
    report = _verify(filled_db, signer)
    assert (report.failure.kind, report.failure.seq) == ("bad_signature", 4)


def test_log_refuses_to_extend_a_tampered_tail(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    data = _record(db, 20)
    data["event"]["subject" if data["type"] == "lifecycle" else "agent"] = "x"
    _rewrite(db, 20, data, rehash=False)
    with pytest.raises(IntegrityError, match="record 20 was modified"):
        AuditLog(SQLiteBackend(filled_db), signer)


def test_log_refuses_to_extend_a_truncated_log(filled_db: Path, signer: Signer) -> None:
    db = _db(filled_db)
    db.execute("DELETE FROM audit_records WHERE seq>18")
    with pytest.raises(IntegrityError, match="truncated"):
        AuditLog(SQLiteBackend(filled_db), signer)


def test_reopened_log_continues_the_chain(filled_db: Path, signer: Signer) -> None:
    from tests.unit.audit.helpers import decision, ticking_clock

    log = AuditLog(
        SQLiteBackend(filled_db), signer, clock=ticking_clock(), checkpoint_interval=None
    )
    receipt = log.append(decision(99))
    log.close()
    assert receipt.seq == 21
    report = _verify(filled_db, signer)
    assert report.ok
    assert (report.records, report.sealed_seq) == (21, 21)
