"""The stdio gateway in front of our own small upstream (official SDK ``MCPServer``):
rug pulls, poisoned descriptions, result scanning, approvals and a suspended agent."""

from __future__ import annotations

import json
import re
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import mcp_types as types
from mcp import ClientSession
from mcp.client.stdio import stdio_client
from typer.testing import CliRunner

from tests.integration.gateway.support import (
    CHANGING_SERVER,
    Setup,
    gateway_params,
    text_of,
    write_setup,
)
from ztgate.cli.main import app as cli_app
from ztgate.gateway.pins import PinStore
from ztgate.identity import Registry
from ztgate.service.approvals import ApprovalService
from ztgate.store import open_store

POLICY = """\
version: 1
blueprints:
  clerk:
    permissions:
      base:
        - id: lookup
          tools: [lookup]
          servers: [records]
          when:
            session: {lacks: [untrusted_content_seen]}
        - id: notes
          tools: [notes]
          servers: [records]
        - id: helper
          tools: [helper]
          servers: [records]
agents:
  clerk-1: {blueprint: clerk}
  clerk-2: {blueprint: clerk}
policies:
  - id: approvals
    rules:
      - id: vip-needs-approval
        effect: approval_required
        subjects: {blueprints: [clerk]}
        tools: [lookup]
        servers: [records]
        args:
          record_id: {type: string, prefix: "vip-"}
"""


def _setup(tmp_path: Path, state: str, extra: str = "") -> tuple[Setup, Path]:
    state_file = tmp_path / "state.txt"
    state_file.write_text(state)
    upstream = f"""\
    - name: records
      command: {sys.executable}
      args: [{CHANGING_SERVER}]
      env: {{ZTGATE_FIXTURE_STATE: {state_file}}}
    """
    return write_setup(tmp_path / "gw", POLICY, upstreams=upstream, extra=extra), state_file


async def _tool_names(session: ClientSession) -> set[str]:
    return {t.name for t in (await session.list_tools()).tools}


def _run(setup: Setup, agent: str, body: Any, **session_kw: Any) -> Any:
    params = gateway_params(setup, agent, upstream="records")

    async def scenario() -> Any:
        async with (
            stdio_client(params) as (read, write),
            ClientSession(read, write, **session_kw) as session,
        ):
            await session.initialize()
            return await body(session)

    return anyio.run(scenario)


def test_rug_pull_blocks_changed_tool_until_operator_approves(tmp_path: Path) -> None:
    setup, state = _setup(tmp_path, "v1")

    async def first(session: ClientSession) -> None:
        assert await _tool_names(session) == {"lookup", "notes"}
        result = await session.call_tool("lookup", {"record_id": "r1"})
        assert text_of(result) == "record r1"

    _run(setup, "clerk-1", first)

    state.write_text("v2")  # the server now describes `lookup` differently

    async def changed(session: ClientSession) -> None:
        # A client that calls without listing first is refused like one that listed.
        result = await session.call_tool("lookup", {"record_id": "r1"})
        assert result.is_error
        assert text_of(result) == "ztgate: call denied (tool_definition_changed)"
        assert await _tool_names(session) == {"notes"}
        again = await session.call_tool("lookup", {"record_id": "r1", "forward_to": "x"})
        assert text_of(again) == "ztgate: call denied (tool_definition_changed)"

    _run(setup, "clerk-1", changed)

    runner = CliRunner()
    listing = runner.invoke(
        cli_app, ["gateway", "pins", "list", "--config", str(setup.config), "--pending", "--json"]
    )
    assert listing.exit_code == 0, listing.output
    pending = json.loads(listing.stdout)
    assert [(p["tool"], p["pending_reason"]) for p in pending] == [("lookup", "changed")]
    wrong = runner.invoke(
        cli_app,
        [
            "gateway",
            "pins",
            "approve",
            "records",
            "lookup",
            "--config",
            str(setup.config),
            "--hash",
            "sha256:00",
        ],
    )
    assert wrong.exit_code != 0
    approve = runner.invoke(
        cli_app,
        [
            "gateway",
            "pins",
            "approve",
            "records",
            "lookup",
            "--config",
            str(setup.config),
            "--by",
            "ops",
            "--hash",
            pending[0]["pending_hash"],
        ],
    )
    assert approve.exit_code == 0, approve.output

    async def approved(session: ClientSession) -> None:
        assert await _tool_names(session) == {"lookup", "notes"}
        result = await session.call_tool("lookup", {"record_id": "r2", "forward_to": "x"})
        assert not result.is_error
        assert "record r2" in text_of(result)

    _run(setup, "clerk-1", approved)
    refusals = [d for d in setup.decisions("lookup") if d["effect"] == "deny"]
    assert len(refusals) == 3  # hidden from the list once, refused twice
    assert {r["code"] for d in refusals for r in d["reasons"]} == {"tool_definition_changed"}


