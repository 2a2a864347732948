"""The message relay: one MCP client session in front of one upstream MCP session.

The relay works on JSON-RPC messages as plain dicts (:mod:`ztgate.gateway.jsonrpc`),
received from and sent to a :class:`~ztgate.gateway.channels.Channel` on each side: raw
newline-delimited pipes for stdio, the ``mcp`` SDK's ``SessionMessage`` streams for
streamable HTTP. Everything it does not need to judge passes through unchanged and in
order: ``initialize``, pings, notifications
(progress, logging, list changes, resource updates, cancellation), server-to-client
requests for roots and their answers. What it judges:

- ``tools/list`` answers: each tool is pinned and its description scanned; tools whose
  pin is not approved, whose description is poisoned, or that no rule could ever let the
  caller use are removed from the list;
- ``tools/call`` requests: refused unless the tool's current definition is approved and
  the authorizer allows the call with these arguments; ``approval_required`` becomes an
  MCP elicitation when the client declared that capability;
- ``tools/call``, ``resources/read`` and ``prompts/get`` answers, and the server's own
  ``sampling/createMessage`` and ``elicitation/create`` requests: scanned, then passed,
  redacted or withheld, and the session labelled when content looked hostile.

Request ids are not rewritten: the client's ids go upstream as they are. Requests the
gateway makes on its own (listing tools before a call, asking the user to approve) use
ids with a random per-relay prefix that a client cannot predict.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import anyio
import anyio.abc

from ztgate.gateway import jsonrpc
from ztgate.gateway.authorizer import Authorizer, Caller, CallOutcome
from ztgate.gateway.channels import Channel, SdkChannel
from ztgate.gateway.inspect import Inspection
from ztgate.gateway.jsonrpc import Message, RequestId
from ztgate.gateway.pins import PinStatus, PinStore

log = logging.getLogger("ztgate.gateway")
T = TypeVar("T")

MAX_LIST_PAGES = 100
MAX_TRACKED = 10_000  # progress tokens remembered for routing notifications
# A side that went away ends the relay quietly; anything else is a real error.
_CLOSED = (anyio.ClosedResourceError, anyio.BrokenResourceError, anyio.EndOfStream)
GATEWAY_TIMEOUT = 30.0
APPROVAL_TIMEOUT = 300.0


@dataclass(slots=True)
class ToolState:
    definition: dict[str, Any]
    blocked: str | None  # reason code when the tool may not be called


@dataclass(slots=True)
class _Pending:
    kind: str  # "call" | "list" | "read" | "prompt"
    name: str
    down_meta: Any = None


@dataclass(slots=True)
class _Stats:
    forwarded: int = 0
    refused: int = 0
    reported: set[tuple[str, str]] = field(default_factory=set)


def tool_error(text: str) -> dict[str, Any]:
    """A ``CallToolResult`` that reports a refusal to the model as a tool error."""
    return {"content": [{"type": "text", "text": text}], "isError": True}


class Relay:
    """Relays one downstream session to one upstream session, judging what matters.

    ``offload`` runs authorizer calls on a worker thread (for audit logs that write
    synchronously); otherwise they run inline, which is faster for batched audit.
    """

    def __init__(
        self,
        *,
        server: str,
        caller: Caller,
        authorizer: Authorizer,
        pins: PinStore,
        offload: bool = False,
        on_close: Callable[[], None] | None = None,
    ) -> None:
        self.server = server
        self.caller = caller
        self.authorizer = authorizer
        self.pins = pins
        self.offload = offload
        self._on_close = on_close
        self._prefix = "ztgate-" + secrets.token_hex(8)
        self._counter = 0
        self._pending: dict[RequestId, _Pending] = {}
        self._waiters: dict[RequestId, tuple[anyio.Event, list[Any]]] = {}
        self._tools: dict[str, ToolState] = {}
        self._tools_fresh = False
        self._refresh_lock = anyio.Lock()
        self._elicitation = False
        self._judging: set[RequestId] = set()  # calls being decided, not yet forwarded
        self._cancelled: set[RequestId] = set()
        self._progress: dict[Any, RequestId] = {}  # progress token -> request in flight
        self._tokens: dict[RequestId, Any] = {}
        self._inflight: list[RequestId] = []
        self.stats = _Stats()
        self.ended_by: str | None = None  # "client" or "upstream": who closed first
        self._down: Channel | None = None
        self._up: Channel | None = None

    # -- plumbing ----------------------------------------------------------------------------

    def _next_id(self, tag: str) -> str:
        self._counter += 1
        return f"{self._prefix}-{tag}{self._counter}"

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        if self.offload:
            return await anyio.to_thread.run_sync(lambda: fn(*args, **kwargs))
        return fn(*args, **kwargs)

    async def _to_down(self, message: Message, related: RequestId | None = None) -> None:
        assert self._down is not None
        await self._down.send(message, related)

    async def _to_up(self, message: Message) -> None:
        assert self._up is not None
        await self._up.send(message)

    async def _respond(self, request_id: RequestId, result: dict[str, Any]) -> None:
        await self._to_down(jsonrpc.response(request_id, result))

    async def run(self, down_read: Any, down_write: Any, up_read: Any, up_write: Any) -> None:
        """Relay between the SDK's ``SessionMessage`` streams until either side closes."""
        await self.serve(
            SdkChannel(down_read, down_write, server_side=True),
            SdkChannel(up_read, up_write, server_side=False),
        )

    async def serve(self, down: Channel, up: Channel) -> None:
        """Relay between two channels until either side closes."""
        self._down = down
        self._up = up
        try:
            async with anyio.create_task_group() as tg:

                async def downstream() -> None:
                    with contextlib.suppress(*_CLOSED):
                        await self._pump_down(down, tg)
                    self.ended_by = self.ended_by or "client"
                    tg.cancel_scope.cancel()

                async def upstream() -> None:
                    with contextlib.suppress(*_CLOSED):
                        await self._pump_up(up, tg)
                    self.ended_by = self.ended_by or "upstream"
                    tg.cancel_scope.cancel()

                tg.start_soon(downstream)
                tg.start_soon(upstream)
        finally:
            # Closing our sending ends lets both transports finish their writers.
            for channel in (down, up):
                with contextlib.suppress(Exception):
                    await channel.aclose()
            if self._on_close is not None:
                self._on_close()

    # -- client -> server ----------------------------------------------------------------------

    async def _pump_down(self, channel: Channel, tg: anyio.abc.TaskGroup) -> None:
        async for message in channel.messages():
            if isinstance(message, Exception):
                log.warning("downstream message refused: %s", message)
                continue
            if jsonrpc.is_request(message):
                await self._client_request(message, tg)
            elif jsonrpc.is_reply(message):
                reply_id = message["id"]
                waiter = self._waiters.pop(reply_id, None) if reply_id is not None else None
                if waiter is not None:
                    waiter[1].append(message)
                    waiter[0].set()
                else:
                    await self._to_up(message)
            else:
                if message["method"] == "notifications/cancelled":
                    target = (message.get("params") or {}).get("requestId")
                    if _is_id(target) and target in self._judging:
                        self._cancelled.add(target)
                await self._to_up(message)

    async def _client_request(self, message: Message, tg: anyio.abc.TaskGroup) -> None:
        method = message["method"]
        request_id: RequestId = message["id"]
        params = message.get("params") or {}
        meta = params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if _is_id(token) and len(self._progress) < MAX_TRACKED:
            self._progress[token] = request_id
            self._tokens[request_id] = token
        if method == "initialize":
            caps = params.get("capabilities")
            self._elicitation = isinstance(caps, dict) and isinstance(caps.get("elicitation"), dict)
        elif method == "tools/call":
            name = params.get("name")
            inline = isinstance(name, str) and name in self._tools and self._tools_fresh
            if inline and not self.offload:
                # Nothing to wait for: decide here rather than pay for a task per call.
                await self._tools_call(message, tg)
            else:
                tg.start_soon(self._tools_call, message, None)
            return
        elif method == "tools/list":
            self._pending[request_id] = _Pending("list", "")
        elif method == "resources/read":
            self._pending[request_id] = _Pending("read", str(params.get("uri", "")))
        elif method == "prompts/get":
            self._pending[request_id] = _Pending("prompt", str(params.get("name", "")))
        elif method == "tasks/result":
            # A task-augmented tools/call delivers its result here: scan it like one.
            self._pending[request_id] = _Pending("call", "task:" + str(params.get("taskId", "")))
        await self._to_up(message)

    def _forget(self, request_id: RequestId) -> None:
        """Drop what was tracked for a request that has been answered."""
        if request_id in self._inflight:
            self._inflight.remove(request_id)
        token = self._tokens.pop(request_id, None)
        if token is not None:
            self._progress.pop(token, None)

    # -- tools/call ---------------------------------------------------------------------------

    async def _tools_call(self, message: Message, tg: anyio.abc.TaskGroup | None) -> None:
        """Judge one ``tools/call`` and forward or refuse it. ``tg`` is given when this runs
        inline in the client pump: a wait for a human's answer then moves to a task."""
        with contextlib.suppress(*_CLOSED):
            request_id: RequestId = message["id"]
            params = message.get("params") or {}
            name = params.get("name")
            arguments = params.get("arguments")
            if arguments is None:
                arguments = {}
            self._judging.add(request_id)
            handed_off = False
            try:
                outcome = await self._decide_call(name, arguments)
                if outcome.effect == "approval_required" and self._elicitation:
                    if tg is not None:
                        tg.start_soon(self._tools_call_approval, message, outcome)
                        handed_off = True
                        return
                    outcome = await self._ask_approval(request_id, str(name), arguments, outcome)
            except Exception:
                log.exception("tools/call handling failed; refused")
                outcome = CallOutcome("deny", "gateway_error", "")
            finally:
                if not handed_off:
                    self._judging.discard(request_id)
            await self._conclude(message, outcome)

    async def _tools_call_approval(self, message: Message, pending: CallOutcome) -> None:
        with contextlib.suppress(*_CLOSED):
            request_id: RequestId = message["id"]
            params = message.get("params") or {}
            try:
                outcome = await self._ask_approval(
                    request_id, params["name"], params.get("arguments") or {}, pending
                )
            except Exception:
                log.exception("tools/call approval failed; refused")
                outcome = CallOutcome("deny", "gateway_error", "")
            finally:
                self._judging.discard(request_id)
            await self._conclude(message, outcome)

    async def _conclude(self, message: Message, outcome: CallOutcome) -> None:
        """Forward an allowed call (with redacted arguments if the scanner redacted them);
        answer a refused one with a tool error; drop a call the client cancelled."""
        request_id: RequestId = message["id"]
        params = message.get("params") or {}
        if request_id in self._cancelled:
            self._cancelled.discard(request_id)
            self._forget(request_id)
            return
        if not outcome.allowed:
            self.stats.refused += 1
            self._forget(request_id)
            await self._respond(request_id, tool_error(_refusal_text(outcome)))
            return
        self.stats.forwarded += 1
        if outcome.forward_args is not None:
            # The scanner redacted the arguments: the upstream gets the redacted copy.
            message = jsonrpc.request(
                request_id,
                message["method"],
                {**params, "arguments": dict(outcome.forward_args)},
            )
        self._pending[request_id] = _Pending("call", str(params.get("name")))
        self._inflight.append(request_id)
        await self._to_up(message)

    async def _decide_call(self, name: Any, arguments: Any) -> CallOutcome:
        """The decision before any human is asked (an approval is asked by the caller)."""
        caller = self.caller
        if not isinstance(name, str) or not isinstance(arguments, dict):
            return await self._call(
                self.authorizer.refuse,
                caller,
                self.server,
                str(name),
                {},
                "invalid_request",
                "tool name or arguments are malformed",
            )
        state = self._tools.get(name)
        if state is None or not self._tools_fresh:
            await self._refresh_tools()
            state = self._tools.get(name)
        if state is None:
            return await self._call(
                self.authorizer.refuse,
                caller,
                self.server,
                name,
                arguments,
                "unknown_tool",
                "the upstream server does not announce this tool",
            )
        if state.blocked is not None:
            return await self._call(
                self.authorizer.refuse,
                caller,
                self.server,
                name,
                arguments,
                state.blocked,
                f"tool is blocked by the gateway ({state.blocked})",
            )
        outcome: CallOutcome = await self._call(
            self.authorizer.authorize_call, caller, self.server, name, arguments
        )
        return outcome

    async def _ask_approval(
        self, request_id: RequestId, name: str, arguments: dict[str, Any], pending: CallOutcome
    ) -> CallOutcome:
        if not self._elicitation:
            return pending
        elicit_id = self._next_id("e")
        shown = json.dumps(arguments, sort_keys=True, default=str)
        if len(shown) > 2000:
            shown = shown[:2000] + "..."
        request = jsonrpc.request(
            elicit_id,
            "elicitation/create",
            {
                "mode": "form",
                "message": (
                    f"ztgate: the agent `{self.caller.agent}` wants to call `{name}` on "
                    f"`{self.server}` with {shown}. Approve? (approval {pending.approval_id})"
                ),
                "requestedSchema": {
                    "type": "object",
                    "properties": {
                        "approve": {
                            "type": "boolean",
                            "title": "Approve this call",
                            "description": "Allow this one call to proceed",
                        }
                    },
                    "required": ["approve"],
                },
            },
        )
        answer = await self._await_reply(elicit_id, request, downstream=True, related=request_id)
        approved = False
        if answer is not None and "result" in answer:
            result = answer["result"]
            content = result.get("content")
            approved = (
                result.get("action") == "accept"
                and isinstance(content, dict)
                and content.get("approve") is True
            )
        return await self._call(
            self.authorizer.approval_answered,
            self.caller,
            self.server,
            name,
            arguments,
            pending,
            approved=approved,
            by="elicitation:" + (self.caller.acting_for or self.caller.agent),
        )

    async def _await_reply(
        self,
        request_id: str,
        request: Message,
        *,
        downstream: bool,
        related: RequestId | None = None,
    ) -> Message | None:
        event = anyio.Event()
        box: list[Any] = []
        self._waiters[request_id] = (event, box)
        if downstream:
            await self._to_down(request, related)
        else:
            await self._to_up(request)
        with anyio.move_on_after(APPROVAL_TIMEOUT if downstream else GATEWAY_TIMEOUT):
            await event.wait()
        self._waiters.pop(request_id, None)
        return box[0] if box else None

    async def _refresh_tools(self) -> None:
        """List the upstream's tools on the gateway's own behalf (all pages)."""
        async with self._refresh_lock:
            if self._tools_fresh:
                return
            cursor: Any = None
            fresh: list[dict[str, Any]] = []
            for _ in range(MAX_LIST_PAGES):
                list_id = self._next_id("l")
                request = jsonrpc.request(
                    list_id, "tools/list", {"cursor": cursor} if cursor is not None else None
                )
                answer = await self._await_reply(list_id, request, downstream=False)
                if answer is None or "result" not in answer:
                    return
                tools = answer["result"].get("tools")
                if isinstance(tools, list):
                    fresh.extend(t for t in tools if isinstance(t, dict))
                cursor = answer["result"].get("nextCursor")
                if cursor is None:
                    break
            await self._judge_tools(fresh, replace=True)

    async def _judge_tools(
        self, tools: list[dict[str, Any]], *, replace: bool
    ) -> list[dict[str, Any]]:
        """Pin and scan each announced tool; return the ones the caller may see."""
        if replace:
            self._tools = {}
        visible: list[dict[str, Any]] = []
        for tool in tools:
            name = tool.get("name")
            if not isinstance(name, str):
                continue
            inspection = await self._call(
                self.authorizer.inspect_description, self.server, name, tool
            )
            findings = inspection.findings
            flagged = "tool_poisoned" if inspection.action == "block" else None
            try:
                status = await self._call(self.pins.check, self.server, tool, flagged=flagged)
            except Exception:
                log.exception("pin store failed; tool `%s` blocked", name)
                status = PinStatus.UNAPPROVED
            # An approved pin wins over a scanner verdict: first use is never trusted for a
            # flagged definition, so an approved flagged one is an operator's override.
            blocked: str | None = None
            if status is PinStatus.CHANGED:
                blocked = "tool_definition_changed"
            elif status is PinStatus.UNAPPROVED:
                blocked = flagged or "tool_not_approved"
            self._tools[name] = ToolState(tool, blocked)
            if blocked is not None:
                if (name, blocked) not in self.stats.reported:
                    self.stats.reported.add((name, blocked))
                    await self._call(
                        self.authorizer.refuse,
                        self.caller,
                        self.server,
                        name,
                        {},
                        blocked,
                        "tool hidden from tools/list",
                        findings,
                    )
                continue
            if await self._call(self.authorizer.may_ever_call, self.caller, self.server, name):
                visible.append(tool)
        self._tools_fresh = True
        return visible

    # -- server -> client ------------------------------------------------------------------------

    async def _pump_up(self, channel: Channel, tg: anyio.abc.TaskGroup) -> None:
        async for message in channel.messages():
            if isinstance(message, Exception):
                log.warning("upstream message refused: %s", message)
                continue
            reply_id = message.get("id")
            if jsonrpc.is_reply(message) and reply_id is not None:
                waiter = self._waiters.pop(reply_id, None)
                if waiter is not None:
                    waiter[1].append(message)
                    waiter[0].set()
                    continue
                pending = self._pending.pop(reply_id, None)
                self._forget(reply_id)
                if pending is not None and "result" in message:
                    message = await self._judge_result(message, pending)
                await self._to_down(message)
                continue
            if jsonrpc.is_request(message) and message.get("method") in _MODEL_FACING:
                judged = await self._judge_model_request(message)
                if judged is None:
                    continue
                message = judged
            related: RequestId | None = None
            if jsonrpc.is_notification(message):
                method = message["method"]
                if method == "notifications/tools/list_changed":
                    self._tools_fresh = False
                elif method == "notifications/progress":
                    token = (message.get("params") or {}).get("progressToken")
                    related = self._progress.get(token) if _is_id(token) else None
            if related is None and self._inflight:
                related = self._inflight[-1]
            await self._to_down(message, related)

    async def _judge_model_request(self, message: Message) -> Message | None:
        """A server-to-client request whose text reaches the client's model or its user
        (``sampling/createMessage``, ``elicitation/create``), scanned like a tool result:
        an upstream must not reach the model by asking for a completion instead of
        returning content. Withheld requests are answered upstream with an error; redacted
        ones go on with the redacted parameters."""
        params = message.get("params")
        scanned = params if isinstance(params, dict) else {}
        try:
            inspection: Inspection = await self._call(
                self.authorizer.inspect_output,
                self.caller,
                self.server,
                str(message["method"]),
                scanned,
            )
        except Exception:
            log.exception("server request inspection failed; withheld")
            inspection = Inspection("block")
        if inspection.action == "pass":
            return message
        if inspection.action == "redact" and isinstance(inspection.content, dict):
            return {**message, "params": inspection.content}
        await self._to_up(
            jsonrpc.error(message["id"], -32003, "ztgate: request withheld (input_blocked)")
        )
        return None

    async def _judge_result(self, message: Message, pending: _Pending) -> Message:
        result = dict(message["result"])
        if pending.kind == "list":
            try:
                listed = result.get("tools")
                tools = (
                    [t for t in listed if isinstance(t, dict)] if isinstance(listed, list) else []
                )
                result["tools"] = await self._judge_tools(tools, replace=False)
            except Exception:
                log.exception("tools/list judging failed; nothing listed")
                result["tools"] = []
            return jsonrpc.response(message["id"], result)
        method = {"call": "tools/call", "read": "resources/read", "prompt": "prompts/get"}
        # Everything the upstream sent is scanned, not only the fields the client is known
        # to show (`content`, `structuredContent`, `contents`, `messages`): `_meta` and keys
        # a later protocol revision adds reach the client too. Only the boolean `isError`
        # carries nothing to find.
        scanned = {k: v for k, v in result.items() if k != "isError"}
        try:
            inspection: Inspection = await self._call(
                self.authorizer.inspect_output,
                self.caller,
                self.server,
                f"{method[pending.kind]}:{pending.name}",
                scanned,
            )
        except Exception:
            log.exception("result inspection failed; withheld")
            inspection = Inspection("block")
        if inspection.action == "redact" and isinstance(inspection.content, dict):
            return jsonrpc.response(message["id"], {**result, **inspection.content})
        if inspection.action != "pass":
            # "block", or a verdict the relay cannot carry out: withhold.
            return _withheld(message["id"], pending.kind)
        return message


#: Server-to-client requests whose parameters are shown to the client's model or user.
_MODEL_FACING = frozenset({"sampling/createMessage", "elicitation/create"})


def _withheld(request_id: RequestId, kind: str) -> Message:
    if kind == "call":
        withheld = tool_error("ztgate: the tool result was withheld (output_blocked)")
        return jsonrpc.response(request_id, withheld)
    return jsonrpc.error(request_id, -32003, "ztgate: content withheld (output_blocked)")


def _is_id(value: Any) -> bool:
    """A usable request id or progress token: a string or an integer (not a bool)."""
    return isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool))


def _refusal_text(outcome: CallOutcome) -> str:
    """Vague to the caller: the decision and a reason code, never the rule or its details."""
    if outcome.effect == "approval_required":
        return (
            f"ztgate: this call needs a human approval; pending approval `{outcome.approval_id}` "
            f"(approval_required)"
        )
    return f"ztgate: call denied ({outcome.code})"


__all__ = ["Relay", "ToolState", "tool_error"]
