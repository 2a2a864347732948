"""The `ztgate gateway` commands as an operator runs them: `check`, `serve`, usage errors."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from tests.integration.gateway.support import write_setup
from ztgate.cli.main import app

POLICY = "version: 1\nagents: {}\n"


def _ztgate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "ztgate", "gateway", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=60,
    )


def test_check_reports_problems_with_file_and_line_and_exit_codes(tmp_path: Path) -> None:
    setup = write_setup(tmp_path, POLICY, extra="upstream: []\n")
    bad = _ztgate("check", "--config", str(setup.config), cwd=tmp_path)
    assert bad.returncode == 1
    assert f"{setup.config}:4" in bad.stderr
    assert "unknown key `upstream`" in bad.stderr
    good = write_setup(tmp_path / "ok", POLICY)
    ok = CliRunner().invoke(app, ["gateway", "check", "--config", str(good.config), "--json"])
    assert ok.exit_code == 0, ok.output
    assert '"valid": true' in ok.stdout
    usage = _ztgate("--config", str(good.config), cwd=tmp_path)  # no agent, no command
    assert usage.returncode == 2
    assert "needs `--config`, `--agent`" in usage.stderr


def test_serve_publishes_metadata_and_challenges(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    setup = write_setup(
        tmp_path,
        POLICY,
        upstreams='- {name: local, command: "true"}\n',
        extra=f'identity: {{store: ids, issuer: "https://auth.example"}}\nhttp: {{port: {port}}}\n',
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "ztgate", "gateway", "serve", "--config", str(setup.config)],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                prm = httpx.get(base + "/.well-known/oauth-protected-resource", timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None, process.stderr.read() if process.stderr else ""
                assert time.monotonic() < deadline, "the gateway did not start"
                time.sleep(0.2)
        assert prm.json()["resource"] == base + "/mcp"
        assert prm.json()["authorization_servers"] == ["https://auth.example"]
        denied = httpx.post(base + "/mcp/local", json={}, timeout=5)
        assert denied.status_code == 401
        assert "resource_metadata=" in denied.headers["www-authenticate"]
    finally:
        process.terminate()
        process.communicate(timeout=20)