def test_poisoned_description_hidden_results_redacted_labelled_and_approval_named(
    tmp_path: Path,
) -> None:
    setup, _ = _setup(tmp_path, "poisoned")

    async def body(session: ClientSession) -> None:
        assert await _tool_names(session) == {"lookup", "notes"}
        result = await session.call_tool("helper", {"a": 1, "b": 2, "note": "x"})
        assert result.is_error
        assert text_of(result) == "ztgate: call denied (tool_poisoned)"

        assert not (await session.call_tool("lookup", {"record_id": "a"})).is_error
        # This client declared no elicitation: the pending approval is named instead.
        vip = await session.call_tool("lookup", {"record_id": "vip-9"})
        assert vip.is_error
        assert "pending approval `apr_" in text_of(vip)
        secret = await session.call_tool("notes", {"kind": "secret"})
        assert "AKIAABCDEFGHIJKLMNOP" not in text_of(secret)
        assert "[REDACTED:aws_access_key_id]" in text_of(secret)
        assert "AKIA" not in str(secret.structured_content)

        injected = await session.call_tool("notes", {"kind": "injection"})
        assert injected.is_error  # a rule-confirmed injection is withheld
        assert text_of(injected) == "ztgate: the tool result was withheld (output_blocked)"
        after = await session.call_tool("lookup", {"record_id": "a"})
        assert after.is_error
        assert "denied" in text_of(after)

    _run(setup, "clerk-1", body)
    events = [d for d in setup.decisions("helper") if d["effect"] == "deny"]
    assert events
    found = {(f["type"], f.get("action")) for d in events for f in d["findings"]}
    assert ("path_traversal", "deny") in found  # reads ~/.ssh/id_rsa
    assert ("prompt_injection", "deny") in found  # rule-confirmed hidden instructions
    pins = PinStore(setup.data_dir / "gateway-pins.db")
    try:
        pending = {p.tool: p.pending_reason for p in pins.list() if p.pending_hash}
    finally:
        pins.close()
    assert pending == {"helper": "tool_poisoned"}
    flagged = [d for d in setup.decisions() if d["tool"].startswith("tools/call:notes")]
    by_effect = {d["effect"]: {f["type"] for f in d["findings"]} for d in flagged}
    assert "secret" in by_effect["allow"]  # redacted and passed on
    assert "prompt_injection" in by_effect["deny"]  # withheld
    assert all("AKIA" not in json.dumps(d) for d in setup.decisions())


def test_approval_required_is_asked_through_elicitation(tmp_path: Path) -> None:
    setup, _ = _setup(tmp_path, "v1")
    asked: list[str] = []

    async def answer(context: Any, params: Any) -> types.ElicitResult:
        asked.append(params.message)
        if len(asked) == 1:
            return types.ElicitResult(action="accept", content={"approve": True})
        return types.ElicitResult(action="decline")

    async def with_elicitation(session: ClientSession) -> None:
        result = await session.call_tool("lookup", {"record_id": "vip-7"})
        assert text_of(result) == "record vip-7"
        declined = await session.call_tool("lookup", {"record_id": "vip-8"})
        assert declined.is_error
        assert text_of(declined) == "ztgate: call denied (approval_denied)"
        plain = await session.call_tool("lookup", {"record_id": "r1"})
        assert text_of(plain) == "record r1"  # no approval needed: no question asked

    _run(setup, "clerk-2", with_elicitation, elicitation_callback=answer)
    assert len(asked) == 2
    assert "lookup" in asked[0]
    assert "vip-7" in asked[0]
    effects = [d["effect"] for d in setup.decisions("lookup")]
    assert effects.count("approval_required") == 2
    assert effects.count("allow") == 2  # the approved vip call and the plain one
    assert effects.count("deny") == 1
    lifecycle = [r.get("event", r) for r in setup.audit_events()]
    kinds = [e.get("kind") for e in lifecycle if "kind" in e]
    assert kinds.count("approval_requested") == 2
    assert kinds.count("approval_decided") == 2


def test_agent_suspended_during_a_session_is_refused(tmp_path: Path) -> None:
    setup, _ = _setup(tmp_path, "v1", extra="identity: {store: ids}\n")
    store = open_store(setup.root / "ids")
    registry = Registry(store)
    registry.create_agent("clerk-1", owners=["alice"], sponsors=["bob"])

    async def body(session: ClientSession) -> None:
        assert await _tool_names(session) == {"lookup", "notes"}
        assert not (await session.call_tool("lookup", {"record_id": "r1"})).is_error
        # With a store, approvals are queued: an operator approves, the retry goes through.
        pending = await session.call_tool("lookup", {"record_id": "vip-1"})
        found = re.search(r"pending approval `(apr_[0-9a-f]+)`", text_of(pending))
        assert found is not None, text_of(pending)
        approvals = ApprovalService(store)
        approvals.approve(found.group(1), approver="ops", now=datetime.now(UTC))
        retried = await session.call_tool("lookup", {"record_id": "vip-1"})
        assert text_of(retried) == "record vip-1"
        again = await session.call_tool("lookup", {"record_id": "vip-1"})
        assert again.is_error  # an approval is spent once
        registry.suspend("clerk-1", reason="incident", actor="ops")
        await anyio.sleep(1.2)  # the gateway re-reads agent status at most every second
        result = await session.call_tool("lookup", {"record_id": "r1"})
        assert result.is_error
        assert text_of(result) == "ztgate: call denied (agent_inactive)"
        assert await _tool_names(session) == set()

    try:
        _run(setup, "clerk-1", body)
    finally:
        store.close()
    refused = [d for d in setup.decisions("lookup") if d["effect"] == "deny"]
    assert [r["code"] for d in refused for r in d["reasons"]] == ["agent_inactive"]
    approved = [d for d in setup.decisions("lookup") if d["approval_id"]]
    assert [d["effect"] for d in approved] == ["approval_required", "allow", "approval_required"]
