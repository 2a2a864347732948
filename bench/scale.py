"""The scale run: 100,000 agents over 100 blueprints, 10,000 rules over 500 tools.

The policy is generated from a small spec (:class:`ScaleSpec`) that is also the source
of the scale reference function, so the engine is checked for correctness at scale,
not only timed. Rules use the same constructs as the bench-finance policy (blueprint
subjects, integer maximum, ``in`` sets, forbids); some forbids shadow allows on purpose
so that "forbid wins" is exercised at scale too.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import workload
from bench.workload import BenchRequest

# Names are short on purpose: 100,000 agents must fit the loader's document size cap.
RECIPIENT_POOL = tuple(f"v{i:02d}" for i in range(20))


@dataclass(frozen=True, slots=True)
class AllowRule:
    id: str
    blueprint: str
    tool: str
    cap: int
    recipients: tuple[str, str]


@dataclass(frozen=True, slots=True)
class DenyRule:
    id: str
    blueprint: str | None  # None: every subject
    tool: str


@dataclass(slots=True)
class ScaleSpec:
    """The generated policy, in a form both the file writer and the reference read."""

    agents: int
    blueprints: int
    tools: tuple[str, ...]
    allows: list[AllowRule]
    denies: list[DenyRule]
    _allow_index: dict[tuple[str, str], list[AllowRule]] = field(default_factory=dict)
    _deny_any: set[str] = field(default_factory=set)
    _deny_bp: set[tuple[str, str]] = field(default_factory=set)

    def __post_init__(self) -> None:
        for rule in self.allows:
            self._allow_index.setdefault((rule.blueprint, rule.tool), []).append(rule)
        for deny in self.denies:
            if deny.blueprint is None:
                self._deny_any.add(deny.tool)
            else:
                self._deny_bp.add((deny.blueprint, deny.tool))

    @property
    def rule_count(self) -> int:
        return len(self.allows) + len(self.denies)

    @property
    def _agent_digits(self) -> int:
        return max(5, len(str(self.agents - 1)))

    def agent_name(self, index: int) -> str:
        return f"a{index:0{self._agent_digits}d}"

    def blueprint_name(self, number: int) -> str:
        return f"b{number:02d}"

    def blueprint_number(self, blueprint: str) -> int:
        return int(blueprint[1:])

    def blueprint_of_index(self, index: int) -> str:
        return self.blueprint_name(index % self.blueprints)

    def agents_of(self, blueprint: str, nth: int) -> str:
        """The ``nth`` agent of ``blueprint`` (agents are dealt to blueprints in turn)."""
        return self.agent_name(self.blueprint_number(blueprint) + self.blueprints * nth)

    def blueprint_of(self, agent: str) -> str | None:
        """The blueprint of a generated agent name, or None for anything else."""
        digits = agent[1:]
        if not agent.startswith("a") or len(digits) != self._agent_digits:
            return None
        if not digits.isascii() or not digits.isdigit():
            return None
        index = int(digits)
        return self.blueprint_of_index(index) if index < self.agents else None

    def reference(self, agent: str, tool: str, args: Mapping[str, Any]) -> bool:
        """The generated policy's meaning: forbid wins, then any allow whose constraints hold."""
        blueprint = self.blueprint_of(agent)
        if blueprint is None:
            return False
        if tool in self._deny_any or (blueprint, tool) in self._deny_bp:
            return False
        amount = args.get("amount")
        recipient = args.get("recipient")
        if type(amount) is not int or type(recipient) is not str:
            return False
        return any(
            amount <= rule.cap and recipient in rule.recipients
            for rule in self._allow_index.get((blueprint, tool), ())
        )

    def allow_rules_for(self, blueprint: str) -> list[AllowRule]:
        return [r for r in self.allows if r.blueprint == blueprint]


