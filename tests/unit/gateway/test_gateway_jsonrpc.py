"""The relay's JSON-RPC envelope: what decodes, what is refused, what is re-encoded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from mcp_types.jsonrpc import jsonrpc_message_adapter

from ztgate.gateway import jsonrpc
from ztgate.gateway.jsonrpc import MessageError, decode, encode

VALID: list[tuple[str, dict[str, Any]]] = [
    (
        '{"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"t","arguments":{}}}',
        {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "t", "arguments": {}},
        },
    ),
    ('{"jsonrpc":"2.0","id":"a","method":"ping"}', {"jsonrpc": "2.0", "id": "a", "method": "ping"}),
    (
        '{"jsonrpc":"2.0","method":"notifications/initialized","params":null}',
        {"jsonrpc": "2.0", "method": "notifications/initialized", "params": None},
    ),
    ('{"jsonrpc":"2.0","id":3,"result":{}}', {"jsonrpc": "2.0", "id": 3, "result": {}}),
    (
        '{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"parse error"}}',
        {"jsonrpc": "2.0", "id": None, "error": {"code": -32700, "message": "parse error"}},
    ),
    (
        '{"jsonrpc":"2.0","id":4,"error":{"code":1,"message":"m","data":[1],"extra":true}}',
        {"jsonrpc": "2.0", "id": 4, "error": {"code": 1, "message": "m", "data": [1]}},
    ),
    # Unknown top-level keys are dropped, as the SDK models drop them.
    (
        '{"jsonrpc":"2.0","id":5,"method":"ping","sneaky":1}',
        {"jsonrpc": "2.0", "id": 5, "method": "ping"},
    ),
    # Duplicate keys: the last one wins, and only that one is ever forwarded.
    (
        '{"jsonrpc":"2.0","id":6,"method":"tools/list","method":"tools/call"}',
        {"jsonrpc": "2.0", "id": 6, "method": "tools/call"},
    ),
]

INVALID = [
    "",
    "not json",
    "[]",
    '{"jsonrpc":"1.0","id":1,"method":"ping"}',
    '{"id":1,"method":"ping"}',
    '{"jsonrpc":"2.0","id":true,"method":"ping"}',
    '{"jsonrpc":"2.0","id":1.0,"method":"ping"}',
    '{"jsonrpc":"2.0","id":null,"method":"ping"}',
    '{"jsonrpc":"2.0","id":[1],"method":"ping"}',
    '{"jsonrpc":"2.0","id":1,"method":7}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","params":[1,2]}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","result":{}}',
    '{"jsonrpc":"2.0","id":1,"result":{},"error":{"code":1,"message":"m"}}',
    '{"jsonrpc":"2.0","result":{}}',
    '{"jsonrpc":"2.0","id":null,"result":{}}',
    '{"jsonrpc":"2.0","id":1,"result":[]}',
    '{"jsonrpc":"2.0","id":1,"error":{"code":"1","message":"m"}}',
    '{"jsonrpc":"2.0","id":1,"error":{"code":true,"message":"m"}}',
    '{"jsonrpc":"2.0","error":{"code":1,"message":"m"}}',
    '{"jsonrpc":"2.0","id":1}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":NaN}}',
    '{"jsonrpc":"2.0","id":1,"method":"ping","params":{"x":"\\ud800"}}',
    '{"jsonrpc":"2.0","id":1,"method":"ping"} {"jsonrpc":"2.0","id":2,"method":"ping"}',
]


@pytest.mark.parametrize(("line", "expected"), VALID)
def test_valid_messages_decode_to_their_canonical_form(line: str, expected: dict[str, Any]) -> None:
    message = decode(line.encode())
    assert message == expected
    # What is forwarded is the canonical form, and the SDK accepts it.
    assert json.loads(encode(message)) == expected
    jsonrpc_message_adapter.validate_json(encode(message))


@pytest.mark.parametrize("line", INVALID)
def test_malformed_messages_are_refused(line: str) -> None:
    with pytest.raises(MessageError):
        decode(line.encode())


def test_invalid_utf8_is_refused() -> None:
    with pytest.raises(MessageError):
        decode(b'{"jsonrpc":"2.0","id":1,"method":"\xff"}')


def test_encode_writes_one_line_and_refuses_what_json_cannot_carry() -> None:
    line = encode(jsonrpc.response(1, {"text": "a\nb"}))
    assert line.endswith(b"\n")
    assert line.count(b"\n") == 1
    assert json.loads(encode(jsonrpc.response(1, {"x": float("inf")}))) == {
        "jsonrpc": "2.0",
        "id": 1,
        "result": {"x": None},
    }
    with pytest.raises(MessageError):
        encode(jsonrpc.response(1, {"x": object()}))


def test_kinds() -> None:
    assert jsonrpc.is_request(jsonrpc.request(1, "ping"))
    assert not jsonrpc.is_notification(jsonrpc.request(1, "ping"))
    assert jsonrpc.is_notification({"jsonrpc": "2.0", "method": "n"})
    assert jsonrpc.is_reply(jsonrpc.response(1, {}))
    assert jsonrpc.is_reply(jsonrpc.error(None, -1, "x"))
    assert not jsonrpc.is_reply(jsonrpc.request(1, "ping"))


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=5), children, max_size=3)
    ),
    max_leaves=10,
)


@given(
    request_id=st.integers() | st.text(),
    method=st.text(),
    params=st.dictionaries(st.text(max_size=5), json_values, max_size=4),
)
def test_requests_round_trip(request_id: int | str, method: str, params: dict[str, Any]) -> None:
    message = jsonrpc.request(request_id, method, params)
    assert decode(encode(message)) == message


@given(data=json_values)
def test_decode_never_raises_anything_but_message_error(data: Any) -> None:
    line = json.dumps(data).encode()
    try:
        message = decode(line)
    except MessageError:
        return
    assert message["jsonrpc"] == "2.0"
    assert (
        jsonrpc.is_request(message) or jsonrpc.is_notification(message) or jsonrpc.is_reply(message)
    )
