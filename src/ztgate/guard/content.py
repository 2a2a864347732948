"""Walking JSON-like content: every string (and number) with its JSON path, under caps.

Tool arguments and outputs arrive as nested dicts and lists. Scanners work on strings, so
content is flattened into ``(path, text)`` leaves, and redaction rebuilds the same shape
with some leaves replaced. The walk is iterative-bounded: a depth, node and character
budget stop hostile nesting from costing unbounded time or recursion.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from ztgate.errors import UsageError

#: Suffix of the path of a dict key (``$.user#key``), so findings in keys are told apart
#: from findings in values; keys are reported but never rewritten by redaction.
KEY_SUFFIX = "#key"
_IDENT_START = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")


@dataclass(frozen=True, slots=True)
class Limits:
    """Caps on one scan. Content beyond them is not scanned and is reported instead."""

    max_chars: int = 262_144
    max_depth: int = 32
    max_nodes: int = 20_000


class Leaf(NamedTuple):
    """One scannable string: its JSON path, text, and whether it is a dict key."""

    path: str
    text: str
    is_key: bool = False
    is_number: bool = False


@dataclass
class Walk:
    """The leaves found and whether any cap cut the walk short (and which)."""

    leaves: list[Leaf]
    exceeded: list[str]


def child_path(parent: str, key: str | int) -> str:
    """``$.name``, ``$["odd key"]`` or ``$[3]``: the JSONPath of a child."""
    if isinstance(key, int):
        return f"{parent}[{key}]"
    if key.isascii() and key.isidentifier():
        return f"{parent}.{key}"  # the common case, decided without a per-character loop
    if key and key[0] in _IDENT_START and all(c.isalnum() or c == "_" for c in key):
        return f"{parent}.{key}"
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{parent}["{escaped}"]'


def walk(content: Any, limits: Limits) -> Walk:
    """Flatten ``content`` into leaves, honouring ``limits``.

    Accepts ``str`` and JSON-like values (dict with string keys, list, tuple, int, float,
    bool, ``None``); anything else is a :class:`UsageError`, because a scanner that
    silently skipped a type it did not understand would be a bypass.
    """
    if type(content) is str and len(content) <= limits.max_chars and limits.max_nodes >= 1:
        return Walk([Leaf("$", content)], [])  # plain text: one leaf, nothing to cap
    leaves: list[Leaf] = []
    exceeded: list[str] = []
    budget = limits.max_chars
    nodes = 0
    # (path, value, depth, is_key): keys are pushed as their own entries, just before
    # their value, so the leaves come out key, value, key, value ... in document order.
    stack: list[tuple[str, Any, int, bool]] = [("$", content, 0, False)]
    while stack:
        path, value, depth, is_key = stack.pop()
        nodes += 1
        if nodes > limits.max_nodes:
            exceeded.append("max_nodes")
            break
        is_str = isinstance(value, str)
        if is_str or (isinstance(value, int | float) and not isinstance(value, bool)):
            if not is_str and isinstance(value, float) and not math.isfinite(value):
                continue
            text = value if is_str else repr(value)
            if len(text) > budget:
                exceeded.append("max_chars")
                text = text[:budget]
            budget -= len(text)
            leaves.append(Leaf(path, text, is_key and is_str, not is_str))
            if budget <= 0 and stack:
                exceeded.append("max_chars")
                break
            continue
        if value is None or isinstance(value, bool):
            continue
        if depth >= limits.max_depth:
            exceeded.append("max_depth")
            continue
        if isinstance(value, dict):
            items = list(value.items())
            for key, _ in items:
                if not isinstance(key, str):
                    raise UsageError(f"content keys must be strings, not `{type(key).__name__}`")
            for key, child in reversed(items):
                child_at = child_path(path, key)
                stack.append((child_at, child, depth + 1, False))
                stack.append((child_at + KEY_SUFFIX, key, depth + 1, True))
        elif isinstance(value, list | tuple):
            for index in range(len(value) - 1, -1, -1):
                stack.append((child_path(path, index), value[index], depth + 1, False))
        else:
            raise UsageError(f"cannot scan content of type `{type(value).__name__}`")
    return Walk(leaves, sorted(set(exceeded)))


def rebuild(
    content: Any,
    replace: Callable[[str, Any], Any],
    replace_key: Callable[[str, str], str] | None = None,
) -> Any:
    """A copy of ``content`` where each string/number leaf at ``path`` becomes
    ``replace(path, value)`` and, when ``replace_key`` is given, each key at ``path``
    (``child_path(...) + KEY_SUFFIX``) becomes ``replace_key(path, key)``.

    A renamed key never overwrites another: keys left unchanged keep their names, and a
    renamed one whose new name is taken gets ``#2``, ``#3`` ... appended, so redacting two
    e-mail keys keeps both values.
    """

    def go(path: str, value: Any, depth: int) -> Any:
        if isinstance(value, str) or (
            isinstance(value, int | float) and not isinstance(value, bool)
        ):
            return replace(path, value)
        if isinstance(value, dict) and depth < 64:
            if replace_key is None:
                return {k: go(child_path(path, k), v, depth + 1) for k, v in value.items()}
            names = {k: replace_key(child_path(path, k) + KEY_SUFFIX, k) for k in value}
            taken = {k for k, name in names.items() if name == k}  # unchanged keys keep theirs
            out: dict[str, Any] = {}
            for k, v in value.items():
                name = names[k]
                if name != k:
                    unique, suffix = name, 2
                    while unique in taken:
                        unique, suffix = f"{name}#{suffix}", suffix + 1
                    taken.add(unique)
                    name = unique
                out[name] = go(child_path(path, k), v, depth + 1)
            return out
        if isinstance(value, list | tuple) and depth < 64:
            return [go(child_path(path, i), v, depth + 1) for i, v in enumerate(value)]
        return value

    return go("$", content, 0)
