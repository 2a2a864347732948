"""The scale policy written for each peer, as its users would write it.

- Cedar: one ``permit`` or ``forbid`` per generated rule (10,000 policies), agents as
  entities whose parent is their blueprint (100,000 entities), parsed once into handles.
- Rego: one generic, data-driven policy; the 10,000 rules are data indexed by blueprint
  and tool, as a Rego author would store them, so lookups are hash-indexed.
- AGT: one policy per blueprint listing its agents (the toolkit has no groups) and one
  global policy holding the forbids that apply to everyone.

The peers' scale results are informative only: the acceptance target is ztgate's.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

from bench.engines import AgtEngine, CedarEngine, Engine, RegoEngine
from bench.scale import ScaleSpec

_REGO_SCALE = """
package bench

import rego.v1

default allow := false

allow if {
	permit
	not forbidden
}

forbidden if data.forbid_any[input.tool]

forbidden if data.forbid_bp[data.agents[input.agent].blueprint][input.tool]

permit if {
	some rule in data.allow_rules[data.agents[input.agent].blueprint][input.tool]
	is_integer(input.args.amount)
	input.args.amount <= rule.cap
	input.args.recipient in rule.recipients
}

is_integer(x) if {
	is_number(x)
	x == floor(x)
}
"""


def agent_blueprints(spec: ScaleSpec) -> dict[str, str]:
    return {spec.agent_name(i): spec.blueprint_of_index(i) for i in range(spec.agents)}


def cedar_policies(spec: ScaleSpec) -> str:
    out = []
    for rule in spec.allows:
        first, second = rule.recipients
        out.append(
            f'@id("{rule.id}")\n'
            f'permit (principal in Blueprint::"{rule.blueprint}", '
            f'action == Action::"{rule.tool}", resource)\n'
            "when { context has amount && context has recipient && "
            f"context.amount <= {rule.cap} && "
            f'(context.recipient == "{first}" || context.recipient == "{second}") }};'
        )
    for deny in spec.denies:
        principal = (
            "principal"
            if deny.blueprint is None
            else (f'principal in Blueprint::"{deny.blueprint}"')
        )
        out.append(
            f'@id("{deny.id}")\nforbid ({principal}, action == Action::"{deny.tool}", resource);'
        )
    return "\n".join(out) + "\n"


def cedar(spec: ScaleSpec) -> CedarEngine:
    return CedarEngine(cedar_policies(spec), agent_blueprints(spec))


def rego_data(spec: ScaleSpec) -> dict[str, Any]:
    allow_rules: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for rule in spec.allows:
        allow_rules.setdefault(rule.blueprint, {}).setdefault(rule.tool, []).append(
            {"cap": rule.cap, "recipients": list(rule.recipients)}
        )
    forbid_bp: dict[str, dict[str, bool]] = {}
    forbid_any: dict[str, bool] = {}
    for deny in spec.denies:
        if deny.blueprint is None:
            forbid_any[deny.tool] = True
        else:
            forbid_bp.setdefault(deny.blueprint, {})[deny.tool] = True
    return {"allow_rules": allow_rules, "forbid_bp": forbid_bp, "forbid_any": forbid_any}


def rego(spec: ScaleSpec) -> RegoEngine:
    engine = RegoEngine(_REGO_SCALE, agent_blueprints(spec))
    engine.add_data_json(json.dumps(rego_data(spec)))
    return engine


def agt_policies(spec: ScaleSpec) -> tuple[str, ...]:
    texts = []
    for b in range(spec.blueprints):
        bp = spec.blueprint_name(b)
        members = [spec.agent_name(i) for i in range(b, spec.agents, spec.blueprints)]
        rules = [
            {
                "name": rule.id,
                "condition": (
                    f"tool.name == '{rule.tool}' and args.amount <= {rule.cap} and "
                    f"args.recipient in ['{rule.recipients[0]}', '{rule.recipients[1]}']"
                ),
                "action": "allow",
            }
            for rule in spec.allow_rules_for(bp)
        ]
        rules.extend(
            {"name": deny.id, "condition": f"tool.name == '{deny.tool}'", "action": "deny"}
            for deny in spec.denies
            if deny.blueprint == bp
        )
        texts.append(_agt_doc(f"policy-{bp}", members, rules))
    global_rules = [
        {"name": deny.id, "condition": f"tool.name == '{deny.tool}'", "action": "deny"}
        for deny in spec.denies
        if deny.blueprint is None
    ]
    texts.append(_agt_doc("global", ["*"], global_rules))
    return tuple(texts)


def _agt_doc(name: str, agents: list[str], rules: list[dict[str, Any]]) -> str:
    # JSON is valid YAML; the toolkit's loader takes YAML text.
    return json.dumps(
        {
            "apiVersion": "governance.toolkit/v1",
            "name": name,
            "agents": agents,
            "default_action": "deny",
            "rules": rules,
        }
    )


def agt(spec: ScaleSpec) -> AgtEngine:
    return AgtEngine(agt_policies(spec))


FACTORIES: Mapping[str, Callable[[ScaleSpec], Engine]] = {"cedar": cedar, "rego": rego, "agt": agt}
