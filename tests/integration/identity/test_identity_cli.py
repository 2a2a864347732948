"""The identity commands end to end through the real entry point (``ztgate.cli.main.run``)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from ztgate.cli.main import run


def ztgate(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["ztgate", *args])
    code = 0
    try:
        run()
    except SystemExit as done:
        code = int(done.code or 0)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path):  # type: ignore[no-untyped-def]
    data = str(tmp_path / "zt")

    def call(*args: str) -> tuple[int, str, str]:
        return ztgate(capsys, monkeypatch, *args, "--data-dir", data)

    return call


def test_agent_lifecycle_commands(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    key = ed25519.Ed25519PrivateKey.generate()
    pem = tmp_path / "bot.pub.pem"
    pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    code, out, _ = cli("blueprint", "create", "base", "--permission", "tickets.read", "--json")
    assert code == 0
    assert json.loads(out)["permissions"] == ["tickets.read"]
    code, out, _ = cli(
        "blueprint",
        "create",
        "support",
        "--parent",
        "base",
        "--permission",
        "tickets.write",
        "--json",
    )
    assert code == 0
    code, out, _ = cli("blueprint", "show", "support", "--json")
    assert json.loads(out)["resolved"]["permissions"] == ["tickets.read", "tickets.write"]
    code, out, _ = cli("blueprint", "list", "--json")
    assert [b["id"] for b in json.loads(out)] == ["base", "support"]

    code, out, _ = cli(
        "agent",
        "create",
        "triage-bot",
        "--owner",
        "alice",
        "--sponsor",
        "bob",
        "--blueprint",
        "support",
        "--tag",
        "prod",
        "--expires",
        "30d",
        "--public-key",
        str(pem),
        "--json",
    )
    created = json.loads(out)
    assert code == 0
    assert created["status"] == "active"
    assert created["sponsors"] == ["bob"]
    assert len(created["keys"]) == 1

    code, out, _ = cli("agent", "suspend", "triage-bot", "--reason", "incident 7", "--json")
    assert code == 0
    assert json.loads(out)["status"] == "suspended"
    code, _, err = cli("token", "issue", "triage-bot")
    assert code == 2
    assert "agent_suspended" in err
    code, out, _ = cli("agent", "resume", "triage-bot", "--json")
    assert json.loads(out)["status"] == "active"
    code, out, _ = cli("agent", "attest", "triage-bot", "--json")
    assert json.loads(out)["last_attested_at"] is not None

    code, out, _ = cli("token", "issue", "triage-bot", "--scope", "tickets.read", "--json")
    assert code == 0
    issued = json.loads(out)
    claims = jwt.decode(issued["access_token"], options={"verify_signature": False})
    assert claims["sub"] == "triage-bot"
    assert claims["scope"] == "tickets.read"
    code, _, err = cli("token", "issue", "triage-bot", "--scope", "admin")
    assert code == 2
    assert "may not have scopes" in err

    code, out, _ = cli("agent", "show", "triage-bot", "--json")
    shown = json.loads(out)
    assert [e["kind"] for e in shown["events"]] == [
        "agent_created",
        "agent_updated",
        "agent_suspended",
        "agent_resumed",
        "agent_updated",
    ]
    assert shown["events"][2]["reason"] == "incident 7"
    code, out, _ = cli("agent", "list", "--status", "active", "--json")
    assert [a["id"] for a in json.loads(out)] == ["triage-bot"]
    code, out, _ = cli("agent", "decommission", "triage-bot", "--json")
    assert json.loads(out)["status"] == "decommissioned"
    code, out, _ = cli("agent", "show", "triage-bot", "--json")
    assert all(not k["active"] for k in json.loads(out)["keys"])


def test_usage_errors_exit_2(cli) -> None:  # type: ignore[no-untyped-def]
    code, _, err = cli("agent", "create", "x", "--owner", "alice")
    assert code == 2
    assert "at least one sponsor" in err
    code, _, err = cli("agent", "show", "ghost")
    assert code == 2
    assert "unknown agent `ghost`" in err
    code, _, err = cli("agent", "list", "--status", "sleepy")
    assert code == 2


def test_key_commands(cli, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli("key", "rotate", "--json")
    first = json.loads(out)["kid"]
    code, out, _ = cli("key", "rotate", "--alg", "ES256", "--json")
    second = json.loads(out)
    assert second["alg"] == "ES256"
    assert second["kid"] != first
    code, out, _ = cli("key", "list", "--json")
    listed = {k["kid"]: k for k in json.loads(out)}
    assert listed[first]["retired_at"] is not None
    assert listed[second["kid"]]["retired_at"] is None

    cli("agent", "create", "bot", "--owner", "a", "--sponsor", "b")
    jwk_file = tmp_path / "k.json"
    from ztgate.identity._jose import public_jwk

    jwk_file.write_text(
        json.dumps({**public_jwk(ed25519.Ed25519PrivateKey.generate().public_key()), "kid": "k2"})
    )
    code, out, _ = cli("key", "add", "bot", str(jwk_file), "--json")
    assert code == 0
    assert json.loads(out)["kid"] == "k2"
    code, out, _ = cli("key", "revoke", "bot", "k2", "--json")
    assert code == 0
    assert json.loads(out)["revoked"] is True
    code, _, err = cli("key", "revoke", "bot", "k2")
    assert code == 2
    assert "no active key" in err
    code, out, _ = cli("token", "revoke", "some-jti", "--json")
    assert code == 0
    assert json.loads(out) == {"jti": "some-jti", "revoked": True}


def test_federation_commands(cli) -> None:  # type: ignore[no-untyped-def]
    code, out, _ = cli(
        "key", "trust-issuer", "https://token.actions.example", "--audience", "ztgate", "--json"
    )
    assert code == 0
    assert json.loads(out)["kind"] == "workload"
    code, _, err = cli("key", "trust-issuer", "http://idp.example.com", "--audience", "x")
    assert code == 2
    assert "https" in err
    cli("agent", "create", "ci-bot", "--owner", "a", "--sponsor", "b")
    code, out, _ = cli(
        "key",
        "map-subject",
        "https://token.actions.example",
        "repo:org/app:ref:main",
        "ci-bot",
        "--json",
    )
    assert code == 0
    assert json.loads(out)["agent"] == "ci-bot"
    code, _, err = cli("key", "map-subject", "https://other.example", "s", "ci-bot")
    assert code == 2
    assert "not a trusted workload issuer" in err
