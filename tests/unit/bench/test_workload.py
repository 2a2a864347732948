"""The reference function and the request generator every engine is judged by."""

from __future__ import annotations

import math
from typing import Any

import pytest
from bench import workload
from bench.workload import CATEGORIES, generate, reference

VALID = {"amount": 50, "recipient": "vendor-a"}

# (agent, tool, args, expected): written by hand from the policy text, not from the code.
CASES: list[tuple[str, str, dict[str, Any], bool]] = [
    ("fin-1", "payment.send", {"amount": 50, "recipient": "vendor-a"}, True),
    ("fin-2", "payment.send", {"amount": 100, "recipient": "vendor-b"}, True),
    ("fin-1", "payment.send", {"amount": 0, "recipient": "vendor-b"}, True),
    ("fin-1", "payment.send", {"amount": -7, "recipient": "vendor-a"}, True),
    ("fin-1", "payment.send", {"amount": 101, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": None, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": "50", "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": True, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": False, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": math.nan, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": math.inf, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": -math.inf, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": 10**30, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": 50.0, "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": [50], "recipient": "vendor-a"}, False),
    ("fin-1", "payment.send", {"amount": 50, "recipient": "vendor-c"}, False),
    ("fin-1", "payment.send", {"amount": 50, "recipient": "Vendor-A"}, False),
    ("fin-1", "payment.send", {"amount": 50}, False),
    ("fin-1", "payment.send", {"amount": 50, "recipient": ["vendor-a"]}, False),
    ("fin-1", "shell.exec", {"cmd": "ls"}, False),
    ("fin-1", "shell.exec", VALID, False),
    ("sup-1", "shell.exec", {}, False),
    ("intruder", "shell.exec", {}, False),
    ("sup-1", "payment.send", VALID, False),
    ("intruder", "payment.send", VALID, False),
    ("FIN-1", "payment.send", VALID, False),
    ("fin-1", "email.send", VALID, False),
    ("fin-1", "fs.read", {"path": "/data/x"}, False),
]


@pytest.mark.parametrize(("agent", "tool", "args", "expected"), CASES)
def test_reference_on_hand_written_cases(
    agent: str, tool: str, args: dict[str, Any], expected: bool
) -> None:
    assert reference(agent, tool, args) is expected


def test_generator_is_deterministic() -> None:
    first = [repr(r) for r in generate(3_000, seed=7)]
    again = [repr(r) for r in generate(3_000, seed=7)]
    other = [repr(r) for r in generate(3_000, seed=8)]
    assert first == again
    assert first != other


def test_every_category_appears_even_in_a_tiny_sample() -> None:
    sample = generate(len(CATEGORIES), seed=1)
    assert [r.category for r in sample] == list(CATEGORIES)


def test_default_workload_covers_every_category_with_weight() -> None:
    requests = generate(workload.DEFAULT_COUNT)
    counts: dict[str, int] = {}
    for r in requests:
        counts[r.category] = counts.get(r.category, 0) + 1
    assert set(counts) == set(CATEGORIES)
    # Every category has at least a hundred requests out of 20,000.
    assert min(counts.values()) >= 100


def test_expected_answers_come_from_the_reference_and_match_the_category() -> None:
    allowed_categories = {"allowed_payment", "amount_negative"}
    for r in generate(5_000, seed=3):
        assert r.expected is reference(r.agent, r.tool, r.args)
        assert r.expected is (r.category in allowed_categories), r


def test_each_category_draws_the_values_it_names() -> None:
    requests = generate(5_000, seed=11)
    amounts: dict[str, list[Any]] = {}
    for r in requests:
        amounts.setdefault(r.category, []).append(r.args.get("amount", "<missing>"))
    assert all(a == "<missing>" for a in amounts["amount_missing"])
    assert all(a is None for a in amounts["amount_none"])
    assert all(type(a) is str for a in amounts["amount_string"])
    assert all(type(a) is bool for a in amounts["amount_bool"])
    assert all(isinstance(a, float) and math.isnan(a) for a in amounts["amount_nan"])
    assert {a for a in amounts["amount_inf"]} == {math.inf, -math.inf}
    assert all(type(a) is int and a > 2**62 for a in amounts["amount_huge_int"])
    assert all(type(a) is int and a < 0 for a in amounts["amount_negative"])
    assert all(type(a) is float for a in amounts["amount_float"])
    assert 50.0 in amounts["amount_float"]
    agents = {r.agent for r in requests if r.category == "shell_exec"}
    assert agents == {"fin-1", "fin-2", "sup-1", "intruder"}
    assert {r.agent for r in requests if r.category == "support_paying"} == {"sup-1"}
    assert {r.tool for r in requests if r.category == "other_tool"} >= {"email.send", "fs.read"}
    assert "intruder" in {r.agent for r in requests if r.category == "unknown_agent"}
