"""Adapters that put ztgate and its peers behind one two-step interface.

``prepare`` turns a request into the engine's native form (a Cedar request dict, Rego
input JSON, an AGT context) and is *not* timed; ``decide`` hands that native form to the
engine and is timed. Doing the conversion outside the clock favours the peers: their
JSON serialisation is real work their callers would pay, and it is left out.

An engine whose package is missing or fails to load is returned as :class:`Skipped`
with the reason, so the benchmark still runs and reports the rest.
"""

from __future__ import annotations

import copy
import importlib
import json
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

from bench.workload import AGENT_BLUEPRINTS

POLICY_DIR = Path(__file__).resolve().parent / "policies"
REPO_ROOT = Path(__file__).resolve().parent.parent


class Engine(Protocol):
    """What the timing loop needs from an engine."""

    name: str
    version: str

    def prepare(self, agent: str, tool: str, args: Mapping[str, Any]) -> Any: ...

    def decide(self, prepared: Any) -> bool: ...


@dataclass(frozen=True, slots=True)
class Skipped:
    """An engine that could not be set up, and why."""

    name: str
    reason: str


def _dist_version(dist: str) -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "unknown"


class ZtgateEngine:
    """``Gate.from_file(path).authorize(...).allowed``: the public SDK path, nothing less."""

    name = "ztgate"

    def __init__(self, policy_path: str | Path) -> None:
        from ztgate import Gate  # type: ignore[attr-defined,unused-ignore]

        self.version = _dist_version("ztgate")
        self._gate = Gate.from_file(str(policy_path))
        self._authorize = self._gate.authorize

    def prepare(self, agent: str, tool: str, args: Mapping[str, Any]) -> Any:
        return (agent, tool, args)

    def decide(self, prepared: Any) -> bool:
        agent, tool, args = prepared
        return self._authorize(agent=agent, tool=tool, args=args).allowed is True


class CedarEngine:
    """cedarpy with a pre-parsed ``PolicySet`` and ``Entities`` handle (its fastest path).

    Each agent is an ``Agent`` entity whose parent is its ``Blueprint`` entity; the action
    is ``Action::"<tool>"``; the tool arguments are the request context, serialised to
    JSON as is (before the clock starts).
    """

    name = "cedar"

    def __init__(
        self,
        policy_text: str | None = None,
        agent_blueprints: Mapping[str, str] = AGENT_BLUEPRINTS,
    ) -> None:
        import cedarpy

        self._cedarpy = cedarpy
        self.version = _dist_version("cedarpy")
        text = policy_text or (POLICY_DIR / "bench_finance.cedar").read_text(encoding="utf-8")
        self._policies = cedarpy.PolicySet.from_str(text)
        self._entities = cedarpy.Entities.from_json_str(
            json.dumps(cedar_entities(agent_blueprints))
        )

    def prepare(self, agent: str, tool: str, args: Mapping[str, Any]) -> Any:
        return {
            "principal": {"type": "Agent", "id": agent},
            "action": {"type": "Action", "id": tool},
            "resource": {"type": "Tool", "id": tool},
            # A string context is passed through untouched; json.dumps is what cedarpy
            # itself would run on a dict (NaN and infinities become bare tokens that
            # Cedar's JSON parser refuses).
            "context": json.dumps(dict(args)),
        }

    def decide(self, prepared: Any) -> bool:
        result = self._cedarpy.is_authorized(prepared, self._policies, self._entities)
        return result.allowed is True


def cedar_entities(agent_blueprints: Mapping[str, str]) -> list[dict[str, Any]]:
    """Agent entities with their blueprint as parent, plus the blueprint entities."""
    entities: list[dict[str, Any]] = [
        {
            "uid": {"type": "Agent", "id": agent},
            "attrs": {},
            "parents": [{"type": "Blueprint", "id": blueprint}],
        }
        for agent, blueprint in agent_blueprints.items()
    ]
    entities.extend(
        {"uid": {"type": "Blueprint", "id": bp}, "attrs": {}, "parents": []}
        for bp in sorted(set(agent_blueprints.values()))
    )
    return entities


