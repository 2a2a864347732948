"""Semantic validation: from structurally valid data to a typed :class:`PolicyDocument`.

The JSON Schema has already checked the shape. This stage checks meaning: references
resolve, blueprint inheritance has no cycles, ids are unique, operators fit the value type,
literals are finite and canonical, regexes compile under the linear-time engine, CIDRs and
time zones parse. It reports every problem found, each with file and line.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from ipaddress import IPv4Network, IPv6Network, ip_network
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2

from ztgate.core.canon.path import canonical_path
from ztgate.core.canon.text import canonical_string, find_invisible
from ztgate.core.canon.url import canonical_domain, canonical_host
from ztgate.core.models import Effect, Mode, risk_rank
from ztgate.core.policy._source import DocPath, SourceMap
from ztgate.core.policy.ast import (
    ANY_SUBJECT,
    AgentDef,
    BlueprintDef,
    ConstraintDef,
    PermissionDef,
    PolicyDocument,
    QuotaDef,
    RuleDef,
    Scalar,
    Subjects,
    Tier,
    TimeWindow,
    ValueType,
    WhenDef,
)
from ztgate.errors import CanonicalizationError, Problem

_NUMERIC_OPS = ("min", "max", "gt", "lt")
_STRING_OPS = ("regex", "prefix", "suffix", "ignore_case")
_LENGTH_OPS = ("min_length", "max_length")
_VALUE_OPS = ("equals", "in", "not_in")
_URL_OPS = ("schemes", "hosts", "ports", "allow_private")
_LIST_OPS = ("min_items", "max_items", "items", "contains", "subset_of")

# Which operators each type accepts (``type``, ``optional`` and ``present`` always do).
_ALLOWED_OPS: dict[ValueType, frozenset[str]] = {
    ValueType.STRING: frozenset((*_VALUE_OPS, *_STRING_OPS, *_LENGTH_OPS)),
    ValueType.INTEGER: frozenset((*_VALUE_OPS, *_NUMERIC_OPS)),
    ValueType.NUMBER: frozenset((*_VALUE_OPS, *_NUMERIC_OPS)),
    ValueType.BOOLEAN: frozenset(("equals",)),
    ValueType.PATH: frozenset(("under",)),
    ValueType.URL: frozenset((*_URL_OPS, "domains")),
    ValueType.EMAIL: frozenset(("domains", "equals", "in", "not_in")),
    ValueType.LIST: frozenset((*_LIST_OPS, *_LENGTH_OPS)),
    ValueType.OBJECT: frozenset(),
    ValueType.ANY: frozenset(),
}
_ALWAYS_OK = frozenset(("type", "optional", "present"))
_DAYS = {"mon": 0, "tue": 1, "wed": 2, "thu": 3, "fri": 4, "sat": 5, "sun": 6}
_WINDOW_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
MAX_REGEX_PROGRAM_SIZE = 4096
ARG_PATH_RE = re.compile(r"^[^.\s]+(\.[^.\s]+)*$")


def document_hash(data: Any) -> str:
    """The policy version: SHA-256 over the canonical JSON of the loaded document."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return "sha256:" + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _Parser:
    def __init__(self, smap: SourceMap) -> None:
        self.smap = smap
        self.problems: list[Problem] = []

    def fail(self, path: DocPath, message: str) -> None:
        self.problems.append(self.smap.problem(path, message))

    # -- top level -----------------------------------------------------------------------

    def document(self, data: Mapping[str, Any]) -> PolicyDocument:
        blueprints = self.blueprints(data.get("blueprints", {}))
        agents = self.agents(data.get("agents", {}), blueprints)
        rules: list[RuleDef] = []
        quotas: list[QuotaDef] = []
        for bp in blueprints.values():
            rules.extend(self.lower_permissions(bp))
        seen_policies: set[str] = set()
        seen_rules: dict[str, DocPath] = {}
        seen_quotas: set[str] = set()
        for i, policy in enumerate(data.get("policies", [])):
            ppath: DocPath = ("policies", i)
            pid = policy["id"]
            if pid in seen_policies:
                self.fail((*ppath, "id"), f"duplicate policy id `{pid}`")
            seen_policies.add(pid)
            mode = Mode(policy.get("mode", "enforce"))
            for j, rule in enumerate(policy.get("rules", [])):
                rpath: DocPath = (*ppath, "rules", j)
                if rule["id"] in seen_rules:
                    self.fail((*rpath, "id"), f"duplicate rule id `{rule['id']}`")
                seen_rules[rule["id"]] = rpath
                parsed = self.rule(rule, rpath, mode, pid, agents, blueprints)
                if parsed is not None:
                    rules.append(parsed)
            for j, quota in enumerate(policy.get("quotas", [])):
                qpath: DocPath = (*ppath, "quotas", j)
                if quota["id"] in seen_quotas:
                    self.fail((*qpath, "id"), f"duplicate quota id `{quota['id']}`")
                seen_quotas.add(quota["id"])
                parsed_quota = self.quota(quota, qpath, mode, pid, agents, blueprints)
                if parsed_quota is not None:
                    quotas.append(parsed_quota)
        return PolicyDocument(
            agents=agents,
            blueprints=blueprints,
            rules=tuple(rules),
            quotas=tuple(quotas),
            version_hash=document_hash(data),
            source=self.smap.file,
        )

    def blueprints(self, raw: Mapping[str, Any]) -> dict[str, BlueprintDef]:
        out: dict[str, BlueprintDef] = {}
        for name, spec in raw.items():
            path: DocPath = ("blueprints", name)
            parent = spec.get("extends")
            if parent is not None and parent not in raw:
                self.fail((*path, "extends"), f"unknown blueprint `{parent}`")
                parent = None
            perms: list[PermissionDef] = []
            for tier_name, entries in spec.get("permissions", {}).items():
                tier = Tier(tier_name)
                for k, entry in enumerate(entries):
                    ppath: DocPath = (*path, "permissions", tier_name, k)
                    perm = self.permission(entry, ppath, tier)
                    if perm is not None:
                        perms.append(perm)
            out[name] = BlueprintDef(id=name, extends=parent, permissions=tuple(perms))
        # Cycles and permission-id collisions along each inheritance chain.
        for name in out:
            chain = [name]
            current = out[name].extends
            while current is not None:
                if current in chain:
                    self.fail(
                        ("blueprints", name, "extends"),
                        "blueprint inheritance has a cycle: "
                        + " -> ".join(f"`{c}`" for c in [*chain, current]),
                    )
                    break
                chain.append(current)
                current = out[current].extends
            else:
                seen: dict[str, str] = {}
                for member in chain:
                    for perm in out[member].permissions:
                        if perm.id in seen and seen[perm.id] != member:
                            self.fail(
                                ("blueprints", name),
                                f"permission id `{perm.id}` is defined by both "
                                f"`{seen[perm.id]}` and `{member}` along one inheritance chain",
                            )
                        seen.setdefault(perm.id, member)
        for name, bp in out.items():
            ids = [p.id for p in bp.permissions]
            for dup in {i for i in ids if ids.count(i) > 1}:
                self.fail(("blueprints", name, "permissions"), f"duplicate permission id `{dup}`")
        return out

    def agents(
        self, raw: Mapping[str, Any], blueprints: Mapping[str, BlueprintDef]
    ) -> dict[str, AgentDef]:
        out: dict[str, AgentDef] = {}
        for name, spec in raw.items():
            bp = spec.get("blueprint")
            if bp is not None and bp not in blueprints:
                self.fail(("agents", name, "blueprint"), f"unknown blueprint `{bp}`")
            out[name] = AgentDef(id=name, blueprint=bp, risk=spec.get("risk"))
        return out

    def permission(
        self, entry: Mapping[str, Any], path: DocPath, tier: Tier
    ) -> PermissionDef | None:
        effect = Effect.DENY if tier is Tier.DENIED else Effect.ALLOW
        before = len(self.problems)
        tools, servers, args, additional, when = self.body(entry, path, effect)
        if len(self.problems) > before:
            return None
        return PermissionDef(
            id=entry["id"],
            tier=tier,
            tools=tools,
            servers=servers,
            args=args,
            additional_args=additional,
            when=when,
            description=entry.get("description", ""),
        )

    def body(
        self, raw: Mapping[str, Any], path: DocPath, effect: Effect
    ) -> tuple[
        tuple[str, ...],
        tuple[str, ...] | None,
        tuple[tuple[str, ConstraintDef], ...],
        bool,
        WhenDef | None,
    ]:
        """What rules and permissions share: tools, servers, args, closure and conditions."""
        tools = self.patterns(raw["tools"], (*path, "tools"))
        servers = self.patterns(raw["servers"], (*path, "servers")) if "servers" in raw else None
        args = self.args(raw.get("args", {}), (*path, "args"), effect)
        additional = self.additional_args(raw, path, effect)
        when = self.when(raw["when"], (*path, "when")) if "when" in raw else None
        return tools, servers, args, additional, when

    def lower_permissions(self, bp: BlueprintDef) -> Iterable[RuleDef]:
        """A blueprint permission is a rule whose subject is the blueprint (and so every
        descendant's agents), and whose tier says what else it needs."""
        for perm in bp.permissions:
            yield RuleDef(
                id=f"{bp.id}/{perm.id}",
                effect=Effect.DENY if perm.tier is Tier.DENIED else Effect.ALLOW,
                subjects=Subjects(any=False, blueprints=frozenset({bp.id})),
                tools=perm.tools,
                servers=perm.servers,
                args=perm.args,
                additional_args=perm.additional_args,
                when=perm.when,
                mode=Mode.ENFORCE,
                policy_id=f"blueprint:{bp.id}",
                tier=perm.tier,
                permission=perm.id,
                description=perm.description,
            )

    def rule(
        self,
        raw: Mapping[str, Any],
        path: DocPath,
        mode: Mode,
        policy_id: str,
        agents: Mapping[str, AgentDef],
        blueprints: Mapping[str, BlueprintDef],
    ) -> RuleDef | None:
        before = len(self.problems)
        effect = Effect(raw["effect"])
        subjects = self.subjects(raw["subjects"], (*path, "subjects"), agents, blueprints)
        tools, servers, args, additional, when = self.body(raw, path, effect)
        if len(self.problems) > before:
            return None
        return RuleDef(
            id=raw["id"],
            effect=effect,
            subjects=subjects,
            tools=tools,
            servers=servers,
            args=args,
            additional_args=additional,
            when=when,
            mode=mode,
            policy_id=policy_id,
            description=raw.get("description", ""),
        )

    def quota(
        self,
        raw: Mapping[str, Any],
        path: DocPath,
        mode: Mode,
        policy_id: str,
        agents: Mapping[str, AgentDef],
        blueprints: Mapping[str, BlueprintDef],
    ) -> QuotaDef | None:
        before = len(self.problems)
        subjects = self.subjects(raw["subjects"], (*path, "subjects"), agents, blueprints)
        tools = self.patterns(raw["tools"], (*path, "tools"))
        servers = self.patterns(raw["servers"], (*path, "servers")) if "servers" in raw else None
        window = raw["window"]
        seconds = int(window[:-1]) * _WINDOW_UNITS[window[-1]]
        limit = raw["limit"]
        if not self.finite_number(limit, (*path, "limit")):
            return None
        sum_path = raw.get("sum")
        if sum_path is not None and not ARG_PATH_RE.match(sum_path):
            self.fail((*path, "sum"), f"invalid argument path `{sum_path}`")
        if len(self.problems) > before:
            return None
        return QuotaDef(
            id=raw["id"],
            subjects=subjects,
            tools=tools,
            servers=servers,
            window_seconds=seconds,
            limit=float(limit),
            sum_path=sum_path,
            per_agent=raw.get("per", "agent") == "agent",
            mode=mode,
            policy_id=policy_id,
        )

    # -- pieces --------------------------------------------------------------------------

    def subjects(
        self,
        raw: Any,
        path: DocPath,
        agents: Mapping[str, AgentDef],
        blueprints: Mapping[str, BlueprintDef],
    ) -> Subjects:
        if raw == "any":
            return ANY_SUBJECT
        names = raw.get("agents", [])
        bps = raw.get("blueprints", [])
        for k, name in enumerate(names):
            if name not in agents:
                self.fail((*path, "agents", k), f"unknown agent `{name}`")
        for k, name in enumerate(bps):
            if name not in blueprints:
                self.fail((*path, "blueprints", k), f"unknown blueprint `{name}`")
        return Subjects(any=False, agents=frozenset(names), blueprints=frozenset(bps))

    def patterns(self, raw: Sequence[str], path: DocPath) -> tuple[str, ...]:
        out = []
        for k, pattern in enumerate(raw):
            text = self.canonical_literal(pattern, (*path, k))
            if text is None:
                continue
            if any(c in text for c in "[]"):
                self.fail((*path, k), f"`{text}`: only `*` and `?` wildcards are supported")
                continue
            if not text.isprintable() or " " in text:
                # Requests naming a tool with whitespace are refused, so such a pattern
                # could never match: a typo the author should hear about.
                self.fail((*path, k), f"`{text!r}`: tool and server names have no whitespace")
                continue
            out.append(text)
        return tuple(out)

    def additional_args(self, raw: Mapping[str, Any], path: DocPath, effect: Effect) -> bool:
        value = raw.get("additional_args", True)
        if value is False and effect is not Effect.ALLOW:
            self.fail(
                (*path, "additional_args"),
                "`additional_args: false` only makes sense on rules that allow",
            )
        return bool(value)

    def canonical_literal(self, value: str, path: DocPath) -> str | None:
        if find_invisible(value):
            self.fail(path, "contains invisible or control characters")
            return None
        try:
            return canonical_string(value)
        except CanonicalizationError as error:
            self.fail(path, str(error))
            return None

    def finite_number(self, value: Any, path: DocPath) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(path, f"expected a number, got `{value!r}`")
            return False
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(path, "numbers in a policy must be finite")
            return False
        return True

    def args(
        self, raw: Mapping[str, Any], path: DocPath, effect: Effect
    ) -> tuple[tuple[str, ConstraintDef], ...]:
        out = []
        for arg_path, spec in raw.items():
            cpath: DocPath = (*path, arg_path)
            if not ARG_PATH_RE.match(arg_path):
                self.fail(cpath, f"invalid argument path `{arg_path}`")
                continue
            constraint = self.constraint(spec, cpath, effect, top_level=True)
            if constraint is not None:
                out.append((arg_path, constraint))
        return tuple(out)

    def constraint(
        self, spec: Mapping[str, Any], path: DocPath, effect: Effect, *, top_level: bool
    ) -> ConstraintDef | None:
        before = len(self.problems)
        ops = set(spec) - _ALWAYS_OK
        if spec.get("absent"):
            if set(spec) - {"absent"}:
                self.fail(path, "`absent` cannot be combined with other operators")
                return None
            if not top_level:
                self.fail(path, "`absent` is only meaningful for an argument, not list items")
                return None
            return ConstraintDef(type=ValueType.ANY, absent=True)
        if spec.get("optional") and not top_level:
            self.fail((*path, "optional"), "`optional` is only meaningful for an argument")
        vtype = self.resolve_type(spec, path)
        if vtype is None:
            return None
        not_allowed = sorted(ops - _ALLOWED_OPS[vtype])
        for op in not_allowed:
            self.fail((*path, op), f"operator `{op}` does not apply to type `{vtype}`")
        if not_allowed:
            return None
        if not ops and not spec.get("present") and "type" not in spec:
            self.fail(path, "constraint has no operators; use `present: true` to only require it")
            return None

        values: dict[str, Any] = {}
        for op in ("equals", "contains"):
            if op in spec:
                lit = self.literal(spec[op], (*path, op), vtype if op == "equals" else None)
                if lit is not None:
                    values[op] = lit
        for op, field_name in (("in", "in_"), ("not_in", "not_in"), ("subset_of", "subset_of")):
            if op in spec:
                lits = [
                    self.literal(v, (*path, op, k), vtype if op != "subset_of" else None)
                    for k, v in enumerate(spec[op])
                ]
                values[field_name] = tuple(v for v in lits if v is not None)
        for op in _NUMERIC_OPS:
            if op in spec and self.finite_number(spec[op], (*path, op)):
                values[op] = spec[op]
        lo = values.get("min", values.get("gt"))
        hi = values.get("max", values.get("lt"))
        if lo is not None and hi is not None and lo > hi:
            self.fail(path, "lower bound is above the upper bound: nothing can satisfy it")
        for inclusive, exclusive in (("min", "gt"), ("max", "lt")):
            if inclusive in spec and exclusive in spec:
                self.fail(path, f"use either `{inclusive}` or `{exclusive}`, not both")
        for op in (*_LENGTH_OPS, "min_items", "max_items"):
            if op in spec:
                values[op] = spec[op]
        for low, high in (("min_length", "max_length"), ("min_items", "max_items")):
            if low in values and high in values and values[low] > values[high]:
                self.fail(path, f"`{low}` is above `{high}`: nothing can satisfy it")
        for op in ("prefix", "suffix"):
            if op in spec:
                text = self.canonical_literal(spec[op], (*path, op))
                if text is not None:
                    values[op] = text
        if "regex" in spec:
            values["regex"] = self.regex(spec["regex"], (*path, "regex"), spec.get("ignore_case"))
        if "under" in spec:
            roots = []
            for k, root in enumerate(spec["under"]):
                try:
                    roots.append(canonical_path(root))
                except CanonicalizationError as error:
                    self.fail((*path, "under", k), f"invalid root: {error}")
            values["under"] = tuple(roots)
        if "schemes" in spec:
            values["schemes"] = tuple(spec["schemes"])
        if "hosts" in spec:
            values["hosts"] = tuple(self.hosts(spec["hosts"], (*path, "hosts"), domains=False))
        if "domains" in spec:
            values["domains"] = tuple(self.hosts(spec["domains"], (*path, "domains"), domains=True))
        if "ports" in spec:
            values["ports"] = tuple(spec["ports"])
        items = None
        if "items" in spec:
            items = self.constraint(spec["items"], (*path, "items"), effect, top_level=False)
        if len(self.problems) > before:
            return None
        return ConstraintDef(
            type=vtype,
            optional=bool(spec.get("optional", False)),
            present=bool(spec.get("present", False)),
            equals=values.get("equals"),
            in_=values.get("in_"),
            not_in=values.get("not_in"),
            min=values.get("min"),
            max=values.get("max"),
            gt=values.get("gt"),
            lt=values.get("lt"),
            min_length=values.get("min_length"),
            max_length=values.get("max_length"),
            regex=values.get("regex"),
            prefix=values.get("prefix"),
            suffix=values.get("suffix"),
            ignore_case=bool(spec.get("ignore_case", False)),
            under=values.get("under"),
            schemes=values.get("schemes"),
            hosts=values.get("hosts"),
            domains=values.get("domains"),
            ports=values.get("ports"),
            allow_private=bool(spec.get("allow_private", False)),
            min_items=values.get("min_items"),
            max_items=values.get("max_items"),
            items=items,
            contains=values.get("contains"),
            subset_of=values.get("subset_of"),
        )

    def resolve_type(self, spec: Mapping[str, Any], path: DocPath) -> ValueType | None:
        """The declared type, or the one the operators imply; ambiguity is an error."""
        if "type" in spec:
            return ValueType(spec["type"])
        ops = set(spec) - _ALWAYS_OK
        if not ops:
            return ValueType.ANY
        candidates = [t for t in ValueType if ops <= _ALLOWED_OPS[t]]
        literals = [spec[k] for k in ("equals",) if k in spec]
        literals += [v for k in ("in", "not_in") for v in spec.get(k, [])]
        if literals:
            kinds = {_literal_kind(v) for v in literals}
            if len(kinds) != 1:
                self.fail(path, "mixed literal types; add `type` to say which one is meant")
                return None
            implied = kinds.pop()
            candidates = [t for t in candidates if t is implied] or (
                [ValueType.NUMBER]
                if implied is ValueType.INTEGER and ops & set(_NUMERIC_OPS)
                else []
            )
        elif ValueType.NUMBER in candidates:
            candidates = [ValueType.NUMBER]
        if "under" in ops:
            candidates = [ValueType.PATH]
        if len(candidates) == 1:
            return candidates[0]
        if not candidates:
            names = ", ".join(f"`{op}`" for op in sorted(ops))
            self.fail(path, f"operators {names} do not belong to one type")
            return None
        if ValueType.STRING in candidates:
            return ValueType.STRING
        names = ", ".join(f"`{t}`" for t in candidates)
        self.fail(path, f"ambiguous constraint: add `type` (one of {names})")
        return None

    def literal(self, value: Any, path: DocPath, vtype: ValueType | None) -> Scalar | None:
        if isinstance(value, str):
            text = self.canonical_literal(value, path)
            if text is None:
                return None
            if vtype not in (None, ValueType.STRING, ValueType.EMAIL):
                self.fail(path, f"`{text}` is a string, not a {vtype}")
                return None
            return text.lower() if vtype is ValueType.EMAIL else text
        if isinstance(value, bool):
            if vtype not in (None, ValueType.BOOLEAN):
                self.fail(path, f"`{value}` is a boolean, not a {vtype}")
                return None
            return value
        if isinstance(value, int | float):
            if not self.finite_number(value, path):
                return None
            if vtype is ValueType.INTEGER and not isinstance(value, int):
                self.fail(path, f"`{value}` is not an integer")
                return None
            if vtype not in (None, ValueType.INTEGER, ValueType.NUMBER):
                self.fail(path, f"`{value}` is a number, not a {vtype}")
                return None
            return value
        self.fail(path, f"expected a string, number or boolean, got `{value!r}`")
        return None

    def regex(self, pattern: str, path: DocPath, ignore_case: Any) -> str | None:
        options = re2.Options()
        options.case_sensitive = not ignore_case
        options.max_mem = 1 << 22
        try:
            compiled = re2.compile(pattern, options)
        except re2.error as error:
            self.fail(path, f"invalid regular expression `{pattern}`: {error}")
            return None
        if compiled.programsize > MAX_REGEX_PROGRAM_SIZE:
            self.fail(path, "regular expression is too large")
            return None
        return pattern

    def hosts(self, raw: Sequence[str], path: DocPath, *, domains: bool) -> list[str]:
        """Canonical hosts (any host, IP literals included) or DNS domains."""
        out = []
        for k, host in enumerate(raw):
            try:
                canonical = canonical_domain(host) if domains else canonical_host(host)
            except CanonicalizationError as error:
                self.fail((*path, k), f"invalid {'domain' if domains else 'host'}: {error}")
                continue
            out.append(canonical)
        return out

    def when(self, raw: Mapping[str, Any], path: DocPath) -> WhenDef | None:
        before = len(self.problems)
        time_window = None
        if "time" in raw:
            time_window = self.time_window(raw["time"], (*path, "time"))
        source_in = source_not_in = None
        if "source_ip" in raw:
            src = raw["source_ip"]
            if "in" in src:
                source_in = self.networks(src["in"], (*path, "source_ip", "in"))
            if "not_in" in src:
                source_not_in = self.networks(src["not_in"], (*path, "source_ip", "not_in"))
        risk = raw.get("risk", {})
        delegation = raw.get("delegation", {})
        session = raw.get("session", {})
        depths = (delegation.get("min_depth"), delegation.get("max_depth"))
        if None not in depths and depths[0] > depths[1]:
            self.fail((*path, "delegation"), "`min_depth` is above `max_depth`")
        if len(self.problems) > before:
            return None
        return WhenDef(
            time=time_window,
            source_in=source_in,
            source_not_in=source_not_in,
            risk_max=risk_rank(risk["max"]) if "max" in risk else None,
            risk_min=risk_rank(risk["min"]) if "min" in risk else None,
            risk_in=frozenset(risk_rank(r) for r in risk["in"]) if "in" in risk else None,
            acting_for=frozenset(delegation["acting_for"]) if "acting_for" in delegation else None,
            delegation_required=bool(delegation.get("required", False)),
            max_depth=delegation.get("max_depth"),
            min_depth=delegation.get("min_depth"),
            session_has=frozenset(session["has"]) if "has" in session else None,
            session_lacks=frozenset(session["lacks"]) if "lacks" in session else None,
        )

    def time_window(self, raw: Mapping[str, Any], path: DocPath) -> TimeWindow | None:
        tz_name = raw.get("timezone", "UTC")
        try:
            tz = ZoneInfo(tz_name)
        except (ZoneInfoNotFoundError, ValueError):
            self.fail((*path, "timezone"), f"unknown time zone `{tz_name}`")
            return None
        start = end = None
        if "between" in raw:
            first, second = raw["between"].split("-")
            start = _minutes(first)
            end = _minutes(second)
            if start == end:
                self.fail((*path, "between"), "empty time window: start equals end")
                return None
        days = frozenset(_DAYS[d] for d in raw["days"]) if "days" in raw else None
        return TimeWindow(
            days=days, start_minute=start, end_minute=end, timezone=tz, timezone_name=tz_name
        )

    def networks(self, raw: Sequence[str], path: DocPath) -> tuple[IPv4Network | IPv6Network, ...]:
        out = []
        for k, text in enumerate(raw):
            try:
                out.append(ip_network(text, strict=True))
            except ValueError as error:
                self.fail((*path, k), f"invalid network `{text}`: {error}")
        return tuple(out)


def _minutes(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 60 + int(minutes)


def _literal_kind(value: Any) -> ValueType:
    if isinstance(value, bool):
        return ValueType.BOOLEAN
    if isinstance(value, int):
        return ValueType.INTEGER
    if isinstance(value, float):
        return ValueType.NUMBER
    return ValueType.STRING


def parse_document(data: Any, smap: SourceMap) -> tuple[PolicyDocument | None, list[Problem]]:
    """Semantic validation of structurally valid ``data``; returns the document or problems."""
    parser = _Parser(smap)
    document = parser.document(data)
    if parser.problems:
        return None, parser.problems
    return document, []
