"""The stdio gateway in front of reference MCP servers nobody here wrote (from npm),
driven by the official ``mcp`` Python client."""

from __future__ import annotations

from pathlib import Path

import anyio
from mcp import ClientSession
from mcp.client.stdio import stdio_client

from tests.integration.gateway.support import Setup, gateway_params, text_of, write_setup

FS_POLICY = """\
version: 1
blueprints:
  reader:
    permissions:
      base:
        - id: read-root
          tools: [read_text_file, list_directory]
          servers: [filesystem]
          args:
            path: {{type: path, under: [{root}]}}
        - id: list-roots
          tools: [list_allowed_directories]
          servers: [filesystem]
        - id: write-drafts
          tools: [write_file]
          servers: [filesystem]
          args:
            path: {{type: path, under: [{root}/drafts]}}
agents:
  reader-1: {{blueprint: reader}}
"""


def _fs_setup(tmp_path: Path) -> tuple[Setup, Path, Path]:
    root = (tmp_path / "root").resolve()
    (root / "drafts").mkdir(parents=True)
    (root / "hello.txt").write_text("hello from inside\n")
    outside = tmp_path / "outside.txt"
    outside.write_text("top secret\n")
    return write_setup(tmp_path / "gw", FS_POLICY.format(root=root)), root, outside


def test_filesystem_reads_inside_root_writes_and_outside_denied_and_audited(
    tmp_path: Path, npm_servers: dict[str, Path]
) -> None:
    setup, root, outside = _fs_setup(tmp_path)
    command = ["node", str(npm_servers["filesystem"]), str(root)]
    params = gateway_params(setup, "reader-1", server="filesystem", command=command)

    async def scenario() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            names = {t.name for t in (await session.list_tools()).tools}
            # Only tools some rule could allow are listed; the rest of the server is hidden.
            assert names == {
                "read_text_file",
                "list_directory",
                "list_allowed_directories",
                "write_file",
            }

            ok = await session.call_tool("read_text_file", {"path": str(root / "hello.txt")})
            assert not ok.is_error
            assert "hello from inside" in text_of(ok)

            outside_read = await session.call_tool("read_text_file", {"path": str(outside)})
            assert outside_read.is_error
            assert text_of(outside_read) == "ztgate: call denied (constraint_failed)"
            assert "top secret" not in text_of(outside_read)

            traversal = await session.call_tool(
                "read_text_file", {"path": f"{root}/drafts/../../outside.txt"}
            )
            assert traversal.is_error
            assert "denied" in text_of(traversal)

            write = await session.call_tool(
                "write_file", {"path": str(root / "created.txt"), "content": "x"}
            )
            assert write.is_error
            assert "denied" in text_of(write)

            hidden = await session.call_tool("move_file", {"source": "a", "destination": "b"})
            assert hidden.is_error
            assert "denied" in text_of(hidden)

            allowed_write = await session.call_tool(
                "write_file", {"path": str(root / "drafts" / "ok.txt"), "content": "draft"}
            )
            assert not allowed_write.is_error, text_of(allowed_write)

    anyio.run(scenario)
    assert not (root / "created.txt").exists()
    assert (root / "drafts" / "ok.txt").read_text() == "draft"

    # Tool-call decisions (output scans are recorded as `tools/call:<tool>` events).
    decisions = [d for d in setup.decisions() if ":" not in d["tool"]]
    by_tool = [(d["tool"], d["effect"]) for d in decisions]
    assert ("read_text_file", "allow") in by_tool
    assert ("write_file", "deny") in by_tool
    assert ("move_file", "deny") in by_tool
    denied_read = [d for d in decisions if d["tool"] == "read_text_file" and d["effect"] == "deny"]
    assert len(denied_read) == 2
    assert all(d["server"] == "filesystem" and d["agent"] == "reader-1" for d in decisions)
    assert any(r["code"] == "constraint_failed" for d in denied_read for r in d["reasons"])


EVERYTHING_POLICY = """\
version: 1
blueprints:
  tester:
    permissions:
      base:
        - id: demo-tools
          tools: [echo, get-sum, trigger-long-running-operation]
          servers: [everything]
agents:
  tester-1: {blueprint: tester}
"""


def test_everything_notifications_progress_resources_prompts_and_cancellation_pass_through(
    tmp_path: Path, npm_servers: dict[str, Path]
) -> None:
    setup = write_setup(tmp_path / "gw", EVERYTHING_POLICY)
    command = ["node", str(npm_servers["everything"]), "stdio"]
    params = gateway_params(setup, "tester-1", server="everything", command=command)
    progress: list[tuple[float, float | None]] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append((done, total))

    async def scenario() -> None:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            init = await session.initialize()
            assert init.server_info.name  # the upstream's own handshake came through
            names = {t.name for t in (await session.list_tools()).tools}
            assert names == {"echo", "get-sum", "trigger-long-running-operation"}

            echoed = await session.call_tool("echo", {"message": "hi there"})
            assert "hi there" in text_of(echoed)

            long_run = await session.call_tool(
                "trigger-long-running-operation",
                {"duration": 0.3, "steps": 3},
                progress_callback=on_progress,
            )
            assert not long_run.is_error
            assert [p[0] for p in progress] == [1, 2, 3]

            resources = await session.list_resources()
            assert resources.resources
            first = resources.resources[0]
            contents = await session.read_resource(first.uri)
            assert contents.contents

            prompts = await session.list_prompts()
            assert "simple-prompt" in {p.name for p in prompts.prompts}
            prompt = await session.get_prompt("simple-prompt")
            assert prompt.messages

            # Cancelling a call in flight forwards the cancellation; the session goes on.
            with anyio.move_on_after(0.3):
                await session.call_tool(
                    "trigger-long-running-operation", {"duration": 5, "steps": 5}
                )
            after = await session.call_tool("get-sum", {"a": 2, "b": 3})
            assert "5" in text_of(after)

    anyio.run(scenario)
    assert {d["tool"] for d in setup.decisions()} >= {"echo", "trigger-long-running-operation"}
