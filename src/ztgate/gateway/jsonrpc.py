"""JSON-RPC 2.0 messages as the relay handles them: plain dicts of a strict, known shape.

The relay judges a handful of messages and passes the rest through. Building an SDK
model for every message on every hop (parse, validate, dump, twice per direction) was
most of what the gateway added to a call, so the stdio transport decodes each line once
into a dict with :func:`decode` and encodes what it forwards with :func:`encode`.

:func:`decode` checks the envelope as strictly as the SDK's ``JSONRPCMessage`` union
(``jsonrpc`` is ``"2.0"``; ids are strings or integers, never booleans or floats;
``params`` and ``result`` are objects; an error has an integer ``code`` and a string
``message``) and stricter where the SDK would guess: a message that is both a request
and a response, or a request with a ``null`` id, is refused. Unknown top-level keys are
dropped, as the SDK models drop them. A line that fails any check raises
:class:`MessageError` and is never forwarded.

What is forwarded is always the re-encoded dict, never the received bytes: the peer
reads exactly the message the gateway judged, so no difference between two JSON
parsers (duplicate keys, odd escapes) can show the upstream a call other than the one
that was authorized.
"""

from __future__ import annotations

from typing import Any, Final

from pydantic_core import from_json, to_json

Message = dict[str, Any]
RequestId = int | str

JSONRPC: Final = "2.0"
INVALID_REQUEST: Final = -32600


class MessageError(ValueError):
    """A line that is not one well-formed JSON-RPC 2.0 message."""


def _request_id(value: Any, *, nullable: bool) -> RequestId | None:
    if value is None and nullable:
        return None
    if isinstance(value, str) or (isinstance(value, int) and not isinstance(value, bool)):
        return value
    raise MessageError("id must be a string or an integer")


def normalise(data: Any) -> Message:
    """The canonical dict for one parsed JSON-RPC message; raises :class:`MessageError`."""
    if not isinstance(data, dict):
        raise MessageError("a message must be a JSON object")
    if data.get("jsonrpc") != JSONRPC:
        raise MessageError('`jsonrpc` must be "2.0"')
    if "method" in data:
        if "result" in data or "error" in data:
            raise MessageError("a message cannot be both a request and a response")
        method = data["method"]
        if not isinstance(method, str):
            raise MessageError("`method` must be a string")
        out: Message = {"jsonrpc": JSONRPC}
        if "id" in data:
            out["id"] = _request_id(data["id"], nullable=False)
        out["method"] = method
        if "params" in data:
            params = data["params"]
            if params is not None and not isinstance(params, dict):
                raise MessageError("`params` must be an object")
            out["params"] = params
        return out
    if "result" in data:
        if "error" in data:
            raise MessageError("a response cannot carry both `result` and `error`")
        if "id" not in data:
            raise MessageError("a response needs an id")
        result = data["result"]
        if not isinstance(result, dict):
            raise MessageError("`result` must be an object")
        return {"jsonrpc": JSONRPC, "id": _request_id(data["id"], nullable=False), "result": result}
    if "error" in data:
        if "id" not in data:
            raise MessageError("an error response needs an id (possibly null)")
        error = data["error"]
        if not isinstance(error, dict):
            raise MessageError("`error` must be an object")
        code, text = error.get("code"), error.get("message")
        if not isinstance(code, int) or isinstance(code, bool) or not isinstance(text, str):
            raise MessageError("an error needs an integer `code` and a string `message`")
        shaped: dict[str, Any] = {"code": code, "message": text}
        if "data" in error:
            shaped["data"] = error["data"]
        return {"jsonrpc": JSONRPC, "id": _request_id(data["id"], nullable=True), "error": shaped}
    raise MessageError("neither a request, a notification nor a response")


def decode(line: bytes | str) -> Message:
    """Parse one line (strict JSON: no NaN or Infinity, valid UTF-8) into a message."""
    try:
        data = from_json(line, allow_inf_nan=False)
    except ValueError as error:
        raise MessageError(f"invalid JSON: {error}") from None
    return normalise(data)


def encode(message: Message) -> bytes:
    """One newline-terminated line for the wire (infinities become null, as the SDK
    writes them); raises :class:`MessageError` for content JSON cannot carry."""
    try:
        return to_json(message, inf_nan_mode="null") + b"\n"
    except ValueError as error:
        raise MessageError(f"cannot encode the message: {error}") from None


def is_request(message: Message) -> bool:
    return "method" in message and "id" in message


def is_notification(message: Message) -> bool:
    return "method" in message and "id" not in message


def is_reply(message: Message) -> bool:
    """A response or an error response."""
    return "result" in message or "error" in message


def request(request_id: RequestId, method: str, params: dict[str, Any] | None = None) -> Message:
    out: Message = {"jsonrpc": JSONRPC, "id": request_id, "method": method}
    if params is not None:
        out["params"] = params
    return out


def response(request_id: RequestId, result: dict[str, Any]) -> Message:
    return {"jsonrpc": JSONRPC, "id": request_id, "result": result}


def error(request_id: RequestId | None, code: int, text: str) -> Message:
    return {"jsonrpc": JSONRPC, "id": request_id, "error": {"code": code, "message": text}}


__all__ = [
    "Message",
    "MessageError",
    "RequestId",
    "decode",
    "encode",
    "error",
    "is_notification",
    "is_reply",
    "is_request",
    "normalise",
    "request",
    "response",
]
