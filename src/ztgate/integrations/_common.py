"""What every framework adapter does around one tool call."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from ztgate.core.models import Context, Decision, Effect
from ztgate.service.gate import Gate

AgentRef = str | Callable[[], str]
SessionRef = str | Callable[[], str | None] | None


def resolve(value: Any) -> Any:
    return value() if callable(value) else value


def refusal(tool: str, decision: Decision) -> str:
    """The text a model sees for a refused call: outcome and one reason code."""
    code = decision.reasons[0].code.value if decision.reasons else "denied"
    if decision.effect is Effect.APPROVAL_REQUIRED:
        ticket = f"; approval id {decision.approval_id}" if decision.approval_id else ""
        return (
            f"ztgate: `{tool}` needs a human approval{ticket}. Do not retry until it is approved."
        )
    return f"ztgate: `{tool}` was denied ({code})."


class Guard:
    """Authorize, run, inspect: the one sequence each adapter wraps around a tool."""

    def __init__(
        self,
        gate: Gate,
        *,
        agent: AgentRef,
        session: SessionRef = None,
        server: str | None = None,
        context: Context | Mapping[str, Any] | None = None,
        scan_output: bool = True,
    ) -> None:
        self.gate = gate
        self.agent = agent
        self.session = session
        self.server = server
        self.context = context
        self.scan_output = scan_output

    def before(self, tool: str, args: Mapping[str, Any]) -> tuple[Decision, str, str | None]:
        agent = resolve(self.agent)
        session = resolve(self.session)
        decision = self.gate.authorize(
            agent=agent,
            tool=tool,
            args=args,
            session=session,
            server=self.server,
            context=self.context,
        )
        return decision, agent, session

    def after(self, tool: str, agent: str, session: str | None, output: Any) -> tuple[bool, Any]:
        if not self.scan_output:
            return True, output
        outcome = self.gate.inspect_output(agent=agent, tool=tool, output=output, session=session)
        return outcome.allowed, outcome.output
