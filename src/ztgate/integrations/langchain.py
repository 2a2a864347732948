"""LangChain / LangGraph: wrap any ``BaseTool`` so a :class:`Gate` decides every call.

>>> safe_tools = guard_tools([search, pay], gate, agent="fin-1", session=lambda: thread_id)

The wrapper is a ``StructuredTool`` with the same name, description and argument schema,
so it drops into ``ToolNode``, ``create_react_agent`` or an ``AgentExecutor`` unchanged.
A refused call does not run the tool; the model receives a ``ToolException`` message
("denied" plus a reason code). Outputs are scanned; a withheld output is refused the same
way and taints the session.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from langchain_core.tools import BaseTool, StructuredTool, ToolException

from ztgate.core.models import Context
from ztgate.integrations._common import AgentRef, Guard, SessionRef, refusal
from ztgate.service.gate import Gate


def _arguments(tool: BaseTool, kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in kwargs.items() if k not in ("run_manager", "callbacks", "config")}


def guard_tool(
    tool: BaseTool,
    gate: Gate,
    *,
    agent: AgentRef,
    session: SessionRef = None,
    server: str | None = None,
    context: Context | Mapping[str, Any] | None = None,
    scan_output: bool = True,
    name: str | None = None,
) -> StructuredTool:
    """A guarded copy of ``tool``; ``name`` overrides the tool name policy sees."""
    guard = Guard(
        gate, agent=agent, session=session, server=server, context=context, scan_output=scan_output
    )
    policy_name = name or tool.name

    def check(kwargs: dict[str, Any]) -> tuple[dict[str, Any], str, str | None]:
        args = _arguments(tool, kwargs)
        decision, who, where = guard.before(policy_name, args)
        if not decision.allowed:
            raise ToolException(refusal(policy_name, decision))
        return args, who, where

    def finish(who: str, where: str | None, output: Any) -> Any:
        ok, shown = guard.after(policy_name, who, where, output)
        if not ok:
            raise ToolException(f"ztgate: the output of `{policy_name}` was withheld.")
        return shown

    def run(**kwargs: Any) -> Any:
        args, who, where = check(kwargs)
        return finish(who, where, tool.invoke(args))

    async def arun(**kwargs: Any) -> Any:
        args, who, where = check(kwargs)
        return finish(who, where, await tool.ainvoke(args))

    return StructuredTool(
        name=tool.name,
        description=tool.description,
        args_schema=tool.args_schema if tool.args_schema is not None else tool.get_input_schema(),
        func=run,
        coroutine=arun,
        handle_tool_error=True,
        response_format="content",
    )


def guard_tools(
    tools: Iterable[BaseTool], gate: Gate, *, agent: AgentRef, **options: Any
) -> list[StructuredTool]:
    """:func:`guard_tool` for every tool."""
    return [guard_tool(tool, gate, agent=agent, **options) for tool in tools]
