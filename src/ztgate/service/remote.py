"""Client mode of :class:`~ztgate.service.gate.Gate`: the same calls, answered by a
``ztgate serve`` control plane over AuthZEN (decisions) and the admin API (grants, session
labels).

Fail closed: a network error, a timeout, a non-200 answer or a malformed body is a deny
with reason ``evaluation_error``; nothing is ever allowed that the server did not allow.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from ztgate.core.models import Context, Decision, Effect, Grant, Reason, ReasonCode
from ztgate.errors import UsageError

_CODES = {code.value: code for code in ReasonCode}


def _deny(code: ReasonCode, message: str) -> Decision:
    return Decision(Effect.DENY, (Reason(code, message),))


def decision_from_authzen(payload: Any) -> Decision:
    """Map an AuthZEN evaluation response to a :class:`Decision` (strictly)."""
    if not isinstance(payload, dict) or not isinstance(payload.get("decision"), bool):
        return _deny(ReasonCode.EVALUATION_ERROR, "malformed answer from the control plane")
    context = payload.get("context") or {}
    if not isinstance(context, dict):
        return _deny(ReasonCode.EVALUATION_ERROR, "malformed answer from the control plane")
    if payload["decision"] is True:
        return Decision(Effect.ALLOW, (Reason(ReasonCode.ALLOWED, "allowed by the control plane"),))
    if context.get("outcome") == "approval_required":
        approval = context.get("approval_id")
        return Decision(
            Effect.APPROVAL_REQUIRED,
            (Reason(ReasonCode.APPROVAL_REQUIRED, "a human must approve this call"),),
            approval_id=approval if isinstance(approval, str) else None,
        )
    code = _CODES.get(str(context.get("reason")), ReasonCode.EVALUATION_ERROR)
    return _deny(code, "denied by the control plane")


class RemoteClient:
    """Talks to a control plane at ``base_url``; ``admin_key`` enables grants and labels."""

    def __init__(
        self,
        base_url: str,
        *,
        admin_key: str | None = None,
        timeout: float = 2.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._admin_key = admin_key
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def authorize(
        self,
        *,
        agent: str,
        tool: str,
        args: Mapping[str, Any] | None,
        session: str | None,
        context: Context | Mapping[str, Any] | None,
        server: str | None,
        token: str | None = None,
    ) -> Decision:
        try:
            body = self._body(agent, tool, args, session, context, server, token)
            response = self._http.post("/access/v1/evaluation", json=body)
            if response.status_code != 200:
                return _deny(
                    ReasonCode.EVALUATION_ERROR,
                    f"the control plane answered {response.status_code}",
                )
            return decision_from_authzen(response.json())
        except Exception as error:  # fail closed on every transport or parsing failure
            return _deny(
                ReasonCode.EVALUATION_ERROR,
                f"the control plane could not be asked ({type(error).__name__}); denied",
            )

    @staticmethod
    def _body(
        agent: str,
        tool: str,
        args: Mapping[str, Any] | None,
        session: str | None,
        context: Context | Mapping[str, Any] | None,
        server: str | None,
        token: str | None,
    ) -> dict[str, Any]:
        subject: dict[str, Any] = {"type": "agent", "id": agent}
        if token is not None:
            subject["properties"] = {"token": token}
        props: dict[str, Any] = {"arguments": dict(args or {})}
        if server is not None:
            props["server"] = server
        ctx: dict[str, Any] = {}
        if isinstance(context, Context):
            ctx = {
                "acting_for": context.acting_for,
                "delegation": list(context.delegation),
                "risk": context.risk,
                "attributes": dict(context.attributes),
            }
            ctx = {k: v for k, v in ctx.items() if v not in (None, [], {})}
        elif context is not None:
            ctx = dict(context)
        if session is not None:
            ctx["session_id"] = session
        out: dict[str, Any] = {
            "subject": subject,
            "action": {"name": "call"},
            "resource": {"type": "tool", "id": tool, "properties": props},
        }
        if ctx:
            out["context"] = ctx
        return out

    # -- admin calls -----------------------------------------------------------------------

    def _admin(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        if self._admin_key is None:
            raise UsageError("this call needs an admin key (Gate.connect(..., admin_key=...))")
        try:
            response = self._http.post(
                path, json=body, headers={"Authorization": f"Bearer {self._admin_key}"}
            )
        except httpx.HTTPError as error:
            raise UsageError(f"the control plane could not be reached: {error}") from error
        if response.status_code >= 300:
            try:
                detail = response.json().get("error", "")
            except ValueError:
                detail = ""
            raise UsageError(f"the control plane refused ({response.status_code}): {detail}")
        result: dict[str, Any] = response.json()
        return result

    def grant(self, *, agent: str, permission: str, justification: str, ttl: timedelta) -> Grant:
        data = self._admin(
            "/admin/v1/grants",
            {
                "agent": agent,
                "permission": permission,
                "justification": justification,
                "ttl_seconds": int(ttl.total_seconds()),
            },
        )
        if data.get("status") != "active":
            raise UsageError(
                f"grant `{data.get('id')}` is `{data.get('status')}`: it needs approval"
            )
        return Grant(
            id=data["id"],
            agent=data["agent"],
            permission=data["permission"],
            expires_at=datetime.fromisoformat(data["expires_at"]),
            justification=data["justification"],
            issued_at=datetime.fromisoformat(data["issued_at"]),
            approved_by=data.get("decided_by"),
        )

    def release(self, grant_id: str) -> None:
        self._admin(f"/admin/v1/grants/{grant_id}/release", {})

    def label_session(self, session: str, labels: frozenset[str]) -> None:
        self._admin(f"/admin/v1/sessions/{session}/labels", {"labels": sorted(labels)})
