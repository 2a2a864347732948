"""Known-answer vectors (valid and invalid) for the canonical encoding, the hash chain,
checkpoint signatures, Merkle hashing and redaction, under ``tests/vectors/audit``."""

from __future__ import annotations

import copy
import hashlib
import json
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ztgate.audit.canonical import canonical_text, is_canonical, parse_canonical
from ztgate.audit.chain import GENESIS
from ztgate.audit.checkpoint import Checkpoint, Signer, load_public_key
from ztgate.audit.merkle import EMPTY_ROOT, leaf_hash, root_from_proof, root_of
from ztgate.audit.redact import RedactionPolicy
from ztgate.audit.verify import verify_records

VECTORS = Path(__file__).parents[2] / "vectors" / "audit"


def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


CANONICAL = load("canonical.json")
CHAIN = load("chain.json")
MERKLE = load("merkle.json")
REDACTION = load("redaction.json")


@pytest.mark.parametrize("case", CANONICAL["valid"], ids=lambda c: c["canonical"][:20])
def test_canonical_known_answers(case: dict[str, Any]) -> None:
    assert canonical_text(case["value"]) == case["canonical"]
    assert hashlib.sha256(case["canonical"].encode()).hexdigest() == case["sha256"]
    assert is_canonical(case["canonical"])
    assert canonical_text(parse_canonical(case["canonical"])) == case["canonical"]


@pytest.mark.parametrize("text", CANONICAL["refused_text"])
def test_canonical_refuses(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - json's error type
        parse_canonical(text)
    assert not is_canonical(text)


@pytest.mark.parametrize("text", CANONICAL["non_canonical_text"])
def test_non_canonical_is_detected(text: str) -> None:
    assert not is_canonical(text)


def test_chain_vector_hashes_links_and_signatures() -> None:
    signer = Signer(
        Ed25519PrivateKey.from_private_bytes(bytes.fromhex(CHAIN["private_key_seed_hex"]))
    )
    assert signer.key_id == CHAIN["key_id"]
    assert signer.public_pem().decode() == CHAIN["public_key_pem"]
    head = GENESIS
    for seq, line in enumerate(CHAIN["lines"], 1):
        text = canonical_text(line["record"])
        assert hashlib.sha256(text.encode()).hexdigest() == line["hash"]
        assert (line["record"]["seq"], line["record"]["prev"]) == (seq, head)
        head = line["hash"]
    checkpoints = [Checkpoint.from_dict(c) for c in CHAIN["checkpoints"]]
    # Ed25519 is deterministic: re-signing reproduces the stored signatures bit for bit.
    for cp in checkpoints:
        again = signer.sign(log_id=cp.log_id, seq=cp.seq, head=cp.head, root=cp.root, time=cp.time)
        assert again.signature == cp.signature
    assert checkpoints[-1].root == CHAIN["merkle_root"]
    key = load_public_key(CHAIN["public_key_pem"].encode())
    report = verify_records(CHAIN["lines"], checkpoints, [key])
    assert report.ok, report.failure
    assert report.sealed_seq == len(CHAIN["lines"])


def _apply(case: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Checkpoint]]:
    lines = copy.deepcopy(CHAIN["lines"])
    cps = copy.deepcopy(CHAIN["checkpoints"])
    op = case["op"]
    if op == "edit":
        lines[case["line"]]["record"]["event"][case["field"]] = case["value"]
    elif op == "delete":
        del lines[case["line"]]
    elif op == "duplicate":
        lines.insert(case["line"] + 1, copy.deepcopy(lines[case["line"]]))
    elif op == "swap":
        i, j = case["line"], case["other"]
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "truncate":
        del lines[case["keep"] :]
    elif op == "checkpoint":
        cps[case["index"]][case["field"]] = case["value"]
    elif op == "foreign_key":
        c = Checkpoint.from_dict(cps[case["index"]])
        other = Signer(Ed25519PrivateKey.from_private_bytes(bytes(32)))
        cps[case["index"]] = other.sign(
            log_id=c.log_id, seq=c.seq, head=c.head, root=c.root, time=c.time
        ).to_dict()
    elif op == "relink":
        i = case["line"]
        lines[i]["record"]["event"]["agent"] = "intruder"
        head = lines[i - 1]["hash"] if i else GENESIS
        for line in lines[i:]:
            line["record"]["prev"] = head
            head = hashlib.sha256(canonical_text(line["record"]).encode()).hexdigest()
            line["hash"] = head
    else:
        raise AssertionError(f"unknown op {op}")
    return lines, [Checkpoint.from_dict(c) for c in cps]


@pytest.mark.parametrize("case", CHAIN["tampered"], ids=lambda c: c["name"])
def test_chain_vector_tamperings(case: dict[str, Any]) -> None:
    lines, checkpoints = _apply(case)
    key = load_public_key(CHAIN["public_key_pem"].encode())
    report = verify_records(lines, checkpoints, [key])
    assert report.failure is not None
    assert {"kind": report.failure.kind, "seq": report.failure.seq} == case["expected"]


def test_merkle_known_roots() -> None:
    leaves = [leaf_hash(h) for h in MERKLE["record_hashes"]]
    assert root_of([]).hex() == MERKLE["empty_root"] == EMPTY_ROOT
    for size, root in MERKLE["roots"].items():
        assert root_of(leaves[: int(size)]).hex() == root
    for proof in MERKLE["proofs"]:
        path = [bytes.fromhex(p) for p in proof["path"]]
        i, n = proof["index"], proof["size"]
        assert root_from_proof(i, n, leaves[i], path).hex() == MERKLE["roots"][str(n)]


@pytest.mark.parametrize("case", MERKLE["invalid_proofs"], ids=lambda c: c["why"])
def test_merkle_invalid_proofs(case: dict[str, Any]) -> None:
    leaves = [leaf_hash(h) for h in MERKLE["record_hashes"]]
    leaf = leaves[min(case["index"], len(leaves) - 1)]
    with pytest.raises(ValueError):  # noqa: PT011
        root_from_proof(case["index"], case["size"], leaf, [bytes.fromhex(p) for p in case["path"]])


@pytest.mark.parametrize("case", REDACTION["cases"], ids=lambda c: c["name"])
def test_redaction_known_answers(case: dict[str, Any]) -> None:
    policy = RedactionPolicy(
        drop=tuple(case["policy"].get("drop", ())), mask=tuple(case["policy"].get("mask", ()))
    )
    redacted = policy.redact_args(case["args"])
    assert redacted == case["expected"]
    text = canonical_text(redacted)
    for secret in case["must_not_contain"]:
        assert secret not in text
