"""Gateway configuration files are loaded as strictly as policies (known-answer vectors)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ztgate.errors import ConfigError
from ztgate.gateway.config import load_config, parse_config

CASES = json.loads(
    (Path(__file__).parents[2] / "vectors" / "gateway" / "config_cases.json").read_text()
)["cases"]
EXAMPLE = Path(__file__).parents[3] / "examples" / "gateway" / "gateway.yaml"


@pytest.mark.parametrize("case", CASES, ids=[c["name"] for c in CASES])
def test_config_vectors(case: dict[str, Any], tmp_path: Path) -> None:
    if case["valid"]:
        config = parse_config(case["text"], "gw.yaml", base=tmp_path)
        assert config.policy == tmp_path / "p.yaml"
        return
    with pytest.raises(ConfigError) as caught:
        parse_config(case["text"], "gw.yaml", base=tmp_path)
    problems = caught.value.problems
    assert any(case["message"] in p.message for p in problems), [p.message for p in problems]
    if case["line"] is not None:
        assert any(p.location.line == case["line"] for p in problems), [str(p) for p in problems]
    assert all(p.location.file == "gw.yaml" for p in problems)


def test_full_config_resolves_paths_and_upstreams(tmp_path: Path) -> None:
    full = next(c for c in CASES if c["name"] == "full")
    config = parse_config(full["text"], "gw.yaml", base=tmp_path)
    assert config.data_dir == tmp_path / "d"
    assert config.pin_path == tmp_path / "d" / "pins.db"
    assert config.trust_on_first_use is False
    assert config.identity.store == str(tmp_path / "ids")
    assert config.identity.required_scopes == ("mcp",)
    assert config.scanning.arguments is False
    fs, remote = config.upstreams
    assert (fs.transport, fs.command, fs.args) == (
        "stdio",
        "npx",
        ("-y", "@modelcontextprotocol/server-filesystem", "/srv"),
    )
    assert (remote.transport, remote.headers_from_env) == (
        "http",
        {"Authorization": "REMOTE_TOKEN"},
    )
    assert config.upstream("remote") is remote


def test_defaults_are_safe(tmp_path: Path) -> None:
    config = parse_config("version: 1\npolicy: p.yaml\n", "gw.yaml", base=tmp_path)
    assert config.audit_enabled is True
    assert (config.scanning.descriptions, config.scanning.outputs, config.scanning.arguments) == (
        True,
        True,
        True,
    )
    assert config.identity.check_agent_status is True
    assert config.http_host == "127.0.0.1"


def test_shipped_example_is_valid() -> None:
    config = load_config(EXAMPLE)
    assert config.policy.exists()
    assert {u.name for u in config.upstreams} >= {"filesystem"}