def build_spec(
    agents: int = 100_000,
    blueprints: int = 100,
    rules: int = 10_000,
    tools: int = 500,
    deny_fraction: float = 0.05,
) -> ScaleSpec:
    """A deterministic spec: no RNG, every rule derived from its index."""
    tool_names = tuple(f"t{t:03d}" for t in range(tools))
    deny_count = int(rules * deny_fraction)
    allow_count = rules - deny_count
    per_blueprint = allow_count // blueprints
    if per_blueprint > tools:
        raise ValueError("more allow rules per blueprint than tools")
    allows: list[AllowRule] = []
    for b in range(blueprints):
        bp = f"b{b:02d}"
        for r in range(per_blueprint):
            tool = tool_names[(b * 37 + r) % tools]
            cap = 10 + (b * 31 + r * 17) % 990
            first = (b + r) % len(RECIPIENT_POOL)
            recipients = (RECIPIENT_POOL[first], RECIPIENT_POOL[(first + 7) % len(RECIPIENT_POOL)])
            allows.append(AllowRule(f"r{len(allows):04d}", bp, tool, cap, recipients))
    denies: list[DenyRule] = []
    # A tenth of the forbids apply to everybody (dangerous tools nobody is allowed);
    # the rest each shadow one blueprint's allow rule.
    for d in range(deny_count):
        if d % 10 == 0:
            denies.append(DenyRule(f"d{d:03d}", None, f"x{d:03d}"))
        else:
            victim = allows[(d * 7919) % len(allows)]
            denies.append(DenyRule(f"d{d:03d}", victim.blueprint, victim.tool))
    return ScaleSpec(agents, blueprints, tool_names, allows, denies)


def policy_document(spec: ScaleSpec) -> dict[str, Any]:
    """The spec as a ztgate policy document (version 1)."""
    agents = {
        spec.agent_name(i): {"blueprint": spec.blueprint_of_index(i)} for i in range(spec.agents)
    }
    blueprints: dict[str, dict[str, Any]] = {
        spec.blueprint_name(b): {} for b in range(spec.blueprints)
    }
    policies: list[dict[str, Any]] = []
    for b in range(spec.blueprints):
        bp = spec.blueprint_name(b)
        policies.append(
            {
                "id": f"policy-{bp}",
                "rules": [
                    {
                        "id": rule.id,
                        "effect": "allow",
                        "subjects": {"blueprints": [bp]},
                        "tools": [rule.tool],
                        "args": {
                            "amount": {"type": "integer", "max": rule.cap},
                            "recipient": {"in": list(rule.recipients)},
                        },
                    }
                    for rule in spec.allow_rules_for(bp)
                ],
            }
        )
    policies.append(
        {
            "id": "policy-forbids",
            "rules": [
                {
                    "id": deny.id,
                    "effect": "deny",
                    "subjects": "any"
                    if deny.blueprint is None
                    else {"blueprints": [deny.blueprint]},
                    "tools": [deny.tool],
                }
                for deny in spec.denies
            ],
        }
    )
    return {"version": 1, "blueprints": blueprints, "agents": agents, "policies": policies}


def combined_document(spec: ScaleSpec, base: Mapping[str, Any]) -> dict[str, Any]:
    """The generated policy with ``base`` (the bench-finance policy) folded in.

    The bench-finance agents, blueprints and rules keep their meaning in the combined
    policy (no generated name collides with theirs), so the exact bench-finance requests
    can be replayed against it: the only thing that changes is the size of the policy.
    """
    doc = policy_document(spec)
    for key in ("blueprints", "agents"):
        clash = set(doc[key]) & set(base.get(key, {}))
        if clash:
            raise ValueError(f"generated {key} collide with the base policy: {sorted(clash)}")
        doc[key] = {**base.get(key, {}), **doc[key]}
    doc["policies"] = [*base.get("policies", []), *doc["policies"]]
    return doc


def combined_reference(spec: ScaleSpec) -> Callable[[str, str, Mapping[str, Any]], bool]:
    """The meaning of :func:`combined_document`: bench-finance for its agents, else the spec."""

    def decide(agent: str, tool: str, args: Mapping[str, Any]) -> bool:
        if tool == workload.FORBIDDEN_TOOL:
            return False
        if agent in workload.AGENT_BLUEPRINTS:
            return workload.reference(agent, tool, args)
        return spec.reference(agent, tool, args)

    return decide


