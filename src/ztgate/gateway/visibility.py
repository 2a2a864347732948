"""Which tools an agent can see: a tool is listed only if some rule could ever let the
agent call it (an allow or approval rule among its candidates, with a live grant or not)
and no unconditional forbid covers it. Hiding is a convenience for the agent, never the
control: every call is decided in full regardless of what was listed.
"""

from __future__ import annotations

from ztgate.core.models import Effect
from ztgate.core.policy import CompiledPolicy


def may_ever_call(policy: CompiledPolicy | None, agent: str, server: str, tool: str) -> bool:
    if policy is None:
        return False
    entry = policy.agents.get(agent)
    if entry is None:
        return False
    try:
        candidates = policy.bucket(server, tool).candidates(entry)
    except Exception:  # an unusual name the engine refuses is not worth showing
        return False
    for rule in candidates:
        if rule.effect is Effect.DENY and rule.args_check is None and rule.when_check is None:
            return False
    return any(r.effect in (Effect.ALLOW, Effect.APPROVAL_REQUIRED) for r in candidates)
