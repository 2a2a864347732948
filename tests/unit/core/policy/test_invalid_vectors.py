"""Known-answer vectors of invalid policies: each must fail to load with a message at the
line its header names."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ztgate.core.policy import load_policy, validate_policy
from ztgate.errors import PolicyError

INVALID = Path(__file__).resolve().parents[3] / "vectors" / "policy" / "invalid"
HEADER = re.compile(r"^# expect: (\d+): (.+)$")


def _vectors() -> list[Path]:
    return sorted(INVALID.glob("*.yaml"))


def test_there_are_many_invalid_vectors() -> None:
    assert len(_vectors()) >= 30


@pytest.mark.parametrize("path", _vectors(), ids=lambda p: p.stem)
def test_invalid_policy_is_rejected_with_location(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    header = HEADER.match(text.splitlines()[0])
    assert header, f"{path.name} needs a `# expect: LINE: MESSAGE` header"
    line, fragment = int(header.group(1)), header.group(2)
    with pytest.raises(PolicyError) as caught:
        load_policy(text, path.name)
    problems = caught.value.problems
    matching = [p for p in problems if fragment in p.message]
    assert matching, f"no problem mentions {fragment!r}: {[str(p) for p in problems]}"
    assert matching[0].location.file == path.name
    assert matching[0].location.line == line, str(matching[0])


def test_validate_policy_returns_every_problem() -> None:
    text = """
version: 1
agents: {a: {blueprint: nope}}
policies:
  - id: p
    rules:
      - id: r
        effect: allow
        subjects: {agents: [ghost]}
        tools: [x]
"""
    problems = validate_policy(text, "two.yaml")
    messages = sorted(p.message for p in problems)
    assert messages == ["unknown agent `ghost`", "unknown blueprint `nope`"]


def test_error_messages_follow_the_house_style() -> None:
    for path in _vectors():
        problems = validate_policy(path.read_text(encoding="utf-8"), path.name)
        for problem in problems:
            assert problem.message[0].islower() or problem.message[0] in "`(", problem.message
            assert not problem.message.endswith("."), problem.message
