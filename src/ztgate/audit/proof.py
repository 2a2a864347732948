"""Merkle inclusion proofs: prove one record belongs to the signed log, alone.

A proof bundles the record, its chain hash, its leaf index, the audit path and the signed
checkpoint whose Merkle root it leads to. Anyone with the public key can check it without
the rest of the log, which lets an operator hand one record to an auditor or a court.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ztgate.audit.backends import Backend
from ztgate.audit.canonical import canonical_text
from ztgate.audit.checkpoint import Checkpoint, keyring, verify_checkpoint
from ztgate.audit.merkle import inclusion_proof, leaf_hash, root_from_proof
from ztgate.errors import AuditError, IntegrityError, UsageError

PROOF_VERSION = 1


def prove(backend: Backend, seq: int) -> dict[str, Any]:
    """Inclusion proof of record ``seq`` against the latest checkpoint covering it."""
    covering = [c for c in backend.checkpoints() if c.seq >= seq]
    if seq < 1 or not covering:
        raise UsageError(f"no signed checkpoint covers record `{seq}` yet")
    checkpoint = max(covering, key=lambda c: c.seq)
    leaves = [leaf_hash(h) for _, h in backend.hashes(0, checkpoint.seq)]
    if len(leaves) != checkpoint.seq:
        raise IntegrityError(
            f"the log holds {len(leaves)} records but checkpoint covers {checkpoint.seq}"
        )
    record = next(iter(backend.records(seq - 1, 1)), None)
    if record is None or record.seq != seq:
        raise UsageError(f"record `{seq}` does not exist")
    return {
        "v": PROOF_VERSION,
        "record": json.loads(record.record),
        "hash": record.hash,
        "leaf_index": seq - 1,
        "tree_size": checkpoint.seq,
        "path": [node.hex() for node in inclusion_proof(seq - 1, leaves)],
        "checkpoint": checkpoint.to_dict(),
    }


def verify_proof(unverified: Mapping[str, Any], public_keys: Iterable[Ed25519PublicKey]) -> int:
    """Check a proof; returns the proven record's seq or raises :class:`IntegrityError`."""
    try:
        if unverified.get("v") != PROOF_VERSION:
            raise IntegrityError("unsupported proof version")
        checkpoint = Checkpoint.from_dict(unverified["checkpoint"])
        record = unverified["record"]
        index = int(unverified["leaf_index"])
        size = int(unverified["tree_size"])
        path = [bytes.fromhex(str(node)) for node in unverified["path"]]
        claimed_hash = str(unverified["hash"])
        text = canonical_text(record)
    except (KeyError, TypeError, ValueError, AuditError) as error:
        raise IntegrityError(f"malformed inclusion proof: {error}") from error
    problem = verify_checkpoint(checkpoint, keyring(public_keys))
    if problem is not None:
        raise IntegrityError(f"proof checkpoint at record {checkpoint.seq}: {problem}")
    if hashlib.sha256(text.encode("ascii")).hexdigest() != claimed_hash:
        raise IntegrityError("proof record was modified: its content does not match its hash")
    if record.get("seq") != index + 1 or size != checkpoint.seq:
        raise IntegrityError("proof positions disagree with the record or the checkpoint")
    try:
        root = root_from_proof(index, size, leaf_hash(claimed_hash), path)
    except ValueError as error:
        raise IntegrityError(f"invalid inclusion proof: {error}") from error
    if root.hex() != checkpoint.root:
        raise IntegrityError(
            f"record {index + 1} is not in the log signed at record {checkpoint.seq}"
        )
    return index + 1
