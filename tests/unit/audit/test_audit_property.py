"""Property tests: any edit an attacker makes to an exported log is caught, and honest logs
of any shape verify; Merkle proofs hold for every leaf of every tree size."""

from __future__ import annotations

import base64
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from ztgate.audit.chain import GENESIS, build_record
from ztgate.audit.checkpoint import Checkpoint, Signer
from ztgate.audit.events import DecisionEvent
from ztgate.audit.merkle import (
    Frontier,
    inclusion_proof,
    leaf_hash,
    root_from_proof,
    root_of,
)
from ztgate.audit.verify import verify_records

NOW = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
SIGNER = Signer.generate()


def _event(i: int, args: dict[str, Any]) -> DecisionEvent:
    return DecisionEvent(
        agent=f"agent-{i % 3}",
        tool="t",
        effect="allow" if i % 2 else "deny",
        time=NOW,
        request_id=f"r{i}",
        args_digest="sha256:" + "0" * 64,
        args=args,
    )


def build_export(
    n: int, every: int, args: list[dict[str, Any]] | None = None
) -> tuple[list[dict[str, Any]], list[Checkpoint]]:
    """An honest export of ``n`` records with a checkpoint every ``every`` and at the end."""
    lines, checkpoints = [], []
    frontier, head = Frontier(), GENESIS
    for seq in range(1, n + 1):
        record = build_record(seq, head, _event(seq, (args or [{}] * n)[seq - 1]), NOW)
        import json

        lines.append({"hash": record.hash, "record": json.loads(record.record)})
        head = record.hash
        frontier.append(head)
        if seq % every == 0 or seq == n:
            checkpoints.append(
                SIGNER.sign(log_id="L", seq=seq, head=head, root=frontier.root(), time="t")
            )
    return lines, checkpoints


BASE_LINES, BASE_CHECKPOINTS = build_export(12, 3)


def test_base_export_verifies() -> None:
    report = verify_records(BASE_LINES, BASE_CHECKPOINTS, [SIGNER.public_key])
    assert report.ok, report.failure
    assert report.sealed_seq == 12


json_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(
    st.lists(st.dictionaries(st.text(max_size=8), json_values, max_size=4), min_size=1, max_size=8)
)
@settings(max_examples=40, deadline=None)
def test_honest_logs_with_any_arguments_verify(args: list[dict[str, Any]]) -> None:
    lines, checkpoints = build_export(len(args), 2, args)
    report = verify_records(lines, checkpoints, [SIGNER.public_key])
    assert report.ok, report.failure


EDIT_FIELDS = ("agent", "tool", "effect", "request_id", "args_digest", "time")


@st.composite
def tamperings(draw: st.DrawFn) -> tuple[str, list[dict[str, Any]], list[Checkpoint]]:
    lines = copy.deepcopy(BASE_LINES)
    checkpoints = list(BASE_CHECKPOINTS)
    n = len(lines)
    op = draw(
        st.sampled_from(
            ["edit", "edit_args", "delete", "duplicate", "swap", "truncate", "hash", "checkpoint",
             "relink"]
        )
    )  # fmt: skip
    if op == "edit":
        i = draw(st.integers(0, n - 1))
        field = draw(st.sampled_from(EDIT_FIELDS))
        value = draw(st.text(min_size=1, max_size=10))
        assume(lines[i]["record"]["event"][field] != value)
        lines[i]["record"]["event"][field] = value
    elif op == "edit_args":
        i = draw(st.integers(0, n - 1))
        lines[i]["record"]["event"]["args"] = {draw(st.text(max_size=5)): draw(json_values)}
    elif op == "delete":
        del lines[draw(st.integers(0, n - 1))]
    elif op == "duplicate":
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n))
        lines.insert(j, copy.deepcopy(lines[i]))
    elif op == "swap":
        i, j = draw(st.integers(0, n - 1)), draw(st.integers(0, n - 1))
        assume(i != j)
        lines[i], lines[j] = lines[j], lines[i]
    elif op == "truncate":
        del lines[n - draw(st.integers(1, n)) :]
    elif op == "hash":
        i, pos = draw(st.integers(0, n - 1)), draw(st.integers(0, 63))
        h = lines[i]["hash"]
        flipped = "0" if h[pos] != "0" else "1"
        lines[i]["hash"] = h[:pos] + flipped + h[pos + 1 :]
    elif op == "checkpoint":
        k = draw(st.integers(0, len(checkpoints) - 1))
        cp = checkpoints[k]
        which = draw(st.sampled_from(["seq", "head", "root", "signature"]))
        if which == "seq":
            checkpoints[k] = Checkpoint(
                cp.log_id, cp.seq - 1, cp.head, cp.root, cp.time, cp.key_id, cp.signature
            )
        elif which == "head":
            checkpoints[k] = Checkpoint(
                cp.log_id, cp.seq, "f" * 64, cp.root, cp.time, cp.key_id, cp.signature
            )
        elif which == "root":
            checkpoints[k] = Checkpoint(
                cp.log_id, cp.seq, cp.head, "e" * 64, cp.time, cp.key_id, cp.signature
            )
        else:
            raw = bytearray(base64.b64decode(cp.signature))
            raw[draw(st.integers(0, 63))] ^= 1 << draw(st.integers(0, 7))
            checkpoints[k] = Checkpoint(
                cp.log_id,
                cp.seq,
                cp.head,
                cp.root,
                cp.time,
                cp.key_id,
                base64.b64encode(bytes(raw)).decode(),
            )
    else:  # relink: edit a record and re-hash the whole chain after it (no key to re-sign)
        import hashlib

        from ztgate.audit.canonical import canonical_text

        i = draw(st.integers(0, n - 1))
        lines[i]["record"]["event"]["agent"] = "intruder"
        head = lines[i - 1]["hash"] if i else GENESIS
        for line in lines[i:]:
            line["record"]["prev"] = head
            head = hashlib.sha256(canonical_text(line["record"]).encode()).hexdigest()
            line["hash"] = head
    return op, lines, checkpoints


@given(tamperings())
@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_tampering_is_caught(
    case: tuple[str, list[dict[str, Any]], list[Checkpoint]],
) -> None:
    op, lines, checkpoints = case
    report = verify_records(lines, checkpoints, [SIGNER.public_key])
    assert not report.ok, f"{op} went undetected"
    assert report.failure is not None
    assert report.failure.message[0].islower()


@given(st.integers(1, 70), st.data())
@settings(max_examples=60, deadline=None)
def test_merkle_frontier_root_and_proofs(size: int, data: st.DataObject) -> None:
    hashes = [f"{i:064x}" for i in range(size)]
    leaves = [leaf_hash(h) for h in hashes]
    frontier = Frontier()
    for h in hashes:
        frontier.append(h)
    assert frontier.root() == root_of(leaves).hex()
    index = data.draw(st.integers(0, size - 1))
    proof = inclusion_proof(index, leaves)
    assert root_from_proof(index, size, leaves[index], proof) == root_of(leaves)
    other = data.draw(st.integers(0, size - 1))
    if other != index:
        try:
            wrong = root_from_proof(other, size, leaves[other], proof)
        except ValueError:
            wrong = None  # a path of the wrong length for that position is refused
        assert wrong != root_of(leaves)
    with pytest.raises(ValueError, match="too"):
        root_from_proof(index, size, leaves[index], [*proof, leaves[0]])
