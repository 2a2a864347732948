"""Verification of a live store or an offline export against signed checkpoints.

The verifier trusts nothing it reads: not the row order, not the stored hashes, not the
index columns, not the checkpoint table. It recomputes every hash from the record bytes,
follows the chain from the genesis hash, rebuilds the Merkle root, checks every checkpoint
signature against the public keys it was given, and stops at the first problem, naming
the record and the kind of tampering it points to:

``modified``   a record's bytes do not match its hash (or its stored columns disagree)
``inserted``   a sequence number appears twice
``deleted``    a sequence number is missing
``reordered``  records appear out of sequence or in the wrong row
``rewritten``  the chain is self-consistent but disagrees with a signed checkpoint
``truncated``  a signed checkpoint covers more records than the log holds
``bad_signature`` a checkpoint's signature does not verify (or its key is unknown)
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ztgate.audit.backends import Backend
from ztgate.audit.canonical import canonical_text, parse_canonical
from ztgate.audit.chain import GENESIS, StoredRecord, index_fields
from ztgate.audit.checkpoint import Checkpoint, keyring, verify_checkpoint
from ztgate.audit.merkle import Frontier
from ztgate.errors import AuditError, IntegrityError


@dataclass(frozen=True, slots=True)
class Failure:
    """The first problem found: which record (or checkpoint), what kind, and why."""

    kind: str
    seq: int | None
    message: str


@dataclass(slots=True)
class Report:
    """Outcome of a verification; ``failure`` is ``None`` when the log is intact."""

    records: int = 0
    head: str = GENESIS
    checkpoints: int = 0
    sealed_seq: int = 0
    failure: Failure | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.failure is None

    @property
    def unsealed(self) -> int:
        """Records after the last signed checkpoint: chained but not yet signed."""
        return self.records - self.sealed_seq

    def raise_for_failure(self) -> None:
        if self.failure is not None:
            raise IntegrityError(self.failure.message)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "records": self.records,
            "head": self.head,
            "checkpoints": self.checkpoints,
            "sealed_seq": self.sealed_seq,
            "unsealed": self.unsealed,
            "failure": None
            if self.failure is None
            else {
                "kind": self.failure.kind,
                "seq": self.failure.seq,
                "message": self.failure.message,
            },
            "warnings": list(self.warnings),
        }


@dataclass(frozen=True, slots=True)
class Item:
    """One record as presented to the verifier, from a store row or an export line."""

    where: str
    hash: str
    text: str
    row_seq: int | None = None
    prev_hash: str | None = None
    columns: tuple[str | None, ...] | None = None
    type_column: str | None = None


class _Stop(Exception):
    def __init__(self, failure: Failure) -> None:
        self.failure = failure


class ChainVerifier:
    """Streaming verifier: feed items in storage order, then call :meth:`finish`."""

    def __init__(
        self,
        checkpoints: Iterable[Checkpoint],
        public_keys: Iterable[Ed25519PublicKey],
        *,
        log_id: str | None = None,
    ) -> None:
        self.report = Report()
        self._frontier = Frontier()
        self._expected_log = log_id
        self._checkpoints: dict[int, list[Checkpoint]] = {}
        self._max_checkpoint = -1
        self._gap: tuple[int, int, str] | None = None
        keys = keyring(public_keys)
        try:
            for checkpoint in checkpoints:
                problem = verify_checkpoint(checkpoint, keys)
                if problem is not None:
                    self._fail(
                        "bad_signature",
                        checkpoint.seq,
                        f"checkpoint at record {checkpoint.seq}: {problem}",
                    )
                if self._expected_log is None:
                    self._expected_log = checkpoint.log_id
                elif checkpoint.log_id != self._expected_log:
                    self._fail(
                        "bad_signature",
                        checkpoint.seq,
                        f"checkpoint at record {checkpoint.seq} belongs to log "
                        f"`{checkpoint.log_id}`, not `{self._expected_log}`",
                    )
                self._checkpoints.setdefault(checkpoint.seq, []).append(checkpoint)
                self._max_checkpoint = max(self._max_checkpoint, checkpoint.seq)
                self.report.checkpoints += 1
            self._check_checkpoints_at(0)
        except _Stop as stop:
            self.report.failure = stop.failure

    @staticmethod
    def _fail(kind: str, seq: int | None, message: str) -> NoReturn:
        raise _Stop(Failure(kind, seq, message))

    def feed(self, item: Item) -> bool:
        """Check one record; returns ``False`` once a failure has been recorded."""
        if self.report.failure is not None:
            return False
        try:
            self._feed(item)
        except _Stop as stop:
            self.report.failure = stop.failure
            return False
        return True

    def _feed(self, item: Item) -> None:
        report = self.report
        expected = report.records + 1
        if self._gap is not None:
            self._resolve_gap(item)
        label = item.row_seq if item.row_seq is not None else expected
        try:
            data = parse_canonical(item.text)
        except ValueError:
            self._fail(
                "modified", label, f"record {label} ({item.where}) was modified: not valid JSON"
            )
        if not isinstance(data, dict) or not isinstance(data.get("seq"), int):
            self._fail(
                "modified", label, f"record {label} ({item.where}) was modified: malformed record"
            )
        claimed: int = data["seq"]
        if canonical_text(data) != item.text:
            self._fail(
                "modified",
                claimed,
                f"record {claimed} ({item.where}) was modified: not canonically encoded",
            )
        if hashlib.sha256(item.text.encode("utf-8")).hexdigest() != item.hash:
            self._fail(
                "modified",
                claimed,
                f"record {claimed} ({item.where}) was modified: content does not match its hash",
            )
        if claimed != expected or (item.row_seq is not None and item.row_seq != claimed):
            self._sequence_problem(item, claimed, expected)
            return
        if data.get("prev") != report.head:
            self._fail(
                "modified",
                claimed,
                f"record {claimed} ({item.where}) does not link to record {claimed - 1}: "
                f"record {claimed - 1} was replaced, or records around it were inserted or removed",
            )
        if item.prev_hash is not None and item.prev_hash != report.head:
            self._fail(
                "modified",
                claimed,
                f"record {claimed} ({item.where}) was modified: stored prev_hash differs",
            )
        if item.columns is not None:
            event = data.get("event")
            derived = index_fields(str(data.get("type")), event if isinstance(event, dict) else {})
            if tuple(derived) != tuple(item.columns) or item.type_column != data.get("type"):
                self._fail(
                    "modified",
                    claimed,
                    f"record {claimed} ({item.where}) was modified: its index columns disagree "
                    "with its content",
                )
        report.records = claimed
        report.head = item.hash
        self._frontier.append(item.hash)
        self._check_checkpoints_at(claimed)

    def _sequence_problem(self, item: Item, claimed: int, expected: int) -> None:
        report = self.report
        if claimed == report.records and claimed > 0:
            self._fail(
                "inserted",
                claimed,
                f"record {claimed} appears twice ({item.where}): a record was inserted",
            )
        if item.row_seq is not None and item.row_seq != claimed:
            self._fail(
                "reordered",
                item.row_seq,
                f"row {item.row_seq} holds record {claimed}: records were reordered or moved",
            )
        if claimed < expected:
            self._fail(
                "reordered",
                claimed,
                f"record {claimed} appears after record {report.records} ({item.where}): "
                "records were reordered",
            )
        # A jump forward is a deletion unless the missing record comes right after (a
        # swap); decide when the next item arrives or at the end.
        self._gap = (expected, claimed, item.where)

    def _resolve_gap(self, item: Item) -> None:
        assert self._gap is not None
        expected, claimed, where = self._gap
        try:
            data = parse_canonical(item.text)
            nxt = data.get("seq") if isinstance(data, dict) else None
        except ValueError:
            nxt = None
        if nxt == expected:
            self._fail(
                "reordered",
                expected,
                f"record {claimed} ({where}) appears before record {expected}: "
                "records were reordered",
            )
        self._fail_gap()

    def _fail_gap(self) -> None:
        assert self._gap is not None
        expected, claimed, where = self._gap
        missing = f"{expected}" if claimed == expected + 1 else f"{expected}-{claimed - 1}"
        self._fail(
            "deleted",
            expected,
            f"record {missing} is missing before record {claimed} ({where}): records were deleted",
        )

    def _check_checkpoints_at(self, seq: int) -> None:
        for checkpoint in self._checkpoints.get(seq, ()):
            head = self.report.head
            if checkpoint.head != head or checkpoint.root != self._frontier.root():
                self._fail(
                    "rewritten",
                    seq,
                    f"the log disagrees with the signed checkpoint at record {seq}: "
                    f"records up to {seq} were rewritten",
                )
            self.report.sealed_seq = max(self.report.sealed_seq, seq)

    def finish(self) -> Report:
        report = self.report
        if report.failure is None and self._gap is not None:
            try:
                self._fail_gap()
            except _Stop as stop:
                report.failure = stop.failure
        if report.failure is None and self._max_checkpoint > report.records:
            report.failure = Failure(
                "truncated",
                report.records + 1,
                f"the log was truncated: a signed checkpoint covers {self._max_checkpoint} "
                f"records but the log ends at record {report.records}",
            )
        if report.failure is None and not report.records and not report.checkpoints:
            report.warnings.append("the log is empty: no records and no checkpoints")
        elif report.failure is None and report.records and report.checkpoints == 0:
            report.warnings.append("no signed checkpoint: the chain is intact but unsigned")
        elif report.failure is None and report.unsealed:
            report.warnings.append(
                f"{report.unsealed} record(s) after the last signed checkpoint are chained "
                "but not yet signed"
            )
        return report


def _store_items(records: Iterable[StoredRecord]) -> Iterator[Item]:
    for r in records:
        yield Item(
            where=f"row {r.seq}",
            hash=r.hash,
            text=r.record,
            row_seq=r.seq,
            prev_hash=r.prev_hash,
            columns=(r.agent, r.tool, r.effect, r.kind),
            type_column=r.type,
        )


def verify_backend(
    backend: Backend,
    public_keys: Iterable[Ed25519PublicKey],
    *,
    extra_checkpoints: Iterable[Checkpoint] = (),
) -> Report:
    """Verify a live store, against its own checkpoints and any exported copies."""
    checkpoints = [*backend.checkpoints(), *extra_checkpoints]
    verifier = ChainVerifier(checkpoints, public_keys, log_id=backend.log_id())
    for item in _store_items(backend.records()):
        if not verifier.feed(item):
            break
    return verifier.finish()


def export_line(record: StoredRecord) -> str:
    """One line of a verifiable JSONL export: the record object and its hash."""
    return canonical_text({"hash": record.hash, "record": json.loads(record.record)})


def iter_export(path: Path) -> Iterator[Item]:
    try:
        handle = path.open(encoding="utf-8")
    except OSError as error:
        raise AuditError(f"cannot read export `{path}`: {error.strerror}") from error
    with handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            where = f"line {number}"
            try:
                obj = parse_canonical(line)
                record = obj["record"]
                digest = str(obj["hash"])
                text = canonical_text(record)
            except (ValueError, KeyError, TypeError, AuditError):
                yield Item(where=where, hash="", text=line.rstrip("\n"))
                continue
            yield Item(where=where, hash=digest, text=text)


def verify_export(
    path: Path,
    checkpoints: Iterable[Checkpoint],
    public_keys: Iterable[Ed25519PublicKey],
) -> Report:
    """Verify a JSONL export offline against exported checkpoints and public keys."""
    verifier = ChainVerifier(list(checkpoints), public_keys)
    for item in iter_export(path):
        if not verifier.feed(item):
            break
    return verifier.finish()


def verify_records(
    lines: Iterable[Mapping[str, object]],
    checkpoints: Iterable[Checkpoint],
    public_keys: Iterable[Ed25519PublicKey],
) -> Report:
    """Verify export objects already in memory (``{"hash", "record"}`` each)."""
    verifier = ChainVerifier(list(checkpoints), public_keys)
    for number, obj in enumerate(lines, 1):
        try:
            text = canonical_text(obj["record"])
            digest = str(obj["hash"])
        except (KeyError, TypeError, AuditError):
            text, digest = "", ""
        if not verifier.feed(Item(where=f"item {number}", hash=digest, text=text)):
            break
    return verifier.finish()