def import_regorus() -> ModuleType:
    """The regorus binding: PyPI ships it as ``hobofan_regorus``; older builds as ``regorus``."""
    errors = []
    for module in ("regorus", "hobofan_regorus"):
        try:
            return importlib.import_module(module)
        except ImportError as exc:
            errors.append(f"{module}: {exc}")
    raise ImportError("; ".join(errors))


class RegoEngine:
    """regorus with the policy and the agent directory loaded once.

    Input goes in as JSON text through ``set_input_json`` (serialised before the clock
    starts). The object path ``set_input`` is not used: with hobofan-regorus 0.2.5 it
    turns Python ``True`` into the number 1 (so ``amount=True`` is allowed) and crashes
    the interpreter on a float NaN.
    """

    name = "rego"

    def __init__(
        self,
        policy_text: str | None = None,
        agent_blueprints: Mapping[str, str] = AGENT_BLUEPRINTS,
        rule: str = "data.bench.allow",
    ) -> None:
        regorus = import_regorus()
        self.version = _dist_version("hobofan-regorus")
        text = policy_text or (POLICY_DIR / "bench_finance.rego").read_text(encoding="utf-8")
        self._engine = regorus.Engine()
        self._engine.add_policy("bench_finance.rego", text)
        self._engine.add_data_json(
            json.dumps({"agents": {a: {"blueprint": b} for a, b in agent_blueprints.items()}})
        )
        self._rule = rule

    def add_data_json(self, text: str) -> None:
        self._engine.add_data_json(text)

    def prepare(self, agent: str, tool: str, args: Mapping[str, Any]) -> Any:
        return json.dumps({"agent": agent, "tool": tool, "args": dict(args)})

    def decide(self, prepared: Any) -> bool:
        self._engine.set_input_json(prepared)
        return self._engine.eval_rule(self._rule) is True


def import_agt_policy_engine() -> Any:
    """agentmesh's ``PolicyEngine`` from agent-governance-toolkit-core.

    The ``agentmesh`` package warns on import that the *agentmesh-platform* distribution
    is deprecated in favour of agent-governance-toolkit-core, which is the distribution
    installed here; the warning is silenced for the import only.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        module = importlib.import_module("agentmesh.governance.policy")
    return module.PolicyEngine


class AgtEngine:
    """Microsoft's Agent Governance Toolkit: ``agentmesh.governance.PolicyEngine``.

    The toolkit's engine whose rules can combine conditions and target agents: each
    rule's condition string is matched with regular expressions at evaluation time. The
    conflict strategy is ``deny_overrides`` so that the shell forbid beats any allow.
    """

    name = "agt"

    def __init__(self, policy_texts: tuple[str, ...] | None = None) -> None:
        policy_engine = import_agt_policy_engine()
        self.version = _dist_version("agent-governance-toolkit-core")
        self._engine = policy_engine(conflict_strategy="deny_overrides")
        texts = policy_texts or tuple(
            (POLICY_DIR / name).read_text(encoding="utf-8")
            for name in ("agt_finance_bot.yaml", "agt_global.yaml")
        )
        for text in texts:
            self._engine.load_yaml(text)
        self._evaluate = self._engine.evaluate

    def prepare(self, agent: str, tool: str, args: Mapping[str, Any]) -> Any:
        return (agent, {"tool": {"name": tool}, "args": copy.deepcopy(dict(args))})

    def decide(self, prepared: Any) -> bool:
        agent, context = prepared
        return self._evaluate(agent, context).allowed is True


def _ztgate_small() -> Engine:
    return ZtgateEngine(REPO_ROOT / "examples" / "bench-finance" / "policy.yaml")


ENGINE_FACTORIES: Mapping[str, Callable[[], Engine]] = {
    "ztgate": _ztgate_small,
    "cedar": CedarEngine,
    "rego": RegoEngine,
    "agt": AgtEngine,
}


def load(name: str, factory: Callable[[], Engine] | None = None) -> Engine | Skipped:
    """Set up one engine, or say why it could not be."""
    make = factory or ENGINE_FACTORIES[name]
    try:
        return make()
    except Exception as exc:  # any failure to set up a peer is a finding, not a crash
        return Skipped(name, f"{type(exc).__name__}: {_first_line(str(exc))}")


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:300]
