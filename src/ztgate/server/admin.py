"""The admin API: agents, blueprints, policies, grants, approvals, kill switch, audit.

Authentication is separate from agents' tokens: a bearer admin key (``ztadm_...``, created
with ``ztgate serve --create-admin-key`` or :meth:`ControlPlane.create_admin_key`) whose
hash is in the store, bound to one role:

- ``viewer``: read agents, blueprints, policies, grants, approvals, kill switches;
- ``auditor``: viewer plus audit queries;
- ``approver``: viewer plus deciding approvals and elevated grants;
- ``admin``: everything.

The acting human recorded in the audit log is the key's name. Every check that makes an
action legal (who may approve what, policy validity) lives in the service, not here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, Field

from ztgate.audit.backends import QueryFilter
from ztgate.core.policy import validate_policy
from ztgate.errors import PolicyError, StoreError, UsageError
from ztgate.server.authzen import ErrorBody
from ztgate.service.control import ControlPlane
from ztgate.store import (
    AdminKey,
    AdminRole,
    Agent,
    ApprovalRecord,
    ApprovalStatus,
    GrantRecord,
    GrantStatus,
    KillScope,
    KillSwitch,
    PolicyVersion,
)

READ = frozenset(AdminRole)
AUDIT = frozenset({AdminRole.ADMIN, AdminRole.AUDITOR})
DECIDE = frozenset({AdminRole.ADMIN, AdminRole.APPROVER})
ADMIN = frozenset({AdminRole.ADMIN})

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="An admin API key: `ztadm_...`")

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "The request is not valid"},
    401: {"model": ErrorBody, "description": "Missing or unknown admin key"},
    403: {"model": ErrorBody, "description": "The key's role does not allow this"},
    404: {"model": ErrorBody, "description": "No such object"},
    409: {"model": ErrorBody, "description": "The object already exists"},
    503: {"model": ErrorBody, "description": "The store cannot be reached"},
}

Name = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")]


class AgentOut(BaseModel):
    id: str
    display_name: str
    blueprint: str | None
    owners: list[str]
    sponsors: list[str]
    status: str
    risk_level: str
    created_at: datetime
    expires_at: datetime | None

    @classmethod
    def of(cls, agent: Agent) -> AgentOut:
        return cls(
            id=agent.id,
            display_name=agent.display_name,
            blueprint=agent.blueprint,
            owners=list(agent.owners),
            sponsors=list(agent.sponsors),
            status=agent.status.value,
            risk_level=agent.risk_level,
            created_at=agent.created_at,
            expires_at=agent.expires_at,
        )


class AgentIn(BaseModel):
    id: Name
    owners: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    sponsors: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)
    blueprint: Name | None = None
    display_name: str | None = Field(default=None, max_length=400)
    risk_level: str = Field(default="low", pattern="^(low|medium|high|critical)$")


class BlueprintIn(BaseModel):
    id: Name
    parent: Name | None = None
    display_name: str | None = Field(default=None, max_length=400)
    permissions: list[Annotated[str, Field(min_length=1, max_length=200)]] = []


class BlueprintOut(BaseModel):
    id: str
    display_name: str
    parent: str | None
    permissions: list[str]


class StatusChange(BaseModel):
    reason: str | None = Field(default=None, max_length=1000)


class PolicyIn(BaseModel):
    text: str = Field(min_length=1, max_length=2_000_000)
    comment: str = Field(default="", max_length=1000)
    activate: bool = False


class PolicyOut(BaseModel):
    number: int
    digest: str
    uploaded_by: str
    uploaded_at: datetime
    active: bool
    comment: str
    activated_at: datetime | None

    @classmethod
    def of(cls, v: PolicyVersion) -> PolicyOut:
        return cls(
            number=v.number,
            digest=v.digest,
            uploaded_by=v.uploaded_by,
            uploaded_at=v.uploaded_at,
            active=v.active,
            comment=v.comment,
            activated_at=v.activated_at,
        )


class ValidationOut(BaseModel):
    valid: bool
    problems: list[str]


class GrantIn(BaseModel):
    agent: Name
    permission: str = Field(min_length=1, max_length=200)
    justification: str = Field(min_length=1, max_length=2000)
    ttl_seconds: int = Field(gt=0, le=86_400)


class GrantOut(BaseModel):
    id: str
    agent: str
    permission: str
    justification: str
    status: str
    requested_by: str
    requested_at: datetime
    ttl_seconds: int
    issued_at: datetime | None
    expires_at: datetime | None
    decided_by: str | None

    @classmethod
    def of(cls, g: GrantRecord) -> GrantOut:
        return cls(
            id=g.id,
            agent=g.agent,
            permission=g.permission,
            justification=g.justification,
            status=g.status.value,
            requested_by=g.requested_by,
            requested_at=g.requested_at,
            ttl_seconds=g.ttl_seconds,
            issued_at=g.issued_at,
            expires_at=g.expires_at,
            decided_by=g.decided_by,
        )


class ApprovalOut(BaseModel):
    id: str
    agent: str
    tool: str
    server: str | None
    session: str | None
    requested_by: str
    status: str
    created_at: datetime
    expires_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    note: str | None

    @classmethod
    def of(cls, a: ApprovalRecord) -> ApprovalOut:
        return cls(
            id=a.id,
            agent=a.agent,
            tool=a.tool,
            server=a.server,
            session=a.session,
            requested_by=a.requested_by,
            status=a.status.value,
            created_at=a.created_at,
            expires_at=a.expires_at,
            decided_by=a.decided_by,
            decided_at=a.decided_at,
            note=a.note,
        )


class DecisionIn(BaseModel):
    note: str | None = Field(default=None, max_length=2000)


class KillIn(BaseModel):
    scope: KillScope
    target: str = Field(default="*", min_length=1, max_length=200)
    reason: str = Field(min_length=1, max_length=1000)


class KillOut(BaseModel):
    scope: str
    target: str
    engaged_at: datetime
    actor: str
    reason: str

    @classmethod
    def of(cls, k: KillSwitch) -> KillOut:
        return cls(
            scope=k.scope.value,
            target=k.target,
            engaged_at=k.engaged_at,
            actor=k.actor,
            reason=k.reason,
        )


class Released(BaseModel):
    released: bool


class LabelsIn(BaseModel):
    labels: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(min_length=1)


class LabelsOut(BaseModel):
    session: str
    labels: list[str]


class AuditRecordOut(BaseModel):
    seq: int
    hash: str
    type: str
    record: dict[str, Any]


def _role(allowed: frozenset[AdminRole]) -> Callable[..., AdminKey]:
    def check(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    ) -> AdminKey:
        control: ControlPlane = request.app.state.control
        if credentials is None:
            raise HTTPException(401, "an admin key is required")
        key = control.authenticate_admin(credentials.credentials)
        if key is None:
            raise HTTPException(401, "unknown admin key")
        if key.role not in allowed:
            raise HTTPException(403, f"role `{key.role.value}` may not do this")
        return key

    return check


Reader = Annotated[AdminKey, Depends(_role(READ))]
Auditor = Annotated[AdminKey, Depends(_role(AUDIT))]
Decider = Annotated[AdminKey, Depends(_role(DECIDE))]
Admin = Annotated[AdminKey, Depends(_role(ADMIN))]


def admin_router(control: ControlPlane) -> APIRouter:
    """The admin routes bound to ``control``."""
    router = APIRouter(prefix="/admin/v1", tags=["admin"], responses=ERRORS)

    # -- agents and blueprints -------------------------------------------------------------

    @router.get("/agents", response_model=list[AgentOut])
    def list_agents(_: Reader) -> list[AgentOut]:
        return [AgentOut.of(a) for a in control.registry.list_agents()]

    @router.post("/agents", response_model=AgentOut, status_code=201)
    def create_agent(body: AgentIn, key: Admin) -> AgentOut:
        agent = _usage(
            lambda: control.registry.create_agent(
                body.id,
                owners=body.owners,
                sponsors=body.sponsors,
                blueprint=body.blueprint,
                display_name=body.display_name,
                risk_level=body.risk_level,
                actor=key.name,
            )
        )
        return AgentOut.of(agent)

    @router.get("/agents/{agent_id}", response_model=AgentOut)
    def get_agent(agent_id: str, _: Reader) -> AgentOut:
        agent = control.store.agents.get(agent_id)
        if agent is None:
            raise HTTPException(404, f"no agent `{agent_id}`")
        return AgentOut.of(agent)

    @router.post("/agents/{agent_id}/suspend", response_model=AgentOut)
    def suspend_agent(agent_id: str, body: StatusChange, key: Admin) -> AgentOut:
        _exists(control, agent_id)
        _usage(lambda: control.suspend_agent(agent_id, actor=key.name, reason=body.reason))
        return get_agent(agent_id, key)

    @router.post("/agents/{agent_id}/resume", response_model=AgentOut)
    def resume_agent(agent_id: str, key: Admin) -> AgentOut:
        _exists(control, agent_id)
        _usage(lambda: control.resume_agent(agent_id, actor=key.name))
        return get_agent(agent_id, key)

    @router.get("/blueprints", response_model=list[BlueprintOut])
    def list_blueprints(_: Reader) -> list[BlueprintOut]:
        return [
            BlueprintOut(
                id=b.id,
                display_name=b.display_name,
                parent=b.parent,
                permissions=list(b.permissions),
            )
            for b in control.registry.list_blueprints()
        ]

    @router.post("/blueprints", response_model=BlueprintOut, status_code=201)
    def create_blueprint(body: BlueprintIn, key: Admin) -> BlueprintOut:
        b = _usage(
            lambda: control.registry.create_blueprint(
                body.id,
                parent=body.parent,
                display_name=body.display_name,
                permissions=body.permissions,
                actor=key.name,
            )
        )
        return BlueprintOut(
            id=b.id, display_name=b.display_name, parent=b.parent, permissions=list(b.permissions)
        )

    # -- policies --------------------------------------------------------------------------

    @router.get("/policies", response_model=list[PolicyOut])
    def list_policies(_: Reader) -> list[PolicyOut]:
        return [PolicyOut.of(v) for v in control.store.policies.list()]

    @router.post("/policies/validate", response_model=ValidationOut)
    def validate(body: PolicyIn, _: Reader) -> ValidationOut:
        problems = validate_policy(body.text, "<upload>")
        return ValidationOut(valid=not problems, problems=[str(p) for p in problems])

    @router.post("/policies", response_model=PolicyOut, status_code=201)
    def upload_policy(body: PolicyIn, key: Admin) -> PolicyOut:
        version = _usage(
            lambda: control.upload_policy(body.text, actor=key.name, comment=body.comment)
        )
        if body.activate:
            version = control.activate_policy(version.number, actor=key.name)
        return PolicyOut.of(version)

    @router.post("/policies/rollback", response_model=PolicyOut)
    def rollback(key: Admin) -> PolicyOut:
        return PolicyOut.of(_usage(lambda: control.rollback_policy(actor=key.name)))

    @router.post("/policies/{number}/activate", response_model=PolicyOut)
    def activate(number: int, key: Admin) -> PolicyOut:
        if control.store.policies.get(number) is None:
            raise HTTPException(404, f"no policy version `{number}`")
        return PolicyOut.of(_usage(lambda: control.activate_policy(number, actor=key.name)))

    # -- grants ----------------------------------------------------------------------------

    @router.get("/grants", response_model=list[GrantOut])
    def list_grants(
        _: Reader, agent: str | None = None, status: GrantStatus | None = None
    ) -> list[GrantOut]:
        return [GrantOut.of(g) for g in control.store.grants.list(agent=agent, status=status)]

    @router.post("/grants", response_model=GrantOut, status_code=201)
    def request_grant(body: GrantIn, key: Admin) -> GrantOut:
        record = _usage(
            lambda: control.request_grant(
                agent=body.agent,
                permission=body.permission,
                justification=body.justification,
                ttl=timedelta(seconds=body.ttl_seconds),
                requested_by=key.name,
            )
        )
        return GrantOut.of(record)

    @router.post("/grants/{grant_id}/approve", response_model=GrantOut)
    def approve_grant(grant_id: str, key: Decider) -> GrantOut:
        _grant_exists(control, grant_id)
        return GrantOut.of(_usage(lambda: control.approve_grant(grant_id, approver=key.name)))

    @router.post("/grants/{grant_id}/deny", response_model=GrantOut)
    def deny_grant(grant_id: str, key: Decider) -> GrantOut:
        _grant_exists(control, grant_id)
        return GrantOut.of(_usage(lambda: control.deny_grant(grant_id, approver=key.name)))

    @router.post("/grants/{grant_id}/release", response_model=GrantOut)
    def release_grant(grant_id: str, key: Admin) -> GrantOut:
        _grant_exists(control, grant_id)
        return GrantOut.of(_usage(lambda: control.release_grant(grant_id, actor=key.name)))

    # -- approvals -------------------------------------------------------------------------

    @router.get("/approvals", response_model=list[ApprovalOut])
    def list_approvals(
        _: Reader, status: ApprovalStatus | None = None, agent: str | None = None
    ) -> list[ApprovalOut]:
        records = control.approvals.list(control.clock(), status=status, agent=agent)
        return [ApprovalOut.of(a) for a in records]

    @router.get("/approvals/{approval_id}", response_model=ApprovalOut)
    def get_approval(approval_id: str, _: Reader) -> ApprovalOut:
        return ApprovalOut.of(_found(lambda: control.approvals.get(approval_id, control.clock())))

    @router.post("/approvals/{approval_id}/approve", response_model=ApprovalOut)
    def approve(approval_id: str, body: DecisionIn, key: Decider) -> ApprovalOut:
        _found(lambda: control.approvals.get(approval_id, control.clock()))
        return ApprovalOut.of(
            _usage(lambda: control.approve(approval_id, approver=key.name, note=body.note))
        )

    @router.post("/approvals/{approval_id}/deny", response_model=ApprovalOut)
    def deny(approval_id: str, body: DecisionIn, key: Decider) -> ApprovalOut:
        _found(lambda: control.approvals.get(approval_id, control.clock()))
        return ApprovalOut.of(
            _usage(lambda: control.deny(approval_id, approver=key.name, note=body.note))
        )

    # -- kill switch -----------------------------------------------------------------------

    @router.get("/kill-switches", response_model=list[KillOut])
    def list_switches(_: Reader) -> list[KillOut]:
        return [KillOut.of(k) for k in control.store.kill_switches.list()]

    @router.post("/kill-switches", response_model=KillOut, status_code=201)
    def engage(body: KillIn, key: Admin) -> KillOut:
        switch = _usage(
            lambda: control.kill(body.scope, body.target, actor=key.name, reason=body.reason)
        )
        return KillOut.of(switch)

    @router.delete("/kill-switches/{scope}/{target}", response_model=Released)
    def release(scope: KillScope, target: str, key: Admin) -> Released:
        return Released(released=control.release_kill(scope, target, actor=key.name))

    # -- sessions --------------------------------------------------------------------------

    @router.post("/sessions/{session_id}/labels", response_model=LabelsOut)
    def label_session(session_id: str, body: LabelsIn, _: Admin) -> LabelsOut:
        control.state.add_labels(session_id, frozenset(body.labels), control.clock())
        return LabelsOut(session=session_id, labels=sorted(control.state.labels(session_id)))

    # -- audit -----------------------------------------------------------------------------

    @router.get("/audit", response_model=list[AuditRecordOut])
    def audit(
        _: Auditor,
        agent: str | None = None,
        tool: str | None = None,
        effect: str | None = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    ) -> list[AuditRecordOut]:
        if control.audit is None:
            return []
        control.audit.flush()
        records = control.audit.backend.query(
            QueryFilter(agent=agent, tool=tool, effect=effect), limit=limit, newest_first=True
        )
        return [
            AuditRecordOut(seq=r.seq, hash=r.hash, type=r.type, record=json.loads(r.record))
            for r in records
        ]

    return router


def _usage(action: Callable[[], T]) -> T:
    try:
        return action()
    except PolicyError as error:
        raise HTTPException(400, "; ".join(str(p) for p in error.problems)) from None
    except UsageError as error:
        raise HTTPException(400, str(error)) from None
    except StoreError as error:
        if "already exists" in str(error):
            raise HTTPException(409, str(error)) from None
        raise


def _found(action: Callable[[], T]) -> T:
    try:
        return action()
    except UsageError as error:
        raise HTTPException(404, str(error)) from None


def _exists(control: ControlPlane, agent_id: str) -> None:
    if control.store.agents.get(agent_id) is None:
        raise HTTPException(404, f"no agent `{agent_id}`")


def _grant_exists(control: ControlPlane, grant_id: str) -> None:
    if control.store.grants.get(grant_id) is None:
        raise HTTPException(404, f"no grant `{grant_id}`")
