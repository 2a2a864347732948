"""Raw pipes for the stdio gateway (POSIX): its own stdin/stdout and the upstream's.

Why not the SDK's ``stdio_server``/``stdio_client``: they read stdin and write stdout
through worker threads (a thread round trip per line and two per written message) and
turn every line into a pydantic model and back. Here both ends are byte streams read
and written from the event loop, feeding :class:`~ztgate.gateway.channels.LineChannel`.

What the SDK transports guarantee is kept:

- while the gateway serves, fd 0 reads the null device and fd 1 points at stderr, so a
  stray ``print`` or a library writing to stdout cannot corrupt the wire; the wire is
  served from private duplicates and both descriptors are restored on exit;
- the upstream runs in its own session (process group) with the SDK's minimal default
  environment plus the configured variables, and is shut down as the MCP lifecycle
  asks: close its stdin, wait, then terminate and finally kill the whole group.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator
from typing import Any, TextIO

import anyio
import anyio.abc
import anyio.to_thread
from mcp.client.stdio import StdioServerParameters, get_default_environment
from mcp.os.posix.utilities import terminate_posix_process_tree

from ztgate.gateway.channels import READ_CHUNK, LineChannel

log = logging.getLogger("ztgate.gateway")

# The SDK's shutdown timings (mcp.client.stdio).
TERMINATION_GRACE = 2.0
FORCE_KILL_AFTER = 2.0
EXIT_POLL = 0.01


def _polled(fd: int) -> bool:
    """Pipes and sockets are read and written from the event loop; anything else (a
    terminal, a file) keeps its blocking mode and is read on a worker thread."""
    mode = os.fstat(fd).st_mode
    return stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)


class FdReader:
    """Chunks read from a descriptor; raises ``anyio.EndOfStream`` at end of file."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.polled = _polled(fd)
        if self.polled:
            os.set_blocking(fd, False)

    async def receive(self) -> bytes:
        if not self.polled:
            data = await anyio.to_thread.run_sync(
                os.read, self.fd, READ_CHUNK, abandon_on_cancel=True
            )
        else:
            while True:
                try:
                    data = os.read(self.fd, READ_CHUNK)
                    break
                except BlockingIOError:
                    await anyio.wait_readable(self.fd)
        if not data:
            raise anyio.EndOfStream
        return data


class FdWriter:
    """Writes whole lines to a descriptor, one at a time, waiting when a pipe is full."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self.polled = _polled(fd)
        if self.polled:
            os.set_blocking(fd, False)
        self._lock = anyio.Lock(fast_acquire=True)

    async def send(self, data: bytes) -> None:
        async with self._lock:
            view = memoryview(data)
            while view:
                try:
                    written = os.write(self.fd, view)
                except BlockingIOError:
                    written = 0
                except (BrokenPipeError, ConnectionResetError):
                    raise anyio.BrokenResourceError from None
                view = view[written:]
                if view:
                    await anyio.wait_writable(self.fd)


def _claim(fd: int, diversion: int) -> int:
    """Move the wire on ``fd`` to a private close-on-exec duplicate; point ``fd`` at
    ``diversion``. Returns the private descriptor."""
    private = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 3)
    os.dup2(diversion, fd)
    return private


def _release(fd: int, private: int, was_blocking: bool) -> None:
    with contextlib.suppress(OSError):
        os.set_blocking(private, was_blocking)
    with contextlib.suppress(OSError):
        os.dup2(private, fd)
    with contextlib.suppress(OSError):
        os.close(private)


@contextlib.asynccontextmanager
async def claim_stdio() -> AsyncIterator[LineChannel]:
    """This process's stdin/stdout as a line channel, diverting fds 0 and 1 meanwhile."""
    in_blocking = os.get_blocking(0)
    out_blocking = os.get_blocking(1)
    devnull = os.open(os.devnull, os.O_RDONLY)
    try:
        wire_in = _claim(0, devnull)
    finally:
        os.close(devnull)
    try:
        wire_out = _claim(1, 2)
    except BaseException:
        _release(0, wire_in, in_blocking)
        raise
    try:
        reader, writer = FdReader(wire_in), FdWriter(wire_out)
        yield LineChannel(reader.receive, writer.send)
    finally:
        _release(1, wire_out, out_blocking)
        _release(0, wire_in, in_blocking)


class _ProcessBytes:
    """The upstream's pipes as the two callables a :class:`LineChannel` needs."""

    def __init__(self, process: anyio.abc.Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self._stdin = process.stdin
        self._stdout = process.stdout

    async def receive(self) -> bytes:
        return await self._stdout.receive(READ_CHUNK)

    async def send(self, data: bytes) -> None:
        try:
            await self._stdin.send(data)
        except (BrokenPipeError, ConnectionResetError):
            raise anyio.BrokenResourceError from None


async def _exited(process: anyio.abc.Process, timeout: float) -> bool:
    """Whether the process exits within ``timeout`` (returncode is polled: waiting on
    the process would also wait for pipes a grandchild may hold)."""
    with anyio.move_on_after(timeout):
        while process.returncode is None:
            await anyio.sleep(EXIT_POLL)
    return process.returncode is not None


async def _drain(stream: Any) -> None:
    """Read and drop what the upstream still writes, so it never blocks on a full pipe
    while it should be exiting."""
    with contextlib.suppress(Exception):
        while True:
            await stream.receive(READ_CHUNK)


async def _stop(process: anyio.abc.Process) -> None:
    assert process.stdin is not None and process.stdout is not None
    async with anyio.create_task_group() as tg:
        tg.start_soon(_drain, process.stdout)
        with contextlib.suppress(Exception):
            await process.stdin.aclose()
        if not await _exited(process, TERMINATION_GRACE):
            await terminate_posix_process_tree(process, FORCE_KILL_AFTER)
            if not await _exited(process, TERMINATION_GRACE):
                log.warning("upstream process %d survived the kill; abandoning it", process.pid)
        tg.cancel_scope.cancel()
    with contextlib.suppress(Exception):
        await process.stdout.aclose()
    transport = getattr(getattr(process, "_process", None), "_transport", None)
    close = getattr(transport, "close", None)
    if callable(close):
        with contextlib.suppress(Exception):
            close()


@contextlib.asynccontextmanager
async def open_upstream(
    params: StdioServerParameters, errlog: TextIO = sys.stderr
) -> AsyncIterator[LineChannel]:
    """Start the upstream server and yield a line channel over its stdin/stdout."""
    process = await anyio.open_process(
        [params.command, *params.args],
        env=get_default_environment() | (params.env or {}),
        stderr=errlog,
        cwd=params.cwd,
        start_new_session=True,
    )
    try:
        pipes = _ProcessBytes(process)
        yield LineChannel(pipes.receive, pipes.send)
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)


__all__ = ["FdReader", "FdWriter", "claim_stdio", "open_upstream"]
