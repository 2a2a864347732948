"""Line framing over raw bytes, the POSIX fd reader/writer, and the relay over raw line
channels: a line is decoded once, malformed lines never reach the other side, and what
the upstream receives is the message that was judged."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import anyio
import pytest

from ztgate.gateway import jsonrpc
from ztgate.gateway.authorizer import Caller, GateAuthorizer
from ztgate.gateway.channels import LineChannel
from ztgate.gateway.jsonrpc import Message, MessageError
from ztgate.gateway.pins import PinStore
from ztgate.gateway.relay import Relay
from ztgate.service.gate import Gate

posix_only = pytest.mark.skipif(sys.platform == "win32", reason="raw pipes are POSIX-only")


def _chunks(parts: Iterable[bytes]) -> Any:
    pending = list(parts)

    async def receive() -> bytes:
        if not pending:
            raise anyio.EndOfStream
        return pending.pop(0)

    return receive


async def _nowhere(data: bytes) -> None:
    raise AssertionError("nothing is sent in this test")


def _collect(channel: LineChannel) -> list[Message | Exception]:
    async def main() -> list[Message | Exception]:
        return [item async for item in channel.messages()]

    return anyio.run(main)


def test_lines_split_across_and_within_chunks() -> None:
    ping = b'{"jsonrpc":"2.0","id":1,"method":"ping"}'
    note = b'{"jsonrpc":"2.0","method":"n"}'
    chunks = [ping[:10], ping[10:] + b"\n" + note[:5], note[5:] + b"\r\n\n   \n", b'{"partial"']
    items = _collect(LineChannel(_chunks(chunks), _nowhere))
    assert items == [jsonrpc.request(1, "ping"), {"jsonrpc": "2.0", "method": "n"}]


def test_malformed_lines_are_reported_and_the_stream_goes_on() -> None:
    chunks = [
        b'not json\n{"jsonrpc":"2.0","id":true,"method":"x"}\n',
        b'{"jsonrpc":"2.0","id":2,"method":"ping"}\n',
    ]
    items = _collect(LineChannel(_chunks(chunks), _nowhere))
    assert [type(i) for i in items] == [MessageError, MessageError, dict]
    assert items[2] == jsonrpc.request(2, "ping")


def test_an_oversized_line_is_skipped_up_to_its_newline() -> None:
    big = b'{"jsonrpc":"2.0","id":1,"method":"' + b"x" * 100 + b'"}'
    chunks = [big[:60], big[60:120], big[120:] + b'\n{"jsonrpc":"2.0","id":2,"method":"ping"}\n']
    items = _collect(LineChannel(_chunks(chunks), _nowhere, max_line=64))
    assert len(items) == 2
    assert isinstance(items[0], MessageError)
    assert items[1] == jsonrpc.request(2, "ping")


def test_a_closed_channel_refuses_to_send() -> None:
    sent: list[bytes] = []

    async def record(data: bytes) -> None:
        sent.append(data)

    async def main() -> None:
        channel = LineChannel(_chunks([]), record)
        await channel.send(jsonrpc.request(1, "ping"))
        await channel.aclose()
        with pytest.raises(anyio.ClosedResourceError):
            await channel.send(jsonrpc.request(2, "ping"))

    anyio.run(main)
    assert sent == [b'{"jsonrpc":"2.0","id":1,"method":"ping"}\n']


@posix_only
def test_fd_writer_and_reader_carry_a_message_larger_than_the_pipe_buffer() -> None:
    from ztgate.gateway.pipes import FdReader, FdWriter

    read_fd, write_fd = os.pipe()
    text = "y" * 300_000  # several times a pipe's buffer: partial writes and waits
    received: list[Message | Exception] = []

    async def main() -> None:
        writer, reader = FdWriter(write_fd), FdReader(read_fd)
        assert writer.polled
        assert reader.polled

        async def produce() -> None:
            channel = LineChannel(_chunks([]), writer.send)
            await channel.send(jsonrpc.response(1, {"text": text}))
            await channel.send(jsonrpc.request(2, "ping"))
            os.close(write_fd)

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            async for item in LineChannel(reader.receive, _nowhere).messages():
                received.append(item)

    try:
        anyio.run(main)
    finally:
        os.close(read_fd)
    assert received == [jsonrpc.response(1, {"text": text}), jsonrpc.request(2, "ping")]


@posix_only
def test_fd_writer_reports_a_closed_reader_as_broken() -> None:
    from ztgate.gateway.pipes import FdWriter

    read_fd, write_fd = os.pipe()
    os.close(read_fd)

    async def main() -> None:
        with pytest.raises(anyio.BrokenResourceError):
            await FdWriter(write_fd).send(b"{}\n")

    try:
        anyio.run(main)
    finally:
        os.close(write_fd)


POLICY = """
version: 1
blueprints:
  b:
    permissions:
      base:
        - {id: t, tools: [t1], servers: [up]}
