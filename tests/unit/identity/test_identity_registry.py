from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from tests.integration.identity.identity_support import T0, FakeClock
from ztgate.errors import UsageError
from ztgate.identity import Registry
from ztgate.identity._jose import public_jwk, thumbprint
from ztgate.store import AgentStatus, CredentialType, Store


def _create(registry: Registry, agent_id: str = "bot-1", **kw: object) -> None:
    args: dict[str, object] = {"owners": ["alice"], "sponsors": ["bob"]}
    args.update(kw)
    registry.create_agent(agent_id, **args)  # type: ignore[arg-type]


def test_agent_needs_owner_and_sponsor(registry: Registry) -> None:
    with pytest.raises(UsageError, match="at least one sponsor"):
        registry.create_agent("a", owners=["alice"], sponsors=[])
    with pytest.raises(UsageError, match="at least one owner"):
        registry.create_agent("a", owners=[" "], sponsors=["bob"])
    assert registry.list_agents() == []


@pytest.mark.parametrize("bad", ["", "user:alice", "../x", "a b", "-lead", "x" * 129])
def test_agent_ids_are_restricted(registry: Registry, bad: str) -> None:
    with pytest.raises(UsageError, match="invalid agent id"):
        _create(registry, bad)


def test_create_records_everything_and_emits_an_event(registry: Registry, store: Store) -> None:
    _create(
        registry,
        display_name="Bot One",
        expires_at=T0 + timedelta(days=1),
        risk_level="medium",
        tags=["ci", "ci"],
        scopes=["read"],
    )
    agent = registry.get_agent("bot-1")
    assert agent.status is AgentStatus.ACTIVE
    assert agent.display_name == "Bot One"
    assert agent.tags == ("ci",)
    assert agent.created_at == T0
    assert agent.expires_at == T0 + timedelta(days=1)
    events = store.events.list(subject="bot-1")
    assert [e.kind for e in events] == ["agent_created"]
    assert events[0].detail["sponsors"] == ["bob"]


def test_create_refuses_bad_inputs(registry: Registry) -> None:
    with pytest.raises(UsageError, match="unknown blueprint"):
        _create(registry, blueprint="nope")
    with pytest.raises(UsageError, match="unknown risk level"):
        _create(registry, risk_level="extreme")
    with pytest.raises(UsageError, match="already be expired"):
        _create(registry, expires_at=T0)
    with pytest.raises(UsageError, match="unknown key `sourc_cidrs`"):
        _create(registry, conditions={"sourc_cidrs": []})
    with pytest.raises(UsageError, match="invalid scope"):
        _create(registry, scopes=['bad"scope'])


def test_blueprints_inherit_and_narrow(registry: Registry) -> None:
    registry.create_blueprint("base", permissions=["read"], policies=["p-base"])
    registry.create_blueprint(
        "child",
        parent="base",
        permissions=["write"],
        policies=["p-child"],
        credential_types=["private_key_jwt"],
        conditions={"max_risk": "medium"},
    )
    resolved = registry.resolve_blueprint("child")
    assert resolved.chain == ("child", "base")
    assert resolved.permissions == {"read", "write"}
    assert resolved.policies == ("p-base", "p-child")
    assert resolved.credential_types == {CredentialType.PRIVATE_KEY_JWT}
    with pytest.raises(UsageError, match="its parent"):
        registry.create_blueprint("grand", parent="child", credential_types=["federated"])
    _create(registry, blueprint="child", scopes=["extra"])
    profile = registry.profile("bot-1")
    assert profile is not None
    assert profile.scopes == {"read", "write", "extra"}
    assert profile.credential_types == {CredentialType.PRIVATE_KEY_JWT}
    assert len(profile.conditions) == 1
    assert registry.profile("ghost") is None


def test_blueprint_parent_must_exist(registry: Registry) -> None:
    with pytest.raises(UsageError, match="unknown blueprint `missing`"):
        registry.create_blueprint("b", parent="missing")
    with pytest.raises(UsageError, match="unknown credential type"):
        registry.create_blueprint("b", credential_types=["client_secret"])


def test_lifecycle_transitions(registry: Registry, store: Store) -> None:
    _create(registry)
    assert registry.suspend("bot-1", reason="incident").status is AgentStatus.SUSPENDED
    with pytest.raises(UsageError, match="cannot suspend"):
        registry.suspend("bot-1")
    assert registry.resume("bot-1").status is AgentStatus.ACTIVE
    assert registry.disable("bot-1").status is AgentStatus.DISABLED
    assert registry.resume("bot-1").status is AgentStatus.ACTIVE
    assert registry.decommission("bot-1").status is AgentStatus.DECOMMISSIONED
    for action in (registry.resume, registry.suspend, registry.decommission):
        with pytest.raises(UsageError, match="cannot"):
            action("bot-1")
    kinds = [e.kind for e in store.events.list(subject="bot-1")]
    assert kinds == [
        "agent_created",
        "agent_suspended",
        "agent_resumed",
        "agent_disabled",
        "agent_resumed",
        "agent_decommissioned",
    ]
    assert store.events.list(subject="bot-1")[1].reason == "incident"
    with pytest.raises(UsageError, match="unknown agent"):
        registry.suspend("ghost")


