"""Compile argument constraints to closures that answer True, False or None.

``None`` means *indeterminate*: the argument is missing, null, of the wrong type, not
canonicalisable, or otherwise cannot be judged. Allow rules need ``True``; forbid and
approval rules treat ``None`` as applying (see :mod:`compile`), so every doubt resolves
towards deny.

Types are exact: ``bool`` is not a number, ``"50"`` is not 50, ``50.0`` is not an integer,
NaN and infinities are nothing at all. Strings are NFKC-normalised and refused if they
hold invisible characters before any comparison.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final

import re2

from ztgate.core.canon.email import parse_email
from ztgate.core.canon.path import is_under
from ztgate.core.canon.text import canonical_string
from ztgate.core.canon.url import (
    AddressClass,
    HostPatterns,
    is_forbidden_destination,
    parse_url,
)
from ztgate.core.models import Effect
from ztgate.core.policy.ast import ConstraintDef, Scalar, ValueType
from ztgate.errors import CanonicalizationError

Tri = bool | None
ValueCheck = Callable[[Any], Tri]
ArgsCheck = Callable[[Mapping[str, Any]], Tri]


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


MISSING: Final = _Missing()
"""The argument is not there at all (distinct from JSON null)."""

_UNREACHABLE: Final = _Missing()
"""A nested path ran through something that is neither a mapping nor a list."""

MAX_STRING_LENGTH = 65536
# `allow_private` admits private networks, never these.
_ALWAYS_REFUSED = frozenset({AddressClass.METADATA, AddressClass.LINK_LOCAL})


def make_getter(path: str) -> Callable[[Mapping[str, Any]], Any]:
    """Return a function reading ``path`` (dotted; digit segments index lists) from args."""
    parts = path.split(".")
    if len(parts) == 1:
        key = parts[0]

        def get_top(args: Mapping[str, Any]) -> Any:
            return args.get(key, MISSING)

        return get_top

    def get_nested(args: Mapping[str, Any]) -> Any:
        node: Any = args
        for part in parts:
            if isinstance(node, Mapping):
                node = node.get(part, MISSING)
            elif isinstance(node, list | tuple) and part.isdigit():
                index = int(part)
                node = node[index] if index < len(node) else MISSING
            elif node is None:
                return MISSING
            else:
                return _UNREACHABLE
            if node is MISSING:
                return MISSING
        return node

    return get_nested


def typed_key(value: Any) -> tuple[str, Any] | None:
    """A hashable key that compares equal only for values of the same kind.

    Python treats ``True == 1 == 1.0``; membership tests on policy literals must not.
    """
    kind = type(value)
    if kind is str:
        try:
            return ("s", canonical_string(value, max_length=MAX_STRING_LENGTH))
        except CanonicalizationError:
            return None
    if kind is bool:
        return ("b", value)
    if kind is int:
        return ("n", value)
    if kind is float:
        return ("n", value) if math.isfinite(value) else None
    return None


def _literal_keys(literals: Sequence[Scalar]) -> frozenset[tuple[str, Any]]:
    keys = set()
    for lit in literals:
        key = typed_key(lit)
        if key is not None:
            keys.add(key)
    return frozenset(keys)


def _all_of(checks: list[ValueCheck]) -> ValueCheck:
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> Tri:
        result: Tri = True
        for one in checks:
            r = one(value)
            if r is False:
                return False
            if r is None:
                result = None
        return result

    return check


def compile_value_check(c: ConstraintDef) -> ValueCheck:
    """A closure judging one (present) value against ``c``."""
    builder = _BUILDERS[c.type]
    return builder(c)


def _numbers(c: ConstraintDef) -> ValueCheck:
    integer_only = c.type is ValueType.INTEGER
    lo, lo_strict = (c.gt, True) if c.gt is not None else (c.min, False)
    hi, hi_strict = (c.lt, True) if c.lt is not None else (c.max, False)
    allowed = _literal_keys(c.in_) if c.in_ is not None else None
    refused = _literal_keys(c.not_in) if c.not_in is not None else None
    equals = typed_key(c.equals) if c.equals is not None else None

    def check(value: Any) -> Tri:
        kind = type(value)
        if kind is int:
            pass
        elif kind is float and not integer_only:
            if not math.isfinite(value):
                return None
        else:
            return None
        if lo is not None and (value <= lo if lo_strict else value < lo):
            return False
        if hi is not None and (value >= hi if hi_strict else value > hi):
            return False
        if equals is not None and ("n", value) != equals:
            return False
        if allowed is not None and ("n", value) not in allowed:
            return False
        return not (refused is not None and ("n", value) in refused)

    return check


def _strings(c: ConstraintDef) -> ValueCheck:
    fold = c.ignore_case
    norm: Callable[[str], str] = str.casefold if fold else str

    def prep(values: Sequence[Scalar] | None) -> frozenset[str] | None:
        return None if values is None else frozenset(norm(str(v)) for v in values)

    allowed = prep(c.in_)
    refused = prep(c.not_in)
    equals = norm(str(c.equals)) if c.equals is not None else None
    prefix = norm(c.prefix) if c.prefix is not None else None
    suffix = norm(c.suffix) if c.suffix is not None else None
    min_len, max_len = c.min_length, c.max_length
    pattern = None
    if c.regex is not None:
        options = re2.Options()
        options.case_sensitive = not fold
        pattern = re2.compile(c.regex, options)

    def check(value: Any) -> Tri:
        if type(value) is not str:
            return None
        if value.isascii() and value.isprintable() and len(value) <= MAX_STRING_LENGTH:
            # Printable ASCII is its own NFKC form and hides nothing: skip the call.
            text = value
        else:
            try:
                text = canonical_string(value, max_length=MAX_STRING_LENGTH)
            except CanonicalizationError:
                return None
        if fold:
            text = text.casefold()
        if equals is not None and text != equals:
            return False
        if allowed is not None and text not in allowed:
            return False
        if refused is not None and text in refused:
            return False
        if prefix is not None and not text.startswith(prefix):
            return False
        if suffix is not None and not text.endswith(suffix):
            return False
        if min_len is not None and len(text) < min_len:
            return False
        if max_len is not None and len(text) > max_len:
            return False
        return not (pattern is not None and pattern.fullmatch(text) is None)

    return check


def _booleans(c: ConstraintDef) -> ValueCheck:
    expected = c.equals

    def check(value: Any) -> Tri:
        if type(value) is not bool:
            return None
        return expected is None or value is expected

    return check


def _paths(c: ConstraintDef) -> ValueCheck:
    roots = c.under

    def check(value: Any) -> Tri:
        if type(value) is not str:
            return None
        try:
            if roots is None:
                # Only require that the value is an acceptable path at all.
                return is_under(value, ("/",))
            return is_under(value, roots)
        except CanonicalizationError:
            return None

    return check


def _urls(c: ConstraintDef) -> ValueCheck:
    schemes = frozenset(c.schemes) if c.schemes is not None else frozenset({"https"})
    patterns = (
        HostPatterns.compile(hosts=c.hosts or (), domains=c.domains or ())
        if c.hosts or c.domains
        else None
    )
    ports = frozenset(c.ports) if c.ports is not None else None
    allow_private = c.allow_private

    def check(value: Any) -> Tri:
        if type(value) is not str:
            return None
        try:
            url = parse_url(value)
        except CanonicalizationError:
            return None
        if url.has_userinfo:
            # `https://trusted@evil` is a classic confusion; nothing legitimate needs it here.
            return None
        if url.scheme not in schemes:
            return False
        refused = is_forbidden_destination(url)
        if refused is not None and (not allow_private or refused in _ALWAYS_REFUSED):
            return False
        if patterns is not None and not patterns.matches(url):
            return False
        return not (ports is not None and url.effective_port not in ports)

    return check


def _emails(c: ConstraintDef) -> ValueCheck:
    domains = tuple(d.lower() for d in c.domains or ())
    allowed = frozenset(str(v).lower() for v in c.in_) if c.in_ is not None else None
    refused = frozenset(str(v).lower() for v in c.not_in) if c.not_in is not None else None
    equals = str(c.equals).lower() if c.equals is not None else None

    def check(value: Any) -> Tri:
        if type(value) is not str:
            return None
        try:
            address = parse_email(value)
        except CanonicalizationError:
            return None
        domain = address.domain
        full = f"{address.local.lower()}@{domain}"
        if domains and not any(domain == d or domain.endswith("." + d) for d in domains):
            return False
        if equals is not None and full != equals:
            return False
        if allowed is not None and full not in allowed:
            return False
        return not (refused is not None and full in refused)

    return check


def _lists(c: ConstraintDef) -> ValueCheck:
    min_items = c.min_items if c.min_items is not None else c.min_length
    max_items = c.max_items if c.max_items is not None else c.max_length
    item_check = compile_value_check(c.items) if c.items is not None else None
    contains = typed_key(c.contains) if c.contains is not None else None
    subset = _literal_keys(c.subset_of) if c.subset_of is not None else None

    def check(value: Any) -> Tri:
        if type(value) not in (list, tuple):
            return None
        if min_items is not None and len(value) < min_items:
            return False
        if max_items is not None and len(value) > max_items:
            return False
        result: Tri = True
        if item_check is not None:
            for item in value:
                r = item_check(item)
                if r is False:
                    return False
                if r is None:
                    result = None
        if contains is not None and not any(typed_key(v) == contains for v in value):
            return False
        if subset is not None:
            for item in value:
                key = typed_key(item)
                if key is None:
                    result = None
                elif key not in subset:
                    return False
        return result

    return check


def _objects(c: ConstraintDef) -> ValueCheck:
    def check(value: Any) -> Tri:
        return True if isinstance(value, Mapping) else None

    return check


def _anything(c: ConstraintDef) -> ValueCheck:
    def check(value: Any) -> Tri:
        return True

    return check


_BUILDERS: dict[ValueType, Callable[[ConstraintDef], ValueCheck]] = {
    ValueType.STRING: _strings,
    ValueType.INTEGER: _numbers,
    ValueType.NUMBER: _numbers,
    ValueType.BOOLEAN: _booleans,
    ValueType.PATH: _paths,
    ValueType.URL: _urls,
    ValueType.EMAIL: _emails,
    ValueType.LIST: _lists,
    ValueType.OBJECT: _objects,
    ValueType.ANY: _anything,
}


def compile_args(
    constraints: Sequence[tuple[str, ConstraintDef]],
    effect: Effect,
    *,
    additional_args: bool,
) -> ArgsCheck | None:
    """Combine per-argument checks into one closure for a rule with ``effect``.

    A missing argument is indeterminate unless the constraint is ``optional``; an optional
    constraint on a missing (or null) argument resolves in the rule's favour of *not*
    changing the outcome: satisfied for allow rules, not applying for forbid/approval rules.
    """
    entries: list[tuple[Callable[[Mapping[str, Any]], Any], ValueCheck, ConstraintDef]] = [
        (make_getter(path), compile_value_check(c), c) for path, c in constraints
    ]
    allowed_top = frozenset(path.split(".")[0] for path, _ in constraints)
    if not entries and additional_args:
        return None
    permissive = effect is Effect.ALLOW

    def check(args: Mapping[str, Any]) -> Tri:
        result: Tri = True
        for get, value_check, c in entries:
            value = get(args)
            if c.absent:
                if value is not MISSING:
                    return False
                continue
            if value is MISSING or value is None:
                if c.present:
                    # `present: true` asks a yes/no question: missing is a definite no.
                    return False
                if c.optional:
                    if permissive:
                        continue
                    return False
                if permissive:
                    return None
                result = None
                continue
            if value is _UNREACHABLE:
                if permissive:
                    return None
                result = None
                continue
            r = value_check(value)
            if r is False:
                return False
            if r is None:
                if permissive:
                    return None
                result = None
        if not additional_args:
            for key in args:
                if key not in allowed_top:
                    return False
        return result

    return check


def check_value_for_explain(c: ConstraintDef, value: Any) -> Tri:
    """Judge one value (used by ``explain`` to name the failing argument)."""
    if value is MISSING or value is None or value is _UNREACHABLE:
        return None
    return compile_value_check(c)(value)
