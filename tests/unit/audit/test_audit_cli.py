"""The ``ztgate audit`` commands end to end, through the real entry point and exit codes."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from ztgate.audit.config import open_log
from ztgate.audit.exporters import FileCheckpointExporter
from ztgate.cli.main import run


def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str):
    monkeypatch.setattr(sys, "argv", ["ztgate", "audit", *args])
    code = 0
    try:
        run()
    except SystemExit as done:
        code = int(done.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


@pytest.fixture(autouse=True)
def _no_store_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ZTGATE_STORE", raising=False)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    directory = tmp_path / "data"
    log = open_log(
        directory,
        checkpoint_every=4,
        checkpoint_interval=None,
        exporters=[FileCheckpointExporter(tmp_path / "checkpoints.jsonl")],
    )
    from tests.unit.audit.helpers import decision

    for i in range(10):
        log.append(
            decision(
                i, agent="agent-a" if i % 2 else "agent-b", effect="deny" if i % 3 == 0 else "allow"
            )
        )
    log.record_lifecycle("agent_suspended", actor="ops", subject="agent-b", details={"why": "x"})
    log.close()
    return directory


def test_key_is_created_private(data_dir: Path) -> None:
    key = data_dir / "audit-signing.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert b"PRIVATE KEY" in key.read_bytes()


def test_group_readable_key_is_refused(data_dir: Path, capsys, monkeypatch) -> None:
    (data_dir / "audit-signing.key").chmod(0o640)
    code, _, err = cli(capsys, monkeypatch, "checkpoint", "--data-dir", str(data_dir))
    assert code == 1
    assert "chmod 600" in err


def test_verify_live_store(data_dir: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(capsys, monkeypatch, "verify", "--data-dir", str(data_dir), "--json")
    assert code == 0
    report = json.loads(out)
    assert report["ok"] is True
    assert report["records"] == 11
    assert report["sealed_seq"] == 11


def test_export_then_offline_verify_and_tamper(
    data_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    export = tmp_path / "export.jsonl"
    code, _, _ = cli(capsys, monkeypatch, "export", "--data-dir", str(data_dir), "-o", str(export))
    assert code == 0
    args = [
        "verify", "--file", str(export), "--checkpoints", str(tmp_path / "checkpoints.jsonl"),
        "--public-key", str(data_dir / "audit-signing.pub"),
    ]  # fmt: skip
    assert cli(capsys, monkeypatch, *args)[0] == 0
    lines = export.read_text().splitlines()
    edited = json.loads(lines[4])
    edited["record"]["event"]["effect"] = (
        "allow" if edited["record"]["event"]["effect"] == "deny" else "deny"
    )
    lines[4] = json.dumps(edited)
    export.write_text("\n".join(lines) + "\n")
    code, _, err = cli(capsys, monkeypatch, *args)
    assert code == 1
    assert "record 5 (line 5) was modified" in err


def test_offline_verify_needs_keys_and_checkpoints(
    data_dir: Path, tmp_path: Path, capsys, monkeypatch
) -> None:
    code, _, err = cli(capsys, monkeypatch, "verify", "--file", str(tmp_path / "x.jsonl"))
    assert code == 2
    assert "--checkpoints" in err


def test_verify_missing_store_is_usage_error(tmp_path: Path, capsys, monkeypatch) -> None:
    code, _, err = cli(capsys, monkeypatch, "verify", "--data-dir", str(tmp_path / "nothing"))
    assert code == 2
    assert "no audit log" in err


def test_query_filters(data_dir: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(
        capsys,
        monkeypatch,
        "query",
        "--data-dir",
        str(data_dir),
        "--agent",
        "agent-a",
        "--effect",
        "deny",
    )
    assert code == 0
    rows = [json.loads(line) for line in out.splitlines()]
    assert [r["record"]["seq"] for r in rows] == [4, 10]
    assert all(r["record"]["event"]["agent"] == "agent-a" for r in rows)
    code, out, _ = cli(
        capsys, monkeypatch, "query", "--data-dir", str(data_dir), "--type", "lifecycle"
    )
    assert [json.loads(line)["record"]["event"]["kind"] for line in out.splitlines()] == [
        "agent_suspended"
    ]
    code, out, _ = cli(
        capsys,
        monkeypatch,
        "query",
        "--data-dir",
        str(data_dir),
        "--since",
        "2000-01-01T00:00:00Z",
        "--until",
        "2000-01-02T00:00:00Z",
    )
    assert (code, out) == (0, "")


def test_bad_filters_are_usage_errors(data_dir: Path, capsys, monkeypatch) -> None:
    assert cli(capsys, monkeypatch, "query", "--data-dir", str(data_dir), "--since", "soon")[0] == 2
    assert (
        cli(capsys, monkeypatch, "query", "--data-dir", str(data_dir), "--effect", "maybe")[0] == 2
    )
    assert cli(capsys, monkeypatch, "query", "--data-dir", str(data_dir), "--format", "xml")[0] == 2


def test_tail_ocsf(data_dir: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(
        capsys, monkeypatch, "tail", "-n", "2", "--data-dir", str(data_dir), "--format", "ocsf"
    )
    assert code == 0
    events = [json.loads(line) for line in out.splitlines()]
    assert [e["metadata"]["sequence"] for e in events] == [10, 11]
    assert events[0]["class_uid"] == 6003


def test_prove_and_verify_proof(data_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(capsys, monkeypatch, "prove", "7", "--data-dir", str(data_dir))
    assert code == 0
    proof_file = tmp_path / "proof.json"
    proof_file.write_text(out)
    assert (
        cli(capsys, monkeypatch, "verify-proof", str(proof_file), "--data-dir", str(data_dir))[0]
        == 0
    )
    proof = json.loads(out)
    proof["record"]["event"]["agent"] = "someone-else"
    proof_file.write_text(json.dumps(proof))
    code, _, err = cli(
        capsys, monkeypatch, "verify-proof", str(proof_file), "--data-dir", str(data_dir)
    )
    assert code == 1
    assert "modified" in err


def test_checkpoint_command_and_listing(data_dir: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(capsys, monkeypatch, "checkpoint", "--data-dir", str(data_dir), "--json")
    assert code == 0
    assert json.loads(out)["seq"] == 11
    code, out, _ = cli(capsys, monkeypatch, "checkpoints", "--data-dir", str(data_dir))
    assert [json.loads(line)["seq"] for line in out.splitlines()][-1] == 11


def test_public_key_matches_data_dir(data_dir: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(capsys, monkeypatch, "public-key", "--data-dir", str(data_dir))
    assert code == 0
    assert out.encode() == (data_dir / "audit-signing.pub").read_bytes()


def test_ship_once_to_file_resumes(data_dir: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    out = tmp_path / "siem.jsonl"
    args = ["ship", f"file:{out}", "--once", "--format", "ocsf", "--data-dir", str(data_dir)]
    code, _, err = cli(capsys, monkeypatch, *args)
    assert code == 0
    assert "shipped 11 records; cursor at 11" in err
    code, _, err = cli(capsys, monkeypatch, *args)
    assert "shipped 0 records" in err
    classes = [json.loads(line)["class_uid"] for line in out.read_text().splitlines()]
    assert classes == [6003] * 11


def test_ship_rejects_unknown_sinks(data_dir: Path, capsys, monkeypatch) -> None:
    code, _, err = cli(
        capsys, monkeypatch, "ship", "ftp://x", "--once", "--data-dir", str(data_dir)
    )
    assert code == 2
    assert "unsupported sink `ftp://x`" in err


def test_rotate_key_keeps_old_checkpoints_verifiable(data_dir: Path, capsys, monkeypatch) -> None:
    old_key = (data_dir / "audit-signing.key").read_bytes()
    code, rotated, _ = cli(capsys, monkeypatch, "rotate-key", "--data-dir", str(data_dir))
    assert code == 0
    assert "rotated checkpoint key" in rotated
    assert (data_dir / "audit-signing.key").read_bytes() != old_key
    assert (data_dir / "audit-signing.key").stat().st_mode & 0o777 == 0o600
    log = open_log(data_dir, checkpoint_interval=None)
    log.record_lifecycle("agent_resumed", actor="ops", subject="agent-b")
    new_checkpoint = log.checkpoint()
    log.close()
    assert f"-> {new_checkpoint.key_id}" in rotated
    code, out, _ = cli(capsys, monkeypatch, "verify", "--data-dir", str(data_dir), "--json")
    assert code == 0, out
    report = json.loads(out)
    assert report["records"] == 13
    assert report["sealed_seq"] == 13
    code, out, _ = cli(
        capsys, monkeypatch, "query", "--data-dir", str(data_dir), "--kind", "key_rotated"
    )
    details = json.loads(out)["record"]["event"]["details"]
    assert details["new_public_key"].startswith("-----BEGIN PUBLIC KEY-----")
    # with only the new key, the old checkpoints no longer verify: the keyring matters
    code, _, err = cli(
        capsys, monkeypatch, "verify", "--data-dir", str(data_dir),
        "--public-key", str(data_dir / "audit-signing.pub"),
    )  # fmt: skip
    assert code == 1
    assert "unknown key" in err


def test_store_option_accepts_a_data_directory_and_env(data_dir: Path, capsys, monkeypatch) -> None:
    code, out, _ = cli(capsys, monkeypatch, "verify", "--store", str(data_dir), "--json")
    assert code == 0
    assert json.loads(out)["records"] == 11
    monkeypatch.setenv("ZTGATE_STORE", str(data_dir))
    code, out, _ = cli(capsys, monkeypatch, "query", "--type", "lifecycle")
    assert code == 0
    assert json.loads(out)["record"]["event"]["kind"] == "agent_suspended"
