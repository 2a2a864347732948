"""Token exchange (RFC 8693): user -> agent A -> agent B, with the act chain enforced."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import jwt
import pytest

from tests.integration.identity.identity_support import (
    AgentKey,
    FakeClock,
    LocalIssuer,
    make_server,
    register_agent,
    token_for,
)
from ztgate.core.models import Context
from ztgate.errors import RejectedError
from ztgate.identity import AuthorizationServer, OAuthError, Registry, TokenSettings
from ztgate.store import Store

EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
ACCESS = "urn:ietf:params:oauth:token-type:access_token"
JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt"
USER_AUD = "ztgate-users"


@dataclass
class Cast:
    server: AuthorizationServer
    idp: LocalIssuer
    a: AgentKey
    b: AgentKey
    c: AgentKey
    clock: FakeClock


@pytest.fixture
def cast(registry: Registry, clock: FakeClock, local_issuer: LocalIssuer) -> Cast:
    settings = TokenSettings(
        issuer="https://ztgate.test", max_chain_depth=2, revocation_staleness=0
    )
    server = make_server(registry, settings, clock)
    registry.trust_issuer(local_issuer.url, kind="user", audiences=[USER_AUD])
    a = register_agent(registry, "agent-a", scopes=("read", "write", "mail"))
    b = register_agent(registry, "agent-b", scopes=("read", "write"))
    c = register_agent(registry, "agent-c", scopes=("read",))
    return Cast(server, local_issuer, a, b, c, clock)


def _exchange(
    cast: Cast, subject: str, actor: str, *, subject_type: str = ACCESS, **extra: str
) -> str:
    form = {
        "grant_type": EXCHANGE,
        "subject_token": subject,
        "subject_token_type": subject_type,
        "actor_token": actor,
        "actor_token_type": ACCESS,
        **extra,
    }
    body = cast.server.token(form, now=cast.clock.now, source_ip=None)
    assert body["issued_token_type"] == ACCESS
    return str(body["access_token"])


def _refused(cast: Cast, store: Store, subject: str, actor: str, **extra: str) -> str | None:
    with pytest.raises(OAuthError) as caught:
        _exchange(cast, subject, actor, **extra)
    assert caught.value.error in {
        "invalid_grant",
        "invalid_scope",
        "invalid_client",
        "invalid_request",
    }
    return store.events.list(kind="token_denied")[-1].reason


def _user_token(cast: Cast, user: str = "alice") -> str:
    return cast.idp.mint(user, USER_AUD, cast.clock.now)


def test_user_to_a_to_b_records_and_enforces_the_chain(cast: Cast) -> None:
    now = cast.clock.now
    token_a = _exchange(
        cast, _user_token(cast), token_for(cast.server, cast.a, now), subject_type=JWT_TYPE
    )
    claims_a = jwt.decode(token_a, options={"verify_signature": False})
    assert claims_a["sub"] == "user:alice"
    assert claims_a["client_id"] == "agent-a"
    assert claims_a["act"] == {"sub": "agent-a"}
    assert set(claims_a["scope"].split()) == {"read", "write", "mail"}

    token_b = _exchange(cast, token_a, token_for(cast.server, cast.b, now), scope="read")
    claims_b = jwt.decode(token_b, options={"verify_signature": False})
    assert claims_b["act"] == {"sub": "agent-b", "act": {"sub": "agent-a"}}
    assert claims_b["scope"] == "read"
    assert claims_b["exp"] <= claims_a["exp"]

    principal = cast.server.verifier.verify_access_token(token_b, now=now)
    assert principal.agent_id == "agent-b"
    assert principal.delegation == ("user:alice", "agent-a")
    assert principal.acting_for == "alice"
    context = Context(**principal.context_fields())
    assert context.delegation == ("user:alice", "agent-a")
    assert context.acting_for == "alice"


def test_agent_acting_for_agent_without_a_user(cast: Cast) -> None:
    now = cast.clock.now
    token = _exchange(
        cast, token_for(cast.server, cast.a, now), token_for(cast.server, cast.b, now)
    )
    principal = cast.server.verifier.verify_access_token(token, now=now)
    assert principal.delegation == ("agent-a",)
    assert principal.acting_for is None
    assert principal.scopes == {"read", "write"}  # A's token ∩ B's own scopes


def test_scope_cannot_widen_along_the_chain(cast: Cast, store: Store) -> None:
    now = cast.clock.now
    token_a = _exchange(
        cast,
        _user_token(cast),
        token_for(cast.server, cast.a, now),
        subject_type=JWT_TYPE,
        scope="read",
    )
    actor_b = token_for(cast.server, cast.b, now)
    assert _refused(cast, store, token_a, actor_b, scope="write") == "scope_widened"
    # B holds `write` itself, but A's token did not carry it: the narrower wins
    assert _refused(cast, store, token_a, actor_b, scope="read write") == "scope_widened"
    # and A may not obtain a scope it does not hold, even for its user
    assert (
        _refused(
            cast,
            store,
            _user_token(cast),
            token_for(cast.server, cast.c, now),
            subject_type=JWT_TYPE,
            scope="write",
        )
        == "scope_widened"
    )


def test_chain_longer_than_allowed_is_refused(cast: Cast, store: Store) -> None:
    now = cast.clock.now
    token_a = _exchange(
        cast, _user_token(cast), token_for(cast.server, cast.a, now), subject_type=JWT_TYPE
    )
    token_b = _exchange(cast, token_a, token_for(cast.server, cast.b, now))
    reason = _refused(cast, store, token_b, token_for(cast.server, cast.c, now))
    assert reason == "act_chain_too_long"


def test_actor_must_be_the_agent_itself(cast: Cast, store: Store) -> None:
    now = cast.clock.now
    token_a = _exchange(
        cast, _user_token(cast), token_for(cast.server, cast.a, now), subject_type=JWT_TYPE
    )
    # a delegated token is not an actor token
    assert _refused(cast, store, _user_token(cast), token_a, subject_type=JWT_TYPE) == (
        "actor_token_delegated"
    )
    # the authenticated client must be the actor
    from tests.integration.identity.identity_support import client_assertion

    reason = _refused(
        cast,
        store,
        token_a,
        token_for(cast.server, cast.b, now),
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=client_assertion(cast.c, now),
    )
    assert reason == "client_actor_mismatch"
    # an agent cannot appear twice in its own chain
    assert _refused(cast, store, token_a, token_for(cast.server, cast.a, now)) == "delegation_loop"


def test_subject_from_an_untrusted_issuer(cast: Cast, store: Store) -> None:
    rogue = LocalIssuer()
    try:
        token = rogue.mint("alice", USER_AUD, cast.clock.now)
        reason = _refused(
            cast,
            store,
            token,
            token_for(cast.server, cast.a, cast.clock.now),
            subject_type=JWT_TYPE,
        )
        assert reason == "issuer_untrusted"
    finally:
        rogue.close()


def test_missing_parameters(cast: Cast, store: Store) -> None:
    actor = token_for(cast.server, cast.a, cast.clock.now)
    assert _refused(cast, store, "", actor) == "subject_token_missing"
    assert _refused(cast, store, _user_token(cast), "", subject_type=JWT_TYPE) == (
        "actor_token_missing"
    )
    assert (
        _refused(
            cast,
            store,
            _user_token(cast),
            actor,
            subject_type=JWT_TYPE,
            requested_token_type="urn:ietf:params:oauth:token-type:refresh_token",
        )
        == "token_type_unsupported"
    )


def test_suspending_an_intermediate_agent_breaks_the_chain(cast: Cast, registry: Registry) -> None:
    now = cast.clock.now
    token_a = _exchange(
        cast, _user_token(cast), token_for(cast.server, cast.a, now), subject_type=JWT_TYPE
    )
    token_b = _exchange(cast, token_a, token_for(cast.server, cast.b, now))
    assert cast.server.verifier.verify_access_token(token_b, now=now).agent_id == "agent-b"
    registry.suspend("agent-a", reason="compromised")
    with pytest.raises(RejectedError) as caught:
        cast.server.verifier.verify_access_token(token_b, now=now)
    assert caught.value.reason == "agent_suspended"


def test_delegated_token_never_outlives_the_user_token(cast: Cast) -> None:
    now = cast.clock.now
    short_user = cast.idp.mint("alice", USER_AUD, now, exp=int(now.timestamp()) + 60)
    token = _exchange(cast, short_user, token_for(cast.server, cast.a, now), subject_type=JWT_TYPE)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims["exp"] == int(now.timestamp()) + 60
    with pytest.raises(RejectedError):
        cast.server.verifier.verify_access_token(token, now=now + timedelta(seconds=120))
