"""OpenAI Agents SDK: wrap a ``FunctionTool`` so a :class:`Gate` decides every call.

>>> agent = Agent(name="finance", tools=guard_function_tools([pay, lookup], gate, agent="fin-1"))

The wrapper keeps the tool's name, description and JSON schema and replaces
``on_invoke_tool``: the arguments (the JSON the model produced) are authorized first; a
refusal is returned to the model as the tool result ("denied" plus a reason code) and the
real tool never runs. The output is scanned before the model sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from agents import FunctionTool
from agents.tool_context import ToolContext

from ztgate.core.models import Context
from ztgate.integrations._common import AgentRef, Guard, SessionRef, refusal
from ztgate.service.gate import Gate


def guard_function_tool(
    tool: FunctionTool,
    gate: Gate,
    *,
    agent: AgentRef,
    session: SessionRef = None,
    server: str | None = None,
    context: Context | Mapping[str, Any] | None = None,
    scan_output: bool = True,
    name: str | None = None,
) -> FunctionTool:
    """A guarded copy of ``tool``; ``name`` overrides the tool name policy sees."""
    guard = Guard(
        gate, agent=agent, session=session, server=server, context=context, scan_output=scan_output
    )
    policy_name = name or tool.name
    inner = tool.on_invoke_tool

    async def on_invoke(ctx: ToolContext[Any], unverified_json: str) -> Any:
        try:
            args = json.loads(unverified_json) if unverified_json else {}
        except ValueError:
            return f"ztgate: `{policy_name}` was denied (invalid_request)."
        if not isinstance(args, dict):
            return f"ztgate: `{policy_name}` was denied (invalid_request)."
        decision, who, where = guard.before(policy_name, args)
        if not decision.allowed:
            return refusal(policy_name, decision)
        output = await inner(ctx, unverified_json)
        ok, shown = guard.after(policy_name, who, where, output)
        if not ok:
            return f"ztgate: the output of `{policy_name}` was withheld."
        return shown

    return replace(tool, on_invoke_tool=on_invoke)


def guard_function_tools(
    tools: Iterable[FunctionTool], gate: Gate, *, agent: AgentRef, **options: Any
) -> list[FunctionTool]:
    """:func:`guard_function_tool` for every tool."""
    return [guard_function_tool(tool, gate, agent=agent, **options) for tool in tools]
