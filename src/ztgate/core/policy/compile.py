"""Compile a :class:`PolicyDocument` into an immutable, indexed :class:`CompiledPolicy`.

Rules are indexed by tool (exact names in a dict, globs resolved once per tool name and
cached) and, within a tool, by subject key (``a:<agent>``, ``b:<blueprint>``, ``*``). An
agent's keys are precomputed from its blueprint ancestry, so finding the candidate rules
for a request costs a handful of dictionary lookups however many agents and rules exist.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from ztgate.core.models import Decision, Effect, Mode, Reason, ReasonCode
from ztgate.core.policy.ast import PolicyDocument, QuotaDef, RuleDef, Subjects, Tier
from ztgate.core.policy.conditions import WhenCheck, compile_when
from ztgate.core.policy.constraints import ArgsCheck, compile_args, make_getter

ANY_KEY = "*"
_Item = TypeVar("_Item")
TOOL_CACHE_LIMIT = 8192


class CompiledRule:
    """A rule ready to run: its checks as closures plus the decisions it can produce."""

    __slots__ = (
        "allow_decision",
        "args_check",
        "definition",
        "effect",
        "failed_decision",
        "forbid_decision",
        "id",
        "mode",
        "permission",
        "reason_allowed",
        "reason_approval",
        "reason_failed",
        "reason_forbidden",
        "reason_indeterminate",
        "tier",
        "when_check",
    )

    def __init__(self, rule: RuleDef, version: str) -> None:
        self.definition = rule
        self.id = rule.id
        self.effect = rule.effect
        self.mode = rule.mode
        self.tier = rule.tier
        self.permission = rule.permission
        self.args_check: ArgsCheck | None = compile_args(
            rule.args, rule.effect, additional_args=rule.additional_args
        )
        self.when_check: WhenCheck | None = (
            compile_when(rule.when) if rule.when is not None else None
        )
        self.reason_forbidden = Reason(
            ReasonCode.FORBIDDEN, f"forbidden by rule `{rule.id}`", rule.id
        )
        self.reason_indeterminate = Reason(
            ReasonCode.INDETERMINATE,
            f"rule `{rule.id}` could not be evaluated for this request; it applies",
            rule.id,
        )
        self.reason_failed = Reason(
            ReasonCode.CONSTRAINT_FAILED,
            f"the request does not satisfy the constraints of rule `{rule.id}`",
            rule.id,
        )
        self.reason_allowed = Reason(ReasonCode.ALLOWED, f"allowed by rule `{rule.id}`", rule.id)
        self.reason_approval = Reason(
            ReasonCode.APPROVAL_REQUIRED, f"rule `{rule.id}` requires a human approval", rule.id
        )
        # Decisions are immutable, so the common single-rule outcomes are built once.
        ids = (rule.id,)
        self.allow_decision = Decision(Effect.ALLOW, (self.reason_allowed,), ids, version)
        self.forbid_decision = Decision(Effect.DENY, (self.reason_forbidden,), ids, version)
        self.failed_decision = Decision(Effect.DENY, (self.reason_failed,), (), version)


class CompiledQuota:
    """A quota ready to run: how much a call costs and under which key it is counted."""

    __slots__ = ("definition", "get_amount", "id", "limit", "mode", "per_agent", "window")

    def __init__(self, quota: QuotaDef) -> None:
        self.definition = quota
        self.id = quota.id
        self.limit = quota.limit
        self.window = quota.window_seconds
        self.per_agent = quota.per_agent
        self.mode = quota.mode
        self.get_amount = make_getter(quota.sum_path) if quota.sum_path is not None else None


@dataclass(frozen=True, slots=True)
class AgentEntry:
    """What the evaluator needs to know about a known agent.

    ``keys`` are the subject keys that select rules for it: its own, one per blueprint
    in its ancestry, and ``*``. ``chain_keys`` are the same without its own key, shared
    by every agent of the same blueprint, so candidate lists can be cached per blueprint.
    """

    id: str
    keys: tuple[str, ...]
    chain_keys: tuple[str, ...]
    risk: str | None
    blueprints: tuple[str, ...]


class ToolBucket:
    """Candidate rules and quotas for one (server, tool), grouped by subject key.

    Candidate lists for a blueprint chain are computed on first use and cached; the
    number of chains is bounded by the number of blueprints in the policy.
    """

    __slots__ = (
        "_by_chain",
        "agent_keyed",
        "enforce",
        "has_shadow",
        "quotas",
        "shadow",
        "shadow_quotas",
    )

    def __init__(
        self,
        enforce: Mapping[str, tuple[CompiledRule, ...]],
        shadow: Mapping[str, tuple[CompiledRule, ...]],
        quotas: Mapping[str, tuple[CompiledQuota, ...]],
        shadow_quotas: Mapping[str, tuple[CompiledQuota, ...]],
    ) -> None:
        self.enforce = enforce
        self.shadow = shadow
        self.quotas = quotas
        self.shadow_quotas = shadow_quotas
        self.has_shadow = bool(shadow or shadow_quotas)
        self.agent_keyed = any(k.startswith("a:") for k in (*enforce, *shadow, *quotas))
        self._by_chain: dict[tuple[str, ...], tuple[CompiledRule, ...]] = {}

    def candidates(self, entry: AgentEntry) -> tuple[CompiledRule, ...]:
        """Enforced rules that may apply to ``entry``, forbids first."""
        found = self._by_chain.get(entry.chain_keys)
        if found is None:
            found = _deny_first([r for k in entry.chain_keys for r in self.enforce.get(k, ())])
            self._by_chain[entry.chain_keys] = found
        if self.agent_keyed:
            own = self.enforce.get(entry.keys[0])
            if own:
                return _deny_first([*own, *found])
        return found

    def shadow_candidates(self, entry: AgentEntry) -> tuple[CompiledRule, ...]:
        """Enforced plus shadow rules (the shadow outcome is computed over both)."""
        return _deny_first(
            [
                r
                for k in entry.keys
                for source in (self.enforce, self.shadow)
                for r in source.get(k, ())
            ]
        )

    def quotas_for(self, entry: AgentEntry, *, include_shadow: bool) -> list[CompiledQuota]:
        seen: set[str] = set()
        out: list[CompiledQuota] = []
        sources = (self.quotas, self.shadow_quotas) if include_shadow else (self.quotas,)
        for key in entry.keys:
            for source in sources:
                for quota in source.get(key, ()):
                    if quota.id not in seen:
                        seen.add(quota.id)
                        out.append(quota)
        return out


@dataclass(frozen=True, slots=True)
class _Target:
    """Where a rule or quota applies: tool patterns, server patterns and subject keys."""

    exact_tools: tuple[str, ...]
    tool_globs: tuple[re.Pattern[str], ...]
    server_globs: tuple[re.Pattern[str], ...] | None
    keys: tuple[str, ...]


def _glob(pattern: str) -> re.Pattern[str]:
    return re.compile(fnmatch.translate(pattern))


def _is_glob(pattern: str) -> bool:
    return "*" in pattern or "?" in pattern


def _subject_keys(subjects: Subjects) -> tuple[str, ...]:
    if subjects.any:
        return (ANY_KEY,)
    return tuple(
        sorted({f"a:{a}" for a in subjects.agents} | {f"b:{b}" for b in subjects.blueprints})
    )


def _target(tools: tuple[str, ...], servers: tuple[str, ...] | None, subjects: Subjects) -> _Target:
    return _Target(
        exact_tools=tuple(t for t in tools if not _is_glob(t)),
        tool_globs=tuple(_glob(t) for t in tools if _is_glob(t)),
        server_globs=tuple(_glob(s) for s in servers) if servers is not None else None,
        keys=_subject_keys(subjects),
    )


class CompiledPolicy:
    """An immutable, compiled policy set. Swap whole instances to reload atomically.

    The only mutable state is a bounded cache from tool name to its :class:`ToolBucket`;
    it is derived data, safe to lose, and filled without locks (dict operations are atomic).
    """

    def __init__(self, document: PolicyDocument) -> None:
        self.document = document
        self.version = document.version_hash
        self.agents: dict[str, AgentEntry] = {}
        for agent in document.agents.values():
            chain: list[str] = []
            current = agent.blueprint
            while current is not None:
                chain.append(current)
                current = document.blueprints[current].extends
            chain_keys = (*(f"b:{b}" for b in chain), ANY_KEY)
            self.agents[agent.id] = AgentEntry(
                agent.id, (f"a:{agent.id}", *chain_keys), chain_keys, agent.risk, tuple(chain)
            )

        self.rules: tuple[CompiledRule, ...] = tuple(
            CompiledRule(r, self.version) for r in document.rules
        )
        self.default_deny = Decision(
            Effect.DENY,
            (Reason(ReasonCode.NO_MATCHING_RULE, "no rule allows this call; denied by default"),),
            (),
            self.version,
        )
        self.unknown_agent = Decision(
            Effect.DENY,
            (Reason(ReasonCode.UNKNOWN_AGENT, "the agent is not known to the policy"),),
            (),
            self.version,
        )
        self.quotas: tuple[CompiledQuota, ...] = tuple(CompiledQuota(q) for q in document.quotas)
        self._rule_index: _TargetIndex[CompiledRule] = _TargetIndex(
            [
                (r, _target(r.definition.tools, r.definition.servers, r.definition.subjects))
                for r in self.rules
            ]
        )
        self._quota_index: _TargetIndex[CompiledQuota] = _TargetIndex(
            [
                (q, _target(q.definition.tools, q.definition.servers, q.definition.subjects))
                for q in self.quotas
            ]
        )
        self.has_shadow = any(r.mode is Mode.SHADOW for r in self.rules) or any(
            q.mode is Mode.SHADOW for q in self.quotas
        )
        self._buckets: dict[tuple[str | None, str], ToolBucket] = {}

    def rule(self, rule_id: str) -> CompiledRule | None:
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        return None

    def cached_bucket(self, server: str | None, tool: str) -> ToolBucket | None:
        """The bucket for a (server, tool) seen before; only canonical names are cached."""
        return self._buckets.get((server, tool))

    def bucket(self, server: str | None, tool: str) -> ToolBucket:
        """The candidates for ``tool`` on ``server``, computed once and cached.

        Callers must pass canonical names (see :mod:`evaluate`).
        """
        cache_key = (server, tool)
        found = self._buckets.get(cache_key)
        if found is not None:
            return found
        enforce: dict[str, list[CompiledRule]] = {}
        shadow: dict[str, list[CompiledRule]] = {}
        quotas: dict[str, list[CompiledQuota]] = {}
        shadow_quotas: dict[str, list[CompiledQuota]] = {}
        for rule, target in self._rule_index.matching(server, tool):
            into = shadow if rule.mode is Mode.SHADOW else enforce
            for key in target.keys:
                into.setdefault(key, []).append(rule)
        for quota, target in self._quota_index.matching(server, tool):
            into_q = shadow_quotas if quota.mode is Mode.SHADOW else quotas
            for key in target.keys:
                into_q.setdefault(key, []).append(quota)
        bucket = ToolBucket(
            enforce={k: tuple(v) for k, v in enforce.items()},
            shadow={k: tuple(v) for k, v in shadow.items()},
            quotas={k: tuple(v) for k, v in quotas.items()},
            shadow_quotas={k: tuple(v) for k, v in shadow_quotas.items()},
        )
        if len(self._buckets) >= TOOL_CACHE_LIMIT:
            # Tool names come from callers; never let them grow memory without bound.
            self._buckets.clear()
        self._buckets[cache_key] = bucket
        return bucket


_EFFECT_ORDER = {Effect.DENY: 0, Effect.APPROVAL_REQUIRED: 1, Effect.ALLOW: 2}


def _deny_first(rules: list[CompiledRule]) -> tuple[CompiledRule, ...]:
    """Forbids first, so evaluation can skip permits once a forbid has applied."""
    unique = list(dict.fromkeys(rules))
    return tuple(sorted(unique, key=lambda r: _EFFECT_ORDER[r.effect]))


class _TargetIndex(Generic[_Item]):
    """Items (rules or quotas) indexed by the exact tool names they name.

    Building a tool's bucket then costs the items that name it exactly plus the glob
    items, never a scan of every rule: a caller that invents tool names cannot make each
    first sight cost a pass over a large policy.
    """

    def __init__(self, entries: list[tuple[_Item, _Target]]) -> None:
        self._exact: dict[str, list[tuple[_Item, _Target]]] = {}
        self._globbed: list[tuple[_Item, _Target]] = []
        for entry in entries:
            for name in entry[1].exact_tools:
                self._exact.setdefault(name, []).append(entry)
            if entry[1].tool_globs:
                self._globbed.append(entry)

    def matching(self, server: str | None, tool: str) -> list[tuple[_Item, _Target]]:
        """Entries that apply to ``tool`` on ``server``, each once."""
        found: dict[int, tuple[_Item, _Target]] = {}
        for entry in (*self._exact.get(tool, ()), *self._globbed):
            if id(entry[0]) not in found and _applies(entry[1], server, tool):
                found[id(entry[0])] = entry
        return list(found.values())


def _applies(target: _Target, server: str | None, tool: str) -> bool:
    globs = target.server_globs
    if globs is not None and (server is None or not any(g.match(server) for g in globs)):
        return False
    if tool in target.exact_tools:
        return True
    return any(g.match(tool) for g in target.tool_globs)


def compile_document(document: PolicyDocument) -> CompiledPolicy:
    """Compile a validated document."""
    return CompiledPolicy(document)


def describe_tier(tier: Tier) -> str:
    return {
        Tier.RULE: "policy rule",
        Tier.BASE: "base permission",
        Tier.TASK: "task permission (needs a grant)",
        Tier.ELEVATED: "elevated permission (needs an approved grant)",
        Tier.DENIED: "denied permission",
    }[tier]
