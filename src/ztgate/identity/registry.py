"""The agent registry: creation, lifecycle, blueprints, client keys, federation mappings.

Rules that make an agent valid live here (not in the store): an id of a safe shape, at
least one owner and one sponsor, an existing blueprint, allowed credential types, legal
status transitions. Every change emits a :class:`LifecycleEvent` after it commits.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ztgate.core.models import RiskLevel
from ztgate.errors import UsageError
from ztgate.identity import _jose
from ztgate.identity.conditions import AccessConditions
from ztgate.store import (
    Agent,
    AgentStatus,
    Blueprint,
    ClientKey,
    CredentialType,
    EventSink,
    FederationTrust,
    LifecycleEvent,
    Revocation,
    Store,
    StoreEventSink,
    SubjectMapping,
)

_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
_SCOPE = re.compile(r"^[\x21\x23-\x5B\x5D-\x7E]{1,200}$")  # RFC 6749 scope-token
DEFAULT_CREDENTIALS = (CredentialType.PRIVATE_KEY_JWT, CredentialType.FEDERATED)
MAX_BLUEPRINT_DEPTH = 16
# Event kinds follow the audit log's lifecycle vocabulary where it has a name for them.
_TRANSITION_EVENTS = {
    "suspend": "agent_suspended",
    "resume": "agent_resumed",
    "disable": "agent_disabled",
    "decommission": "agent_decommissioned",
}

Clock = Callable[[], datetime]


def _utcnow() -> datetime:
    return datetime.now(UTC)


def validate_id(value: str, what: str) -> str:
    if not isinstance(value, str) or not _ID.match(value):
        raise UsageError(
            f"invalid {what} id `{value}`: use letters, digits, `.`, `_`, `-` (max 128)"
        )
    return value


def validate_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    out = []
    for scope in scopes:
        if not isinstance(scope, str) or not _SCOPE.match(scope):
            raise UsageError(f"invalid scope `{scope}`")
        out.append(scope)
    return tuple(dict.fromkeys(out))


@dataclass(frozen=True, slots=True)
class ResolvedBlueprint:
    """A blueprint with its ancestry folded in: what an agent of it actually gets."""

    chain: tuple[str, ...]  # the blueprint first, then its parent, ...
    permissions: frozenset[str]
    policies: tuple[str, ...]
    credential_types: frozenset[CredentialType]
    conditions: tuple[AccessConditions, ...]


@dataclass(frozen=True, slots=True)
class AgentProfile:
    """An agent plus everything derived from its blueprint, as authentication needs it."""

    agent: Agent
    scopes: frozenset[str]
    credential_types: frozenset[CredentialType]
    conditions: tuple[AccessConditions, ...]


class Registry:
    """Registry operations over a store; pass an audit-backed ``events`` sink when wired."""

    def __init__(
        self, store: Store, *, events: EventSink | None = None, clock: Clock = _utcnow
    ) -> None:
        self.store = store
        self.events: EventSink = events if events is not None else StoreEventSink(store)
        self._clock = clock

    def _emit(
        self,
        event_kind: str,
        event_subject: str,
        actor: str | None,
        *,
        reason: str | None = None,
        **detail: Any,
    ) -> None:
        self.events.emit(
            LifecycleEvent(
                kind=event_kind,
                subject=event_subject,
                at=self._clock(),
                actor=actor,
                reason=reason,
                detail=detail,
            )
        )

    # -- blueprints ---------------------------------------------------------------------

    def create_blueprint(
        self,
        blueprint_id: str,
        *,
        display_name: str | None = None,
        parent: str | None = None,
        permissions: Sequence[str] = (),
        policies: Sequence[str] = (),
        credential_types: Sequence[str] | None = None,
        conditions: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Blueprint:
        validate_id(blueprint_id, "blueprint")
        parent_resolved = self.resolve_blueprint(parent) if parent is not None else None
        try:
            types = tuple(
                CredentialType(t)
                for t in (credential_types or [c.value for c in DEFAULT_CREDENTIALS])
            )
        except ValueError as error:
            raise UsageError(f"unknown credential type: {error}") from error
        if parent_resolved is not None and not set(types) <= parent_resolved.credential_types:
            raise UsageError(
                f"blueprint `{blueprint_id}` allows credential types its parent `{parent}` does not"
            )
        if parent_resolved is not None and len(parent_resolved.chain) >= MAX_BLUEPRINT_DEPTH:
            raise UsageError(f"blueprint nesting deeper than {MAX_BLUEPRINT_DEPTH}")
        AccessConditions.parse(conditions or {}, where=f"blueprint `{blueprint_id}` conditions")
        for policy in policies:
            validate_id(policy, "policy")
        blueprint = Blueprint(
            id=blueprint_id,
            display_name=display_name or blueprint_id,
            parent=parent,
            permissions=validate_scopes(permissions),
            policies=tuple(dict.fromkeys(policies)),
            credential_types=types,
            created_at=self._clock(),
            conditions=dict(conditions or {}),
        )
        self.store.blueprints.add(blueprint)
        self._emit("blueprint_created", f"blueprint:{blueprint_id}", actor, parent=parent)
        return blueprint

    def get_blueprint(self, blueprint_id: str) -> Blueprint:
        blueprint = self.store.blueprints.get(blueprint_id)
        if blueprint is None:
            raise UsageError(f"unknown blueprint `{blueprint_id}`")
        return blueprint

    def list_blueprints(self) -> list[Blueprint]:
        return self.store.blueprints.list()

    def resolve_blueprint(self, blueprint_id: str) -> ResolvedBlueprint:
        """Fold a blueprint and its ancestors: permissions and policies accumulate,
        credential types narrow, every level's conditions apply."""
        chain: list[Blueprint] = []
        current: str | None = blueprint_id
        while current is not None:
            if len(chain) > MAX_BLUEPRINT_DEPTH or any(b.id == current for b in chain):
                raise UsageError(f"blueprint `{blueprint_id}` has a cyclic or too deep ancestry")
            chain.append(self.get_blueprint(current))
            current = chain[-1].parent
        permissions: set[str] = set()
        policies: list[str] = []
        types = set(CredentialType)
        conditions = []
        for blueprint in reversed(chain):
            permissions.update(blueprint.permissions)
            policies.extend(p for p in blueprint.policies if p not in policies)
            types &= set(blueprint.credential_types)
            conditions.append(AccessConditions.parse(blueprint.conditions))
        return ResolvedBlueprint(
            chain=tuple(b.id for b in chain),
            permissions=frozenset(permissions),
            policies=tuple(policies),
            credential_types=frozenset(types),
            conditions=tuple(conditions),
        )

    # -- agents -------------------------------------------------------------------------

    def create_agent(
        self,
        agent_id: str,
        *,
        owners: Sequence[str],
        sponsors: Sequence[str],
        display_name: str | None = None,
        blueprint: str | None = None,
        expires_at: datetime | None = None,
        risk_level: str = RiskLevel.LOW.value,
        tags: Sequence[str] = (),
        scopes: Sequence[str] = (),
        conditions: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Agent:
        validate_id(agent_id, "agent")
        if not [o for o in owners if o.strip()]:
            raise UsageError(f"agent `{agent_id}` needs at least one owner")
        if not [s for s in sponsors if s.strip()]:
            raise UsageError(f"agent `{agent_id}` needs at least one sponsor")
        try:
            RiskLevel(risk_level)
        except ValueError as error:
            raise UsageError(f"unknown risk level `{risk_level}`") from error
        now = self._clock()
        if expires_at is not None and expires_at <= now:
            raise UsageError(f"agent `{agent_id}` would already be expired")
        if blueprint is not None:
            self.resolve_blueprint(blueprint)
        AccessConditions.parse(conditions or {}, where=f"agent `{agent_id}` conditions")
        agent = Agent(
            id=agent_id,
            display_name=display_name or agent_id,
            blueprint=blueprint,
            owners=tuple(dict.fromkeys(o.strip() for o in owners if o.strip())),
            sponsors=tuple(dict.fromkeys(s.strip() for s in sponsors if s.strip())),
            status=AgentStatus.ACTIVE,
            created_at=now,
            updated_at=now,
            expires_at=expires_at,
            last_attested_at=None,
            risk_level=risk_level,
            tags=tuple(dict.fromkeys(tags)),
            scopes=validate_scopes(scopes),
            conditions=dict(conditions or {}),
        )
        self.store.agents.add(agent)
        self._emit(
            "agent_created", agent_id, actor, blueprint=blueprint, sponsors=list(agent.sponsors)
        )
        return agent

    def get_agent(self, agent_id: str) -> Agent:
        agent = self.store.agents.get(agent_id)
        if agent is None:
            raise UsageError(f"unknown agent `{agent_id}`")
        return agent

    def list_agents(self, *, status: AgentStatus | None = None) -> list[Agent]:
        return self.store.agents.list(status=status)

    def profile(self, agent_id: str) -> AgentProfile | None:
        """The agent with its blueprint folded in; ``None`` if it does not exist."""
        agent = self.store.agents.get(agent_id)
        if agent is None:
            return None
        conditions = [AccessConditions.parse(agent.conditions)]
        scopes = set(agent.scopes)
        types = frozenset(DEFAULT_CREDENTIALS)
        if agent.blueprint is not None:
            resolved = self.resolve_blueprint(agent.blueprint)
            scopes |= resolved.permissions
            types = resolved.credential_types
            conditions[:0] = resolved.conditions
        return AgentProfile(
            agent, frozenset(scopes), types, tuple(c for c in conditions if c != AccessConditions())
        )

    _TRANSITIONS: Mapping[str, tuple[frozenset[AgentStatus], AgentStatus]] = {
        "suspend": (frozenset({AgentStatus.ACTIVE}), AgentStatus.SUSPENDED),
        "resume": (frozenset({AgentStatus.SUSPENDED, AgentStatus.DISABLED}), AgentStatus.ACTIVE),
        "disable": (frozenset({AgentStatus.ACTIVE, AgentStatus.SUSPENDED}), AgentStatus.DISABLED),
        "decommission": (
            frozenset({AgentStatus.ACTIVE, AgentStatus.SUSPENDED, AgentStatus.DISABLED}),
            AgentStatus.DECOMMISSIONED,
        ),
    }

    def _transition(
        self, action: str, agent_id: str, reason: str | None, actor: str | None
    ) -> Agent:
        allowed_from, target = self._TRANSITIONS[action]
        with self.store.transaction() as conn:
            agent = self.store.agents.get(agent_id, conn)
            if agent is None:
                raise UsageError(f"unknown agent `{agent_id}`")
            if agent.status not in allowed_from:
                raise UsageError(
                    f"cannot {action} agent `{agent_id}` in status `{agent.status.value}`"
                )
            updated = replace(agent, status=target, updated_at=self._clock())
            self.store.agents.replace(updated, conn)
            if target is AgentStatus.DECOMMISSIONED:
                for key in self.store.client_keys.list_for(agent_id, conn=conn):
                    self.store.client_keys.revoke(agent_id, key.kid, self._clock(), conn)
        self._emit(
            _TRANSITION_EVENTS[action], agent_id, actor, reason=reason, previous=agent.status.value
        )
        return updated

    def suspend(
        self, agent_id: str, *, reason: str | None = None, actor: str | None = None
    ) -> Agent:
        return self._transition("suspend", agent_id, reason, actor)

    def resume(
        self, agent_id: str, *, reason: str | None = None, actor: str | None = None
    ) -> Agent:
        return self._transition("resume", agent_id, reason, actor)

    def disable(
        self, agent_id: str, *, reason: str | None = None, actor: str | None = None
    ) -> Agent:
        return self._transition("disable", agent_id, reason, actor)

    def decommission(
        self, agent_id: str, *, reason: str | None = None, actor: str | None = None
    ) -> Agent:
        return self._transition("decommission", agent_id, reason, actor)

    def attest(self, agent_id: str, *, actor: str | None = None) -> Agent:
        """Record that the agent's owner confirmed it is still needed and correct."""
        agent = self.get_agent(agent_id)
        if agent.status is AgentStatus.DECOMMISSIONED:
            raise UsageError(f"agent `{agent_id}` is decommissioned")
        now = self._clock()
        updated = replace(agent, last_attested_at=now, updated_at=now)
        self.store.agents.replace(updated)
        self._emit("agent_updated", agent_id, actor, change="attested")
        return updated

    def set_risk(self, agent_id: str, risk_level: str, *, actor: str | None = None) -> Agent:
        try:
            RiskLevel(risk_level)
        except ValueError as error:
            raise UsageError(f"unknown risk level `{risk_level}`") from error
        agent = self.get_agent(agent_id)
        updated = replace(agent, risk_level=risk_level, updated_at=self._clock())
        self.store.agents.replace(updated)
        self._emit(
            "agent_updated",
            agent_id,
            actor,
            change="risk_level",
            previous=agent.risk_level,
            risk=risk_level,
        )
        return updated

    # -- client keys --------------------------------------------------------------------

    def add_client_key(
        self, agent_id: str, unverified_jwk: Mapping[str, Any], *, actor: str | None = None
    ) -> ClientKey:
        """Register a public JWK for private_key_jwt; several may be active (rotation)."""
        agent = self.get_agent(agent_id)
        if agent.status is AgentStatus.DECOMMISSIONED:
            raise UsageError(f"agent `{agent_id}` is decommissioned")
        try:
            _jose.public_key_from_jwk(unverified_jwk)
        except ValueError as error:
            raise UsageError(f"refused key for `{agent_id}`: {error}") from error
        jwk = {
            k: v
            for k, v in unverified_jwk.items()
            if k in ("kty", "crv", "x", "y", "n", "e", "kid", "alg")
        }
        kid = str(jwk.get("kid") or _jose.thumbprint(jwk))
        jwk["kid"] = kid
        key = ClientKey(agent_id=agent_id, kid=kid, public_jwk=jwk, created_at=self._clock())
        self.store.client_keys.add(key)
        self._emit("agent_updated", agent_id, actor, change="key_added", kid=kid)
        return key

    def revoke_client_key(self, agent_id: str, kid: str, *, actor: str | None = None) -> None:
        if not self.store.client_keys.revoke(agent_id, kid, self._clock()):
            raise UsageError(f"no active key `{kid}` for agent `{agent_id}`")
        self._emit("agent_updated", agent_id, actor, change="key_revoked", kid=kid)

    def revoke_token(
        self,
        jti: str,
        *,
        expires_at: datetime,
        reason: str = "",
        actor: str | None = None,
    ) -> None:
        """Revoke an access token by ``jti`` until ``expires_at`` (its own expiry or later)."""
        if not jti or len(jti) > 200 or not jti.isprintable():
            raise UsageError(f"invalid token id `{jti}`")
        self.store.revocations.revoke(
            Revocation(jti=jti, revoked_at=self._clock(), expires_at=expires_at, reason=reason)
        )
        self._emit("token_revoked", jti, actor, reason=reason or None)

    # -- federation ---------------------------------------------------------------------

    def trust_issuer(
        self,
        issuer: str,
        *,
        kind: str,
        audiences: Sequence[str],
        algorithms: Sequence[str] = ("RS256", "ES256", "EdDSA"),
        discovery_url: str | None = None,
        jwks_uri: str | None = None,
        actor: str | None = None,
    ) -> FederationTrust:
        from ztgate.identity.federation import check_fetch_url

        if kind not in ("workload", "user"):
            raise UsageError(f"trust kind must be `workload` or `user`, got `{kind}`")
        if not audiences:
            raise UsageError("a trusted issuer needs at least one expected audience")
        if set(algorithms) - set(_jose.ALL_ALGORITHMS) or not algorithms:
            raise UsageError(f"algorithms must be among {', '.join(_jose.ALL_ALGORITHMS)}")
        check_fetch_url(issuer)
        for url in (discovery_url, jwks_uri):
            if url is not None:
                check_fetch_url(url)
        trust = FederationTrust(
            issuer=issuer,
            kind=kind,
            audiences=tuple(audiences),
            algorithms=tuple(algorithms),
            created_at=self._clock(),
            discovery_url=discovery_url,
            jwks_uri=jwks_uri,
        )
        self.store.federation.add_trust(trust)
        self._emit("issuer_trusted", issuer, actor, trust_kind=kind)
        return trust

    def map_subject(
        self, issuer: str, subject: str, agent_id: str, *, actor: str | None = None
    ) -> SubjectMapping:
        trust = self.store.federation.get_trust(issuer)
        if trust is None or trust.kind != "workload":
            raise UsageError(f"`{issuer}` is not a trusted workload issuer")
        self.get_agent(agent_id)
        mapping = SubjectMapping(issuer, subject, agent_id, self._clock())
        self.store.federation.map_subject(mapping)
        self._emit("subject_mapped", agent_id, actor, issuer=issuer, external_subject=subject)
        return mapping
