"""The policy language: load (parse, validate), compile, evaluate, explain.

Stages are separate, as in Cedar: :func:`load_policy` turns text into a
:class:`CompiledPolicy` or raises :class:`~ztgate.errors.PolicyError` listing every
problem with file and line; :func:`evaluate` decides a request and never raises.
"""

from __future__ import annotations

from typing import Any

from ztgate.core.policy._source import SourceError, SourceMap, load_text
from ztgate.core.policy.compile import CompiledPolicy, compile_document
from ztgate.core.policy.evaluate import decide, evaluate, no_policy_decision
from ztgate.core.policy.explain import Explanation, explain
from ztgate.core.policy.parse import parse_document
from ztgate.core.policy.schema import policy_schema, structural_problems
from ztgate.errors import PolicyError, Problem, SourceLocation

__all__ = [
    "CompiledPolicy",
    "Explanation",
    "decide",
    "evaluate",
    "explain",
    "load_policy",
    "load_policy_data",
    "no_policy_decision",
    "policy_schema",
    "validate_policy",
]


def validate_policy(text: str, file: str = "<policy>") -> list[Problem]:
    """Every problem in ``text``; an empty list means the policy is valid."""
    try:
        load_policy(text, file)
    except PolicyError as error:
        return list(error.problems)
    return []


def load_policy(text: str, file: str = "<policy>") -> CompiledPolicy:
    """Parse, validate and compile policy ``text`` (YAML or JSON) named ``file``."""
    try:
        data, smap = load_text(text, file)
    except SourceError as error:
        raise PolicyError(error.problems) from None
    return load_policy_data(data, smap)


def load_policy_data(data: Any, smap: SourceMap | None = None) -> CompiledPolicy:
    """Validate and compile already-parsed policy data (for example from an API body)."""
    smap = smap if smap is not None else SourceMap("<data>")
    if data is None:
        raise PolicyError([Problem("the policy document is empty", SourceLocation(smap.file))])
    problems = structural_problems(data, smap)
    if problems:
        raise PolicyError(problems)
    document, problems = parse_document(data, smap)
    if document is None:
        raise PolicyError(problems)
    return compile_document(document)
