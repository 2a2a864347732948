"""The compiled schema validator may only ever be stricter than the Python one.

``structural_problems`` trusts ``jsonschema-rs`` when it says "valid" and asks the Python
``jsonschema`` validator otherwise. That shortcut is sound only if every document the
fast validator accepts, the Python validator accepts too; these tests hold it to that on
every shipped policy, every invalid vector, and random edits of valid documents.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EXAMPLES, VECTORS
from ztgate.core.policy._source import SourceError, SourceMap, load_text
from ztgate.core.policy.schema import _validator, fast_is_valid, structural_problems

POLICY_FILES = sorted(EXAMPLES.glob("*/policy.yaml")) + sorted(
    (VECTORS / "policy" / "valid").glob("*.yaml")
)
INVALID_FILES = sorted((VECTORS / "policy" / "invalid").glob("*.yaml"))


def _python_valid(data: Any) -> bool:
    return not any(True for _ in _validator().iter_errors(data))


def _load(path: Path) -> Any:
    data, _ = load_text(path.read_text(encoding="utf-8"), str(path))
    return data


@pytest.mark.parametrize("path", POLICY_FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_policies_are_valid_for_both(path: Path) -> None:
    data = _load(path)
    assert fast_is_valid(data)
    assert _python_valid(data)


@pytest.mark.parametrize("path", INVALID_FILES, ids=lambda p: p.name)
def test_invalid_vectors_never_pass_fast_but_fail_python(path: Path) -> None:
    try:
        data = _load(path)
    except SourceError:
        return  # refused while reading (aliases, duplicate keys): never reaches the schema
    if fast_is_valid(data):
        assert _python_valid(data)
    if not _python_valid(data):
        assert structural_problems(data, SourceMap(str(path))), path.name


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)
_TRICKY_STRINGS = st.sampled_from(
    ["agent\n", "a" * 129, "", "9h", "0h", "25:00-26:00", "09:00-17:00\n", "Https", "x y"]
)


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            out.extend(_paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out.extend(_paths(child, (*prefix, index)))
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    which=st.integers(min_value=0),
    where=st.integers(min_value=0),
    replacement=_JSON | _TRICKY_STRINGS,
    add_key=st.one_of(st.none(), st.text(max_size=8)),
)
def test_random_edits_fast_valid_implies_python_valid(
    which: int, where: int, replacement: Any, add_key: str | None
) -> None:
    base = _load(POLICY_FILES[which % len(POLICY_FILES)])
    edited = copy.deepcopy(base)
    paths = [p for p in _paths(edited) if p]
    path = paths[where % len(paths)]
    parent = edited
    for step in path[:-1]:
        parent = parent[step]
    if add_key is not None and isinstance(parent, dict):
        parent[add_key] = replacement
    else:
        parent[path[-1]] = replacement
    if fast_is_valid(edited):
        assert _python_valid(edited)
