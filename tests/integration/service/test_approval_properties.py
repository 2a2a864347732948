"""Property: an approval granted for one call is never spent by any other call."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.integration.service.support import PAY, Clock, Target, seed
from ztgate.service.control import ControlPlane
from ztgate.service.pipeline import Call

_other_args = st.fixed_dictionaries(
    {
        "amount": st.integers(min_value=1, max_value=500),
        "currency": st.just("EUR"),
        "recipient": st.sampled_from(["acme-supplies", "globex", "initech"]),
    },
    optional={"memo": st.text(max_size=10)},
)


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    root: Path = tmp_path_factory.mktemp("prop")
    control = Target("sqlite", str(root / "d"), None, root).open_control(Clock())
    seed(control)
    yield control
    control.close()


@settings(max_examples=40, deadline=None, database=None)
@given(
    other=st.one_of(st.just(PAY), _other_args),
    agent=st.sampled_from(["fin-1", "fin-2"]),
    same_session=st.booleans(),
)
def test_an_approval_is_spent_only_by_its_own_call(
    plane: ControlPlane, other: dict[str, Any], agent: str, same_session: bool
) -> None:
    session, elsewhere = f"s-{uuid.uuid4().hex}", f"t-{uuid.uuid4().hex}"
    for s in (session, elsewhere):
        plane.state.add_labels(s, frozenset({"untrusted_content_seen"}), plane.clock())
    first = plane.pipeline.authorize(Call("payment.send", PAY, "fin-1", session))
    plane.approve(first.approval_id or "", approver="carol")
    target_session = session if same_session else elsewhere
    same = other == PAY and agent == "fin-1" and same_session
    outcome = plane.pipeline.authorize(Call("payment.send", other, agent, target_session))
    assert outcome.allowed is same
