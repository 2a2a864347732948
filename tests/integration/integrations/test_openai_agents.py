"""OpenAI Agents SDK function tools behind a Gate, driven by the real Runner with a
scripted fake model (no network)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from agents import Agent, ModelResponse, Runner, Usage, function_tool, set_tracing_disabled
from agents.models.interface import Model
from openai.types.responses import (
    ResponseFunctionToolCall,
    ResponseOutputMessage,
    ResponseOutputText,
)

from tests.integration.service.support import Clock
from ztgate.integrations.openai_agents import guard_function_tools
from ztgate.service.gate import Gate

ROOT = Path(__file__).resolve().parents[3]
PAID: list[int] = []


@function_tool(name_override="payment.send")
def send_payment(amount: int, currency: str, recipient: str) -> str:
    """Send a payment to a vendor."""
    PAID.append(amount)
    return f"paid {amount} {currency} to {recipient}"


class ScriptedModel(Model):
    """Asks for one tool call, then answers with the tool result it was given."""

    def __init__(self, arguments: dict[str, Any]) -> None:
        self.arguments = arguments
        self.tool_results: list[str] = []

    async def get_response(
        self, system_instructions: Any, input: Any, *args: Any, **kw: Any
    ) -> ModelResponse:
        outputs = [
            item for item in (input if isinstance(input, list) else [])
            if isinstance(item, dict) and item.get("type") == "function_call_output"
        ]  # fmt: skip
        if not outputs:
            call = ResponseFunctionToolCall(
                arguments=json.dumps(self.arguments),
                call_id="call_1",
                name="payment.send",
                type="function_call",
                id="fc_1",
                status="completed",
            )
            return ModelResponse(output=[call], usage=Usage(), response_id=None)
        self.tool_results.append(str(outputs[-1]["output"]))
        text = ResponseOutputText(annotations=[], text="done", type="output_text")
        message = ResponseOutputMessage(
            id="msg_1", content=[text], role="assistant", status="completed", type="message"
        )
        return ModelResponse(output=[message], usage=Usage(), response_id=None)

    def stream_response(self, *args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("streaming is not used in this test")


def _run(arguments: dict[str, Any]) -> list[str]:
    set_tracing_disabled(True)
    gate = Gate.from_file(ROOT / "examples/finance/policy.yaml", clock=Clock())
    model = ScriptedModel(arguments)
    agent = Agent(
        name="finance",
        instructions="Pay vendors.",
        model=model,
        tools=guard_function_tools([send_payment], gate, agent="fin-1"),
    )
    result = asyncio.run(Runner.run(agent, "pay globex"))
    assert result.final_output == "done"
    return model.tool_results


def test_runner_executes_an_allowed_call() -> None:
    PAID.clear()
    results = _run({"amount": 120, "currency": "EUR", "recipient": "globex"})
    assert results == ["paid 120 EUR to globex"]
    assert PAID == [120]


def test_runner_gets_a_refusal_and_the_tool_never_runs() -> None:
    PAID.clear()
    results = _run({"amount": 120, "currency": "EUR", "recipient": "mallory"})
    assert results == ["ztgate: `payment.send` was denied (constraint_failed)."]
    assert PAID == []