def write_policy(spec: ScaleSpec, directory: Path, base: Mapping[str, Any] | None = None) -> Path:
    """Write the policy as compact block YAML: one flow mapping per agent and per rule.

    Every name the generator makes is a plain YAML scalar, so no quoting is needed; a
    test checks that the text loads back to exactly the document.
    """
    doc = policy_document(spec) if base is None else combined_document(spec, base)
    path = directory / "scale-policy.yaml"
    path.write_text(policy_yaml(doc), encoding="utf-8")
    return path


def novel_tool_requests(spec: ScaleSpec, count: int, seed: int) -> list[BenchRequest]:
    """Known agents calling tool names no rule mentions, each name seen once.

    Tool names come from callers; this measures what a never-seen name costs.
    """
    rng = random.Random(seed)
    out = []
    for i in range(count):
        agent = spec.agent_name(rng.randrange(spec.agents))
        tool = f"n{seed % 1000:03d}-{i:06d}"
        args = {"amount": 1, "recipient": RECIPIENT_POOL[0]}
        out.append(BenchRequest("novel_tool", agent, tool, args, spec.reference(agent, tool, args)))
    return out


def policy_yaml(doc: Mapping[str, Any]) -> str:
    lines = [f"version: {doc['version']}", "blueprints:"]
    lines.extend(f" {name}: {_flow(value)}" for name, value in doc["blueprints"].items())
    lines.append("agents:")
    lines.extend(f" {name}: {_flow(value)}" for name, value in doc["agents"].items())
    lines.append("policies:")
    for policy in doc["policies"]:
        lines.append(f"- id: {policy['id']}")
        lines.append("  rules:")
        lines.extend(f"  - {_flow(rule)}" for rule in policy["rules"])
    return "\n".join(lines) + "\n"


def _flow(value: Any) -> str:
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_flow(v) for v in value) + "]"
    return str(value)


def generate(spec: ScaleSpec, count: int, seed: int) -> list[BenchRequest]:
    """A mixed workload over the scale policy, with the same kinds of traps as the small one."""
    rng = random.Random(seed)
    out: list[BenchRequest] = []
    kinds = (
        "allowed",
        "over_cap",
        "type_confusion",
        "wrong_recipient",
        "forbidden",
        "unknown_agent",
        "unlisted_tool",
    )
    weights = (30, 10, 15, 10, 15, 10, 10)
    confusions: tuple[Any, ...] = (None, "50", True, 50.0, float("nan"), float("inf"), 10**30)
    for i in range(count):
        kind = kinds[i] if i < len(kinds) else rng.choices(kinds, weights)[0]
        index = rng.randrange(spec.agents)
        agent = spec.agent_name(index)
        rules = spec.allow_rules_for(spec.blueprint_of_index(index))
        rule = rules[rng.randrange(len(rules))]
        tool = rule.tool
        args: dict[str, Any] = {
            "amount": rng.randint(0, rule.cap),
            "recipient": rng.choice(rule.recipients),
        }
        if kind == "over_cap":
            args["amount"] = rule.cap + rng.randint(1, 1000)
        elif kind == "type_confusion":
            args["amount"] = rng.choice(confusions)
        elif kind == "wrong_recipient":
            args["recipient"] = "v99"
        elif kind == "forbidden":
            deny = spec.denies[rng.randrange(len(spec.denies))]
            tool = deny.tool
            if deny.blueprint is not None:
                agent = spec.agents_of(
                    deny.blueprint, rng.randrange(spec.agents // spec.blueprints)
                )
        elif kind == "unknown_agent":
            agent = rng.choice(
                (f"a{spec.agents + rng.randrange(1_000_000)}", "intruder", spec.agent_name(0) + "x")
            )
        elif kind == "unlisted_tool":
            tool = f"u{rng.randrange(100):03d}"
        out.append(BenchRequest(kind, agent, tool, args, spec.reference(agent, tool, args)))
    return out