def test_decommission_revokes_keys(registry: Registry, store: Store) -> None:
    _create(registry)
    key = ed25519.Ed25519PrivateKey.generate()
    registry.add_client_key("bot-1", public_jwk(key.public_key()))
    registry.decommission("bot-1")
    assert store.client_keys.list_for("bot-1") == []
    assert len(store.client_keys.list_for("bot-1", include_revoked=True)) == 1
    with pytest.raises(UsageError, match="decommissioned"):
        registry.add_client_key("bot-1", public_jwk(key.public_key()))


def test_attest_and_risk(registry: Registry, clock: FakeClock) -> None:
    _create(registry)
    clock.advance(60)
    assert registry.attest("bot-1").last_attested_at == T0 + timedelta(seconds=60)
    assert registry.set_risk("bot-1", "high").risk_level == "high"
    with pytest.raises(UsageError):
        registry.set_risk("bot-1", "weird")


def test_client_keys_only_public_and_strong(registry: Registry, store: Store) -> None:
    _create(registry)
    ed = ed25519.Ed25519PrivateKey.generate()
    jwk = public_jwk(ed.public_key())
    key = registry.add_client_key("bot-1", jwk)
    assert key.kid == thumbprint(jwk)
    assert "d" not in key.public_jwk
    ec_key = ec.generate_private_key(ec.SECP256R1())
    registry.add_client_key("bot-1", {**public_jwk(ec_key.public_key()), "kid": "ec-1"})
    assert {k.kid for k in store.client_keys.list_for("bot-1")} == {key.kid, "ec-1"}
    with pytest.raises(UsageError, match="private"):
        registry.add_client_key("bot-1", {**jwk, "d": "AAAA"})
    with pytest.raises(UsageError, match="symmetric"):
        registry.add_client_key("bot-1", {"kty": "oct", "k": "c2VjcmV0"})
    weak = rsa.generate_private_key(public_exponent=65537, key_size=1024)
    with pytest.raises(UsageError, match="below 2048"):
        registry.add_client_key("bot-1", public_jwk(weak.public_key()))
    registry.revoke_client_key("bot-1", "ec-1")
    with pytest.raises(UsageError, match="no active key"):
        registry.revoke_client_key("bot-1", "ec-1")


def test_federation_trust_validation(registry: Registry) -> None:
    with pytest.raises(UsageError, match="https"):
        registry.trust_issuer("http://idp.example.com", kind="workload", audiences=["x"])
    with pytest.raises(UsageError, match="kind"):
        registry.trust_issuer("https://idp.example.com", kind="robot", audiences=["x"])
    with pytest.raises(UsageError, match="audience"):
        registry.trust_issuer("https://idp.example.com", kind="workload", audiences=[])
    with pytest.raises(UsageError, match="algorithms"):
        registry.trust_issuer(
            "https://idp.example.com", kind="workload", audiences=["x"], algorithms=["HS256"]
        )
    registry.trust_issuer("https://idp.example.com", kind="user", audiences=["x"])
    _create(registry)
    with pytest.raises(UsageError, match="not a trusted workload issuer"):
        registry.map_subject("https://idp.example.com", "sub", "bot-1")


def test_token_revocation_and_key_rotation_are_events(
    registry: Registry, store: Store, clock: FakeClock
) -> None:
    from ztgate.identity import SigningKeys

    registry.revoke_token("jti-1", expires_at=T0 + timedelta(hours=1), reason="leaked")
    assert store.revocations.is_revoked("jti-1")
    revoked = store.events.list(kind="token_revoked")
    assert [(e.subject, e.reason) for e in revoked] == [("jti-1", "leaked")]
    with pytest.raises(UsageError, match="invalid token id"):
        registry.revoke_token("bad\x00id", expires_at=T0 + timedelta(hours=1))
    keys = SigningKeys(store, events=registry.events)
    first = keys.rotate(clock.now, retire_after=timedelta(0), actor="ops")
    second = keys.rotate(clock.now, retire_after=timedelta(minutes=20), actor="ops")
    rotated = store.events.list(kind="key_rotated")
    assert [e.subject for e in rotated] == [f"signing_key:{first.kid}", f"signing_key:{second.kid}"]
    assert rotated[1].actor == "ops"
    assert rotated[1].detail == {"alg": "EdDSA", "retire_after_s": 1200}