agents:
  a-1: {blueprint: b}
"""
TOOLS = [
    {"name": n, "description": f"Tool {n}.", "inputSchema": {"type": "object"}}
    for n in ("t1", "t2")
]


def test_relay_over_line_channels_forwards_only_what_it_judged(tmp_path: Path) -> None:
    """Malformed client lines are dropped; a duplicated key reaches the upstream as the
    value that was decided on; a denied call never reaches it."""
    authorizer = GateAuthorizer(Gate.from_text(POLICY, "p.yaml"))
    pins = PinStore(tmp_path / "pins.db")
    relay = Relay(server="up", caller=Caller("a-1", "s"), authorizer=authorizer, pins=pins)
    to_upstream: list[bytes] = []
    to_client: list[bytes] = []

    async def main() -> None:
        client_w, client_r = anyio.create_memory_object_stream[bytes](10)
        up_w, up_r = anyio.create_memory_object_stream[bytes](10)
        answered = anyio.Event()

        async def upstream_send(data: bytes) -> None:
            to_upstream.append(data)
            message = jsonrpc.decode(data)
            if message.get("method") == "tools/list":
                await up_w.send(jsonrpc.encode(jsonrpc.response(message["id"], {"tools": TOOLS})))
            elif message.get("method") == "tools/call":
                result = {"content": [{"type": "text", "text": "ran " + message["params"]["name"]}]}
                await up_w.send(jsonrpc.encode(jsonrpc.response(message["id"], result)))

        async def client_send(data: bytes) -> None:
            to_client.append(data)
            if len(to_client) == 3:
                answered.set()

        down = LineChannel(client_r.receive, client_send)
        up = LineChannel(up_r.receive, upstream_send)
        async with anyio.create_task_group() as tg:
            tg.start_soon(relay.serve, down, up)
            await client_w.send(b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}\n')
            await client_w.send(b"this is not json\n")
            await client_w.send(b'{"jsonrpc":"2.0","id":true,"method":"tools/call"}\n')
            # The last `name` wins and is what the upstream sees: t2, which is denied.
            await client_w.send(
                b'{"jsonrpc":"2.0","id":2,"method":"tools/call",'
                b'"params":{"name":"t1","name":"t2","arguments":{}}}\n'
            )
            await client_w.send(
                b'{"jsonrpc":"2.0","id":3,"method":"tools/call",'
                b'"params":{"arguments":{},"name":"t2","name":"t1"}}\n'
            )
            with anyio.fail_after(10):
                await answered.wait()
            await client_w.aclose()
        for stream in (up_w, up_r, client_r):
            await stream.aclose()
        pins.close()

    anyio.run(main)
    upstream = [jsonrpc.decode(line) for line in to_upstream]
    assert [m["method"] for m in upstream] == ["tools/list", "tools/call"]
    assert upstream[1] == jsonrpc.request(3, "tools/call", {"arguments": {}, "name": "t1"})
    # Re-encoded, not the received bytes: the duplicate `name` never reaches the upstream.
    assert (
        to_upstream[1]
        == b'{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"arguments":{},"name":"t1"}}\n'
    )
    answers = {m["id"]: m for m in map(jsonrpc.decode, to_client)}
    assert sorted(answers) == [1, 2, 3]
    assert [t["name"] for t in answers[1]["result"]["tools"]] == ["t1"]  # t2 hidden
    assert answers[2]["result"]["isError"] is True
    assert answers[3]["result"]["content"][0]["text"] == "ran t1"


CLAIM_SCRIPT = """
import anyio, sys
from ztgate.gateway.pipes import claim_stdio

async def main():
    async with claim_stdio() as channel:
        print("stray output", flush=True)  # must not reach the wire
        async for message in channel.messages():
            if isinstance(message, Exception):
                continue
            await channel.send({"jsonrpc": "2.0", "id": message["id"], "result": {}})
    print("after", flush=True)  # stdout is the wire again

anyio.run(main)
"""


@posix_only
def test_claim_stdio_keeps_stray_output_off_the_wire_and_restores_it() -> None:
    import subprocess

    done = subprocess.run(
        [sys.executable, "-c", CLAIM_SCRIPT],
        input=b'{"jsonrpc":"2.0","id":1,"method":"ping"}\nnot json\n',
        capture_output=True,
        timeout=60,
        check=True,
    )
    assert done.stdout == b'{"jsonrpc":"2.0","id":1,"result":{}}\nafter\n'
    assert b"stray output" in done.stderr
