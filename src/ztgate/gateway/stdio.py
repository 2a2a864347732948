"""The stdio transport: the MCP client launches ``ztgate gateway ... -- COMMAND ARGS``
instead of the server; the gateway starts the server as its child and relays between
its own stdin/stdout and the child's. On POSIX both ends are raw newline-delimited pipes
(:mod:`ztgate.gateway.pipes`): each message is decoded once and re-encoded once, with no
thread or SDK model per message; elsewhere the ``mcp`` SDK's stdio transports carry it.

The agent is named by the operator who wrote the client's launch configuration
(``--agent``); when an identity store is configured, the agent must be registered and
active, re-checked on every call.
"""

from __future__ import annotations

import gc
import io
import sys
import uuid
from typing import TextIO

import anyio
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.server.stdio import stdio_server

from ztgate.gateway.authorizer import Caller
from ztgate.gateway.config import Upstream
from ztgate.gateway.relay import Relay
from ztgate.gateway.runtime import Runtime


class _StdinLines:
    """Lines of this process's stdin, read on a worker thread that a cancellation may
    abandon: when the upstream exits first, the gateway must stop without waiting for
    the client to close its end."""

    def __init__(self) -> None:
        self._file = io.TextIOWrapper(sys.stdin.buffer, encoding="utf-8", errors="replace")

    def __aiter__(self) -> _StdinLines:
        return self

    async def __anext__(self) -> str:
        line = await anyio.to_thread.run_sync(self._file.readline, abandon_on_cancel=True)
        if not line:
            raise StopAsyncIteration
        return line


def upstream_parameters(upstream: Upstream) -> StdioServerParameters:
    """Spawn parameters: the child gets the SDK's minimal default environment plus the
    variables the configuration names, never the gateway's whole environment."""
    if upstream.command is None:
        raise ValueError(f"upstream `{upstream.name}` is not a command")
    return StdioServerParameters(
        command=upstream.command,
        args=list(upstream.args),
        env=dict(upstream.env) or None,
        cwd=upstream.cwd,
    )


async def serve_stdio(
    runtime: Runtime,
    upstream: Upstream,
    *,
    agent: str,
    errlog: TextIO = sys.stderr,
) -> Relay:
    """Relay this process's stdin/stdout to ``upstream`` until the client disconnects."""
    caller = Caller(agent=agent, session="stdio-" + uuid.uuid4().hex)
    relay = Relay(
        server=upstream.name,
        caller=caller,
        authorizer=runtime.authorizer,
        pins=runtime.pins,
        offload=runtime.config.audit_durability == "strict",
    )
    if sys.platform == "win32":  # pragma: no cover - the raw pipes are POSIX-only
        async with (
            stdio_server(stdin=_StdinLines()) as (down_read, down_write),  # type: ignore[arg-type]
            stdio_client(upstream_parameters(upstream), errlog=errlog) as (up_read, up_write),
        ):
            await relay.run(down_read, down_write, up_read, up_write)
        return relay
    from ztgate.gateway.pipes import claim_stdio, open_upstream

    # Everything loaded so far (policy, scanner models, modules) lives as long as the
    # process: keep it out of the cyclic collector's traversals, which otherwise walk it
    # again and again as calls allocate.
    gc.freeze()
    async with (
        claim_stdio() as down,
        open_upstream(upstream_parameters(upstream), errlog=errlog) as up,
    ):
        await relay.serve(down, up)
    return relay
