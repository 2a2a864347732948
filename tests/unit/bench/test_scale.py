"""The generated scale policy: its shape, its reference, and its workload."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from bench import engines, scale, timing, workload


@pytest.fixture(scope="module")
def spec() -> scale.ScaleSpec:
    return scale.build_spec(agents=2_000, blueprints=10, rules=400, tools=60)


def test_full_policy_fits_in_four_mebibytes(tmp_path: Path) -> None:
    # ztgate refuses documents over 4 MiB; 100,000 agents must still load.
    base = yaml.safe_load((engines.REPO_ROOT / workload.POLICY_PATH).read_text())
    path = scale.write_policy(scale.build_spec(), tmp_path, base)
    assert path.stat().st_size < 4 * 1024 * 1024


def test_full_spec_has_the_advertised_size() -> None:
    full = scale.build_spec()
    assert full.agents == 100_000
    assert full.blueprints == 100
    assert full.rule_count == 10_000
    assert len(full.denies) == 500
    assert len({r.id for r in full.allows} | {d.id for d in full.denies}) == 10_000


def test_spec_is_deterministic() -> None:
    assert scale.build_spec(agents=100, blueprints=5, rules=100, tools=30).allows == (
        scale.build_spec(agents=100, blueprints=5, rules=100, tools=30).allows
    )


def test_policy_document_lists_every_agent_rule_and_blueprint(
    spec: scale.ScaleSpec, tmp_path: Path
) -> None:
    path = scale.write_policy(spec, tmp_path)
    doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert doc == scale.policy_document(spec)
    assert doc["version"] == 1
    assert len(doc["agents"]) == spec.agents
    assert len(doc["blueprints"]) == spec.blueprints
    rules = [rule for policy in doc["policies"] for rule in policy["rules"]]
    assert len(rules) == spec.rule_count
    assert sum(rule["effect"] == "deny" for rule in rules) == len(spec.denies)
    assert doc["agents"]["a00013"] == {"blueprint": "b03"}


def test_reference_forbid_wins_over_a_shadowed_allow(spec: scale.ScaleSpec) -> None:
    shadowed = next(d for d in spec.denies if d.blueprint is not None)
    rule = next(
        r for r in spec.allows if r.blueprint == shadowed.blueprint and r.tool == shadowed.tool
    )
    assert shadowed.blueprint is not None
    agent = spec.agents_of(shadowed.blueprint, 3)
    args = {"amount": 1, "recipient": rule.recipients[0]}
    assert spec.reference(agent, rule.tool, args) is False


def test_reference_allows_within_a_rule_and_nothing_around_it(spec: scale.ScaleSpec) -> None:
    denied_pairs = {(d.blueprint, d.tool) for d in spec.denies}
    rule = next(r for r in spec.allows if (r.blueprint, r.tool) not in denied_pairs)
    agent = spec.agents_of(rule.blueprint, 5)
    ok = {"amount": rule.cap, "recipient": rule.recipients[1]}
    assert spec.reference(agent, rule.tool, ok) is True
    assert spec.reference(agent, rule.tool, {**ok, "amount": rule.cap + 1}) is False
    assert spec.reference(agent, rule.tool, {**ok, "amount": float(rule.cap)}) is False
    assert spec.reference(agent, rule.tool, {**ok, "amount": True}) is False
    assert spec.reference(agent, rule.tool, {**ok, "recipient": "v99"}) is False
    outsider = next(
        b
        for b in range(spec.blueprints)
        if not any(r.tool == rule.tool for r in spec.allow_rules_for(spec.blueprint_name(b)))
    )
    assert spec.reference(spec.agent_name(outsider), rule.tool, ok) is False
    assert spec.reference(f"a{spec.agents:05d}", rule.tool, ok) is False
    assert spec.reference(agent + "0", rule.tool, ok) is False
    assert spec.reference("intruder", rule.tool, ok) is False


def test_workload_mixes_allows_and_every_kind_of_deny(spec: scale.ScaleSpec) -> None:
    requests = scale.generate(spec, 3_000, seed=5)
    kinds = {r.category for r in requests}
    assert kinds == {
        "allowed",
        "over_cap",
        "type_confusion",
        "wrong_recipient",
        "forbidden",
        "unknown_agent",
        "unlisted_tool",
    }
    allowed = sum(r.expected for r in requests)
    assert 0.15 * len(requests) < allowed < 0.5 * len(requests)
    for r in requests:
        if r.category != "allowed":
            assert r.expected is False, r


def test_ztgate_agrees_with_the_scale_reference(spec: scale.ScaleSpec, tmp_path: Path) -> None:
    if not hasattr(importlib.import_module("ztgate"), "Gate"):
        pytest.skip("ztgate.Gate is not available on this branch yet")
    engine = engines.ZtgateEngine(scale.write_policy(spec, tmp_path))
    requests = scale.generate(spec, 2_000, seed=6)
    prepared = [engine.prepare(r.agent, r.tool, r.args) for r in requests]
    answers = timing.measure(engine.decide, prepared, warmup=0).answers
    total, by_category = timing.disagreements(
        answers, [r.expected for r in requests], [r.category for r in requests]
    )
    assert (total, by_category) == (0, {})


def test_combined_policy_keeps_both_meanings(spec: scale.ScaleSpec, tmp_path: Path) -> None:
    base = yaml.safe_load((engines.REPO_ROOT / workload.POLICY_PATH).read_text())
    path = scale.write_policy(spec, tmp_path, base)
    doc = yaml.load(path.read_text(), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    assert doc == scale.combined_document(spec, base)
    assert doc["agents"]["fin-1"] == {"blueprint": "finance-bot"}
    assert doc["policies"][0]["id"] == "bench-finance"
    combined = scale.combined_reference(spec)
    for r in workload.generate(500, seed=2):
        assert combined(r.agent, r.tool, r.args) is r.expected
    for r in scale.generate(spec, 500, seed=2):
        assert combined(r.agent, r.tool, r.args) is r.expected
    generated_agent = spec.agent_name(0)
    assert combined(generated_agent, workload.FORBIDDEN_TOOL, {}) is False
    assert combined("fin-1", spec.allows[0].tool, {"amount": 1}) is False


def test_combined_document_refuses_name_collisions(spec: scale.ScaleSpec) -> None:
    with pytest.raises(ValueError, match="collide"):
        scale.combined_document(spec, {"agents": {spec.agent_name(1): {"blueprint": "x"}}})


def test_novel_tool_requests_name_each_tool_once(spec: scale.ScaleSpec) -> None:
    requests = scale.novel_tool_requests(spec, 200, seed=3)
    assert len({r.tool for r in requests}) == 200
    assert not any(r.expected for r in requests)
    assert not {r.tool for r in requests} & set(spec.tools)
