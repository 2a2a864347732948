"""The published JSON Schema is valid and accepts every example policy."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from jsonschema import Draft202012Validator

from ztgate.core.policy import policy_schema

EXAMPLES = Path(__file__).resolve().parents[4] / "examples"


def test_schema_is_a_valid_draft_2020_12_schema() -> None:
    Draft202012Validator.check_schema(policy_schema())


@pytest.mark.parametrize(
    "path", sorted(EXAMPLES.glob("*/policy.yaml")), ids=lambda p: p.parent.name
)
def test_examples_validate_against_the_published_schema(path: Path) -> None:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    errors = list(Draft202012Validator(policy_schema()).iter_errors(data))
    assert not errors, [e.message for e in errors]


def test_schema_rejects_unknown_keys_everywhere() -> None:
    validator = Draft202012Validator(policy_schema())
    assert not validator.is_valid({"version": 1, "extra": 1})
    assert not validator.is_valid(
        {
            "version": 1,
            "policies": [
                {
                    "id": "p",
                    "rules": [
                        {
                            "id": "r",
                            "effect": "allow",
                            "subjects": "any",
                            "tools": ["t"],
                            "args": {"a": {"maxx": 1}},
                        }
                    ],
                }
            ],
        }
    )
