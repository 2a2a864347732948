"""Shared helpers for the gateway integration tests: the npm-installed reference servers,
configuration files, launching the gateway, and reading the audit log back."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from mcp.client.stdio import StdioServerParameters

from ztgate.audit.backends import open_backend, sqlite_url

REPO = Path(__file__).resolve().parents[3]
NPM_CACHE = REPO / ".cache" / "npm"
FIXTURES = REPO / "tests" / "fixtures" / "mcp_servers"
CHANGING_SERVER = FIXTURES / "changing_server.py"
# Pinned so a new release cannot change what the tests see; bump deliberately.
NPM_PACKAGES = {
    "filesystem": ("@modelcontextprotocol/server-filesystem", "2026.8.31"),
    "everything": ("@modelcontextprotocol/server-everything", "2026.8.31"),
}


def _entry(package: str) -> Path:
    return NPM_CACHE / "node_modules" / package / "dist" / "index.js"


def install_npm_servers() -> dict[str, Path]:
    """Install the reference servers once into ``.cache/npm`` (file-locked, cached)."""
    npm, node = shutil.which("npm"), shutil.which("node")
    if npm is None or node is None:
        pytest.skip("npm and node are needed to run the reference MCP servers; not found on PATH")
    NPM_CACHE.mkdir(parents=True, exist_ok=True)
    entries = {name: _entry(pkg) for name, (pkg, _) in NPM_PACKAGES.items()}
    with (NPM_CACHE / ".install.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        installed = NPM_CACHE / ".installed"
        wanted = json.dumps(sorted(NPM_PACKAGES.values()))
        if not (
            all(p.exists() for p in entries.values())
            and installed.exists()
            and installed.read_text() == wanted
        ):
            specs = [f"{pkg}@{version}" for pkg, version in NPM_PACKAGES.values()]
            subprocess.run(
                [
                    npm,
                    "install",
                    "--no-audit",
                    "--no-fund",
                    "--no-save",
                    "--prefix",
                    str(NPM_CACHE),
                    *specs,
                ],
                check=True,
                capture_output=True,
                timeout=600,
            )
            installed.write_text(wanted)
    return entries


@dataclass
class Setup:
    """A policy + gateway configuration in a temporary directory."""

    root: Path
    config: Path
    data_dir: Path

    def audit_events(self) -> list[dict[str, Any]]:
        backend = open_backend(sqlite_url(self.data_dir / "audit.db"))
        try:
            return [json.loads(r.record) for r in backend.records()]
        finally:
            backend.close()

    def decisions(self, tool: str | None = None) -> list[dict[str, Any]]:
        out = []
        for record in self.audit_events():
            event = record.get("event", record)
            is_decision = record.get("type", event.get("type")) == "decision" or "effect" in event
            if is_decision and (tool is None or event.get("tool") == tool):
                out.append(event)
        return out


def write_setup(root: Path, policy: str, *, upstreams: str = "", extra: str = "") -> Setup:
    root.mkdir(parents=True, exist_ok=True)
    (root / "policy.yaml").write_text(textwrap.dedent(policy))
    data_dir = root / "data"
    config = root / "gateway.yaml"
    config.write_text(
        "version: 1\npolicy: policy.yaml\ndata_dir: data\n"
        + textwrap.dedent(extra)
        + (
            ("upstreams:\n" + textwrap.indent(textwrap.dedent(upstreams), "  "))
            if upstreams
            else ""
        )
    )
    return Setup(root, config, data_dir)


def gateway_params(
    setup: Setup,
    agent: str,
    *,
    server: str | None = None,
    command: list[str] | None = None,
    upstream: str | None = None,
) -> StdioServerParameters:
    """How an MCP client launches the gateway instead of the server."""
    args = ["-m", "ztgate", "gateway", "--config", str(setup.config), "--agent", agent]
    if upstream is not None:
        args += ["--upstream", upstream]
    if server is not None:
        args += ["--server", server]
    if command is not None:
        args += ["--", *command]
    env = {"PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    return StdioServerParameters(command=sys.executable, args=args, env=env, cwd=str(setup.root))


def text_of(result: Any) -> str:
    return "\n".join(getattr(c, "text", "") for c in result.content)
