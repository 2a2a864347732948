"""``@gate.tool(...)``: guard a Python function as an agent tool.

Every call is authorized with the function's bound arguments *before* the body runs; a
refusal raises :class:`ToolDenied` carrying the decision (the body never runs). After the
body returns, its output is scanned (``inspect_output``): a scanner may redact it, label
the session (so the next risky call needs a human) or withhold it (``ToolDenied``).
Works for plain and ``async`` functions.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from ztgate.core.models import Context, Decision, Effect, Reason, ReasonCode
from ztgate.errors import ZtgateError

if TYPE_CHECKING:
    from ztgate.service.gate import Gate


class ToolDenied(ZtgateError):
    """A guarded tool call was refused; ``decision`` says why (reason codes, approval id)."""

    def __init__(self, tool: str, decision: Decision) -> None:
        code = decision.reasons[0].code.value if decision.reasons else "denied"
        super().__init__(f"tool `{tool}` was refused: {code}")
        self.tool = tool
        self.decision = decision

    @property
    def approval_id(self) -> str | None:
        return self.decision.approval_id


def _resolve(value: Any) -> Any:
    return value() if callable(value) else value


def _arguments(
    signature: inspect.Signature, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    bound = signature.bind(*args, **kwargs)
    bound.apply_defaults()
    out: dict[str, Any] = {}
    for name, value in bound.arguments.items():
        kind = signature.parameters[name].kind
        if kind is inspect.Parameter.VAR_KEYWORD:
            out.update(value)
        elif kind is inspect.Parameter.VAR_POSITIONAL:
            out[name] = list(value)
        else:
            out[name] = value
    return out


def guard_tool(
    gate: Gate,
    *,
    name: str | None,
    agent: str | Callable[[], str],
    session: str | Callable[[], str | None] | None,
    server: str | None,
    context: Context | Mapping[str, Any] | None,
    scan_output: bool,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def decorate(func: Callable[..., Any]) -> Callable[..., Any]:
        tool = name or func.__name__
        signature = inspect.signature(func)

        def before(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[str, str | None]:
            who = _resolve(agent)
            where = _resolve(session)
            try:
                call_args = _arguments(signature, args, kwargs)
            except TypeError as error:
                raise ToolDenied(
                    tool,
                    Decision(Effect.DENY, (Reason(ReasonCode.INVALID_REQUEST, str(error)),)),
                ) from None
            decision = gate.authorize(
                agent=who,
                tool=tool,
                args=call_args,
                session=where,
                server=server,
                context=context,
            )
            if not decision.allowed:
                raise ToolDenied(tool, decision)
            return who, where

        def after(who: str, where: str | None, output: Any) -> Any:
            if not scan_output:
                return output
            outcome = gate.inspect_output(agent=who, tool=tool, output=output, session=where)
            if not outcome.allowed:
                raise ToolDenied(
                    tool,
                    Decision(
                        Effect.DENY,
                        (Reason(ReasonCode.FORBIDDEN, "the tool output was withheld"),),
                    ),
                )
            return outcome.output

        if inspect.iscoroutinefunction(func):

            @functools.wraps(func)
            async def async_wrapper(*args: Any, **kwargs: Any) -> Any:
                who, where = before(args, kwargs)
                return after(who, where, await func(*args, **kwargs))

            return async_wrapper

        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            who, where = before(args, kwargs)
            return after(who, where, func(*args, **kwargs))

        return wrapper

    return decorate
