"""Client mode maps AuthZEN answers strictly: only an explicit `true` allows."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztgate.core.models import Effect
from ztgate.service.remote import decision_from_authzen


@pytest.mark.parametrize(
    ("payload", "effect", "code"),
    [
        ({"decision": True}, Effect.ALLOW, "allowed"),
        ({"decision": False, "context": {"reason": "forbidden"}}, Effect.DENY, "forbidden"),
        ({"decision": False}, Effect.DENY, "evaluation_error"),
        ({"decision": False, "context": {"reason": "made_up"}}, Effect.DENY, "evaluation_error"),
        (
            {"decision": False, "context": {"outcome": "approval_required", "approval_id": "a1"}},
            Effect.APPROVAL_REQUIRED,
            "approval_required",
        ),
        ({"decision": "true"}, Effect.DENY, "evaluation_error"),
        ({"decision": 1}, Effect.DENY, "evaluation_error"),
        ({"decision": True, "context": "x"}, Effect.DENY, "evaluation_error"),
        ([], Effect.DENY, "evaluation_error"),
        (None, Effect.DENY, "evaluation_error"),
    ],
)
def test_mapping(payload: Any, effect: Effect, code: str) -> None:
    decision = decision_from_authzen(payload)
    assert decision.effect is effect
    assert decision.reason_codes == (code,)


@given(
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(),
        lambda c: st.lists(c) | st.dictionaries(st.text(), c),
    )
)
def test_nothing_but_decision_true_allows(payload: Any) -> None:
    allowed = decision_from_authzen(payload).allowed
    assert allowed is (
        isinstance(payload, dict)
        and payload.get("decision") is True
        and isinstance(payload.get("context") or {}, dict)
    )
