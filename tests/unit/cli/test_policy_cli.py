"""The ``ztgate policy`` commands and their exit codes, run as a user would run them."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from contextlib import redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from unittest.mock import patch

from ztgate.cli.main import run

ROOT = Path(__file__).resolve().parents[3]
EXAMPLES = ROOT / "examples"


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def ztgate(*args: str) -> Result:
    """Run the CLI in process, exactly as the console script does, capturing its output."""
    out, err = io.StringIO(), io.StringIO()
    code: int | str | None = 0
    with redirect_stdout(out), redirect_stderr(err), patch.object(sys, "argv", ["ztgate", *args]):
        try:
            run()
        except SystemExit as done:
            code = done.code
    return Result(code if isinstance(code, int) else 1, out.getvalue(), err.getvalue())


def test_console_entry_point_runs() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "ztgate", "--version"],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0
    assert done.stdout.startswith("ztgate ")


def test_validate_ok_and_json() -> None:
    done = ztgate("policy", "validate", "--json", str(EXAMPLES / "finance" / "policy.yaml"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["valid"] is True
    assert report["files"][0]["version"].startswith("sha256:")


def test_validate_invalid_exits_1_with_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("version: 1\nagents:\n  a: {bluprint: x}\n")
    done = ztgate("policy", "validate", str(bad))
    assert done.returncode == 1
    assert "bad.yaml:3" in done.stdout
    assert "unknown key `bluprint`" in done.stdout
    as_json = json.loads(ztgate("policy", "validate", "--json", str(bad)).stdout)
    assert as_json["files"][0]["problems"][0]["line"] == 3


def test_policy_test_passes_and_fails(tmp_path: Path) -> None:
    ok = ztgate(
        "policy",
        "test",
        str(EXAMPLES / "coding" / "policy.yaml"),
        str(EXAMPLES / "coding" / "cases.yaml"),
    )
    assert ok.returncode == 0, ok.stdout + ok.stderr
    wrong = tmp_path / "cases.yaml"
    wrong.write_text(
        "cases:\n  - {agent: coder-1, tool: shell.exec, args: {cmd: ls}, expect: allow}\n"
    )
    failed = ztgate(
        "policy", "test", "--json", str(EXAMPLES / "coding" / "policy.yaml"), str(wrong)
    )
    assert failed.returncode == 1
    report = json.loads(failed.stdout)
    assert report["failed"] == 1
    assert "expected `allow`, got `deny`" in report["cases"][0]["problems"][0]


def test_policy_test_rejects_unknown_case_keys(tmp_path: Path) -> None:
    cases = tmp_path / "cases.yaml"
    cases.write_text("cases:\n  - {agent: a, tool: t, expect: deny, expected: allow}\n")
    done = ztgate("policy", "test", str(EXAMPLES / "coding" / "policy.yaml"), str(cases))
    assert done.returncode == 1
    assert "unknown key `expected`" in done.stderr


def test_explain_json() -> None:
    done = ztgate(
        "policy",
        "explain",
        str(EXAMPLES / "finance" / "policy.yaml"),
        "--agent",
        "fin-1",
        "--tool",
        "payment.send",
        "--args",
        '{"amount": "50", "currency": "EUR", "recipient": "globex"}',
        "--now",
        "2026-01-05T10:00:00Z",
        "--json",
    )
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["decision"]["effect"] == "deny"
    rule = next(
        c for c in result["candidates"] if c["rule_id"] == "finance-bot/pay-approved-vendors"
    )
    outcomes = {c["subject"]: c["outcome"] for c in rule["checks"]}
    assert outcomes["argument `amount` (integer)"] == "indeterminate"
    assert outcomes["argument `memo` (string)"] == "missing (optional)"


def test_usage_errors_exit_2(tmp_path: Path) -> None:
    assert ztgate("policy", "validate").returncode == 2
    bad_args = ztgate(
        "policy",
        "explain",
        str(EXAMPLES / "finance" / "policy.yaml"),
        "--agent",
        "a",
        "--tool",
        "t",
        "--args",
        "{nope",
    )
    assert bad_args.returncode == 2
    assert "must be JSON" in bad_args.stderr
    missing = ztgate("policy", "test", str(tmp_path / "none.yaml"), str(tmp_path / "none2.yaml"))
    assert missing.returncode == 2


def test_demo_runs_and_reports_every_effect() -> None:
    done = ztgate("demo", "--json")
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)
    effects = {r["effect"] for r in rows}
    assert effects == {"allow", "deny", "approval_required"}
    by_story = {r["story"]: r for r in rows}
    assert by_story["reads /etc/passwd by traversal"]["effect"] == "deny"
    assert by_story["fetches a decimal-encoded loopback"]["effect"] == "deny"
    assert by_story["pays past its daily cap"]["reason"] == "quota_exceeded"
