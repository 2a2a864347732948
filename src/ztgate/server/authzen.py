"""OpenID AuthZEN 1.0 Authorization API: evaluation, evaluations (batch) and discovery.

Mapping to a ztgate tool call (documented in ``docs/http-api.md``):

- ``subject``: ``{"type": "agent", "id": "<agent id>", "properties": {"token": "<access
  token>"}}``; the token is optional unless the server requires it; when present it is
  verified and must name the same agent;
- ``action``: ``{"name": "call"}`` (the only action an agent performs on a tool);
- ``resource``: ``{"type": "tool", "id": "<tool name>", "properties": {"server": "<MCP
  server>", "arguments": {...}}}``;
- ``context``: optional ``session_id``, ``acting_for``, ``delegation``, ``risk``,
  ``attributes``.

A deny is ``200 {"decision": false, "context": {"reason": "<code>"}}``: one reason code,
never the rule or the message (those go to the audit log). An approval requirement is
``decision: false`` with ``context.outcome == "approval_required"`` and the approval id.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from ztgate.core.models import Effect
from ztgate.service.pipeline import Call, Outcome, Pipeline

MAX_BATCH = 100


class Subject(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1, max_length=200)
    id: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] | None = None


class Resource(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str = Field(min_length=1, max_length=200)
    id: str = Field(min_length=1, max_length=400)
    properties: dict[str, Any] | None = None


class Action(BaseModel):
    model_config = ConfigDict(extra="allow")

    name: str = Field(min_length=1, max_length=200)
    properties: dict[str, Any] | None = None


class EvaluationRequest(BaseModel):
    subject: Subject
    action: Action
    resource: Resource
    context: dict[str, Any] | None = None


class EvaluationResponse(BaseModel):
    decision: bool
    context: dict[str, Any] | None = None


class Semantic(StrEnum):
    EXECUTE_ALL = "execute_all"
    DENY_ON_FIRST_DENY = "deny_on_first_deny"
    PERMIT_ON_FIRST_PERMIT = "permit_on_first_permit"


class EvaluationsOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    evaluations_semantic: Semantic = Semantic.EXECUTE_ALL


class EvaluationItem(BaseModel):
    subject: Subject | None = None
    action: Action | None = None
    resource: Resource | None = None
    context: dict[str, Any] | None = None


class EvaluationsRequest(BaseModel):
    subject: Subject | None = None
    action: Action | None = None
    resource: Resource | None = None
    context: dict[str, Any] | None = None
    evaluations: list[EvaluationItem] | None = Field(default=None, max_length=MAX_BATCH)
    options: EvaluationsOptions | None = None


class EvaluationsResponse(BaseModel):
    evaluations: list[EvaluationResponse]


class ErrorBody(BaseModel):
    error: str
    detail: Any = None


_CONTEXT_KEYS = ("acting_for", "delegation", "risk", "attributes")


def _invalid(request_id: str) -> EvaluationResponse:
    return EvaluationResponse(
        decision=False, context={"reason": "invalid_request", "request_id": request_id}
    )


def to_call(
    subject: Subject,
    action: Action,
    resource: Resource,
    context: Mapping[str, Any] | None,
    *,
    request_id: str,
    source_ip: str | None,
) -> Call | None:
    """The tool call an AuthZEN request describes, or ``None`` if it describes none."""
    if subject.type != "agent" or resource.type != "tool" or action.name != "call":
        return None
    sprops = subject.properties or {}
    rprops = resource.properties or {}
    token = sprops.get("token")
    args = rprops.get("arguments", {})
    server = rprops.get("server")
    ctx = dict(context or {})
    session = ctx.get("session_id")
    if (
        (token is not None and not isinstance(token, str))
        or not isinstance(args, dict)
        or (server is not None and not isinstance(server, str))
        or (session is not None and not isinstance(session, str))
    ):
        return None
    call_context: dict[str, Any] = {k: ctx[k] for k in _CONTEXT_KEYS if k in ctx}
    delegation = call_context.get("delegation")
    if delegation is not None and (
        not isinstance(delegation, list) or not all(isinstance(d, str) for d in delegation)
    ):
        return None
    for key in ("acting_for", "risk"):
        if key in call_context and not isinstance(call_context[key], str):
            return None
    if "attributes" in call_context and not isinstance(call_context["attributes"], dict):
        return None
    return Call(
        tool=resource.id,
        args=args,
        agent=subject.id,
        session=session,
        server=server,
        context=call_context,
        unverified_token=token,
        source_ip=source_ip,
        request_id=request_id,
    )


def to_response(outcome: Outcome) -> EvaluationResponse:
    """Vague to callers: the decision, one reason code, and an approval id when asked."""
    if outcome.allowed:
        return EvaluationResponse(decision=True)
    context: dict[str, Any] = {"reason": outcome.public_reason, "request_id": outcome.request_id}
    if outcome.effect is Effect.APPROVAL_REQUIRED:
        context["reason"] = "approval_required"
        context["outcome"] = "approval_required"
        if outcome.approval_id is not None:
            context["approval_id"] = outcome.approval_id
    return EvaluationResponse(decision=False, context=context)


def evaluate_one(
    pipeline: Pipeline,
    subject: Subject,
    action: Action,
    resource: Resource,
    context: Mapping[str, Any] | None,
    *,
    request_id: str,
    source_ip: str | None,
) -> EvaluationResponse:
    call = to_call(subject, action, resource, context, request_id=request_id, source_ip=source_ip)
    if call is None:
        return _invalid(request_id)
    return to_response(pipeline.authorize(call))


def evaluate_many(
    pipeline: Pipeline, body: EvaluationsRequest, *, request_id: str, source_ip: str | None
) -> EvaluationsResponse:
    """Each item inherits the top-level subject/action/resource/context it omits."""
    items = body.evaluations or []
    semantic = body.options.evaluations_semantic if body.options else Semantic.EXECUTE_ALL
    results: list[EvaluationResponse] = []
    for index, item in enumerate(items):
        subject = item.subject or body.subject
        action = item.action or body.action
        resource = item.resource or body.resource
        context = item.context if item.context is not None else body.context
        item_id = f"{request_id}.{index}"
        if subject is None or action is None or resource is None:
            result = _invalid(item_id)
        else:
            result = evaluate_one(
                pipeline,
                subject,
                action,
                resource,
                context,
                request_id=item_id,
                source_ip=source_ip,
            )
        results.append(result)
        if semantic is Semantic.DENY_ON_FIRST_DENY and not result.decision:
            break
        if semantic is Semantic.PERMIT_ON_FIRST_PERMIT and result.decision:
            break
    return EvaluationsResponse(evaluations=results)


def discovery(base_url: str) -> dict[str, Any]:
    """The PDP metadata served at ``/.well-known/authzen-configuration``."""
    base = base_url.rstrip("/")
    return {
        "policy_decision_point": base,
        "access_evaluation_endpoint": f"{base}/access/v1/evaluation",
        "access_evaluations_endpoint": f"{base}/access/v1/evaluations",
    }
