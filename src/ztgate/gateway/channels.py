"""Channels: how the relay receives and sends JSON-RPC messages on one side of a session.

The relay works on plain message dicts (:mod:`ztgate.gateway.jsonrpc`) and talks to
each side through a :class:`Channel`. Two kinds exist:

- :class:`SdkChannel` adapts the ``mcp`` SDK's ``SessionMessage`` streams (the
  streamable HTTP transports, and stdio where the raw transport is not available);
- :class:`LineChannel` speaks newline-delimited JSON-RPC directly over a byte stream
  (the gateway's own stdin/stdout, an upstream's pipes): each line is decoded once and
  each forwarded message encoded once, with no SDK model, memory stream or extra task
  in between.

A line or message that fails to decode is yielded as a :class:`MessageError`; the relay
logs it and never forwards it.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Protocol

import anyio
from mcp.shared.message import ServerMessageMetadata, SessionMessage
from mcp_types.jsonrpc import jsonrpc_message_adapter

from ztgate.gateway.jsonrpc import Message, MessageError, RequestId, decode, encode

log = logging.getLogger("ztgate.gateway")

# A single message larger than this is refused (and skipped up to its newline) rather
# than buffered without bound.
MAX_LINE_BYTES = 64 * 1024 * 1024
READ_CHUNK = 256 * 1024


class Channel(Protocol):
    """One side of a relayed session."""

    def messages(self) -> AsyncIterator[Message | Exception]:
        """Messages in arrival order; ends when the peer closes its side."""
        ...

    async def send(self, message: Message, related: RequestId | None = None) -> None:
        """Send one message; ``related`` names the request it belongs to (HTTP streams
        use it to pick the response stream; stdio ignores it)."""
        ...

    async def aclose(self) -> None:
        """Stop sending: the peer sees the end of the stream."""
        ...


class SdkChannel:
    """A :class:`Channel` over the SDK's ``SessionMessage`` read and write streams."""

    def __init__(self, read: Any, write: Any, *, server_side: bool) -> None:
        self._read = read
        self._write = write
        self._server_side = server_side

    async def messages(self) -> AsyncIterator[Message | Exception]:
        async for item in self._read:
            if isinstance(item, Exception):
                yield item
                continue
            yield item.message.model_dump(by_alias=True, exclude_unset=True)

    async def send(self, message: Message, related: RequestId | None = None) -> None:
        try:
            model = jsonrpc_message_adapter.validate_python(message, by_name=False)
        except ValueError as error:
            raise MessageError(f"not a JSON-RPC message: {error}") from None
        metadata = (
            ServerMessageMetadata(related_request_id=related)
            if self._server_side and related is not None
            else None
        )
        await self._write.send(SessionMessage(model, metadata))

    async def aclose(self) -> None:
        await self._write.aclose()


class LineChannel:
    """A :class:`Channel` of newline-delimited JSON-RPC over raw bytes.

    ``receive`` returns the next chunk of bytes and raises ``anyio.EndOfStream`` (or a
    closed/broken resource error) at the end; ``send_bytes`` writes one whole encoded
    line and must not interleave concurrent lines.
    """

    def __init__(
        self,
        receive: Callable[[], Awaitable[bytes]],
        send_bytes: Callable[[bytes], Awaitable[None]],
        *,
        max_line: int = MAX_LINE_BYTES,
    ) -> None:
        self._receive = receive
        self._send_bytes = send_bytes
        self._max_line = max_line
        self.closed = False

    async def messages(self) -> AsyncIterator[Message | Exception]:
        parts: list[bytes] = []  # the start of a line whose newline has not arrived
        size = 0
        skipping = False  # inside an oversized line: drop bytes up to its newline
        while True:
            try:
                chunk = await self._receive()
            except (anyio.EndOfStream, anyio.ClosedResourceError, anyio.BrokenResourceError):
                return  # a partial last line without its newline is not a message
            start = 0
            while (end := chunk.find(b"\n", start)) >= 0:
                line = chunk[start:end]
                start = end + 1
                if parts:
                    parts.append(line)
                    line = b"".join(parts)
                    parts, size = [], 0
                if skipping:
                    skipping = False
                    continue
                if not line.strip():
                    continue
                try:
                    message = decode(line)
                except MessageError as error:
                    yield error
                    continue
                yield message
            if start < len(chunk) and not skipping:
                parts.append(chunk[start:] if start else chunk)
                size += len(chunk) - start
                if size > self._max_line:
                    parts, size, skipping = [], 0, True
                    yield MessageError(f"a message exceeds {self._max_line} bytes")

    async def send(self, message: Message, related: RequestId | None = None) -> None:
        if self.closed:
            raise anyio.ClosedResourceError
        await self._send_bytes(encode(message))

    async def aclose(self) -> None:
        self.closed = True


__all__ = ["MAX_LINE_BYTES", "READ_CHUNK", "Channel", "LineChannel", "SdkChannel"]
