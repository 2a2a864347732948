"""Property tests for the delegation rules: scopes only narrow; chains round-trip."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztgate.errors import RejectedError
from ztgate.identity import OAuthError
from ztgate.identity.authorization import AuthorizationServer
from ztgate.identity.tokens import nest_act
from ztgate.identity.verify import parse_act

SCOPES = st.sampled_from(["read", "write", "mail", "admin", "pay", "tickets.read"])
AGENTS = st.from_regex(r"[a-z][a-z0-9-]{0,10}", fullmatch=True)


@given(allowed=st.frozensets(SCOPES), requested=st.frozensets(SCOPES))
def test_granted_scopes_never_exceed_what_is_allowed(
    allowed: frozenset[str], requested: frozenset[str]
) -> None:
    text = " ".join(sorted(requested))
    if requested <= allowed:
        granted = AuthorizationServer._narrow(text, allowed)
        assert set(granted) == (requested or allowed)
    else:
        with pytest.raises(OAuthError) as caught:
            AuthorizationServer._narrow(text, allowed)
        assert caught.value.reason == "scope_widened"


@given(actors=st.lists(AGENTS, min_size=1, max_size=6))
def test_act_chain_round_trips_and_is_bounded(actors: list[str]) -> None:
    claims = {"act": nest_act(actors)}
    if len(actors) > 4:
        with pytest.raises(RejectedError) as caught:
            parse_act(claims, 4)
        assert caught.value.reason == "act_chain_too_long"
    else:
        assert parse_act(claims, 4) == actors


def test_no_actors_means_no_act_claim() -> None:
    assert nest_act([]) is None
    assert parse_act({}, 3) == []
