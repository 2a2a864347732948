"""The validated, typed form of a policy document (the output of :mod:`parse`).

Nothing here is executable yet; :mod:`compile` turns these values into closures. Keeping
the two apart lets tools (the JSON Schema, ``policy explain``, editors) work on a model a
reviewer can read, while the evaluator works on a model built for speed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import tzinfo
from enum import StrEnum
from ipaddress import IPv4Network, IPv6Network

from ztgate.core.models import Effect, Mode


class ValueType(StrEnum):
    STRING = "string"
    INTEGER = "integer"
    NUMBER = "number"
    BOOLEAN = "boolean"
    PATH = "path"
    URL = "url"
    EMAIL = "email"
    LIST = "list"
    OBJECT = "object"
    ANY = "any"


class Tier(StrEnum):
    """Where a permission comes from, which decides what it needs to be usable."""

    RULE = "rule"  # a policy rule: needs nothing more
    BASE = "base"  # a blueprint's standing permission
    TASK = "task"  # needs a live grant
    ELEVATED = "elevated"  # needs a live grant that a human approved
    DENIED = "denied"  # a blueprint's forbid


Scalar = str | int | float | bool


@dataclass(frozen=True, slots=True)
class ConstraintDef:
    """A typed constraint on one argument. Every unset operator is ``None``."""

    type: ValueType
    optional: bool = False
    absent: bool = False
    present: bool = False
    equals: Scalar | None = None
    in_: tuple[Scalar, ...] | None = None
    not_in: tuple[Scalar, ...] | None = None
    min: float | None = None
    max: float | None = None
    gt: float | None = None
    lt: float | None = None
    min_length: int | None = None
    max_length: int | None = None
    regex: str | None = None
    prefix: str | None = None
    suffix: str | None = None
    ignore_case: bool = False
    under: tuple[str, ...] | None = None
    schemes: tuple[str, ...] | None = None
    hosts: tuple[str, ...] | None = None
    domains: tuple[str, ...] | None = None
    ports: tuple[int, ...] | None = None
    allow_private: bool = False
    min_items: int | None = None
    max_items: int | None = None
    items: ConstraintDef | None = None
    contains: Scalar | None = None
    subset_of: tuple[Scalar, ...] | None = None


@dataclass(frozen=True, slots=True)
class TimeWindow:
    days: frozenset[int] | None  # 0 = Monday
    start_minute: int | None
    end_minute: int | None
    timezone: tzinfo
    timezone_name: str


@dataclass(frozen=True, slots=True)
class WhenDef:
    """Context conditions; all that are set must hold."""

    time: TimeWindow | None = None
    source_in: tuple[IPv4Network | IPv6Network, ...] | None = None
    source_not_in: tuple[IPv4Network | IPv6Network, ...] | None = None
    risk_max: int | None = None
    risk_min: int | None = None
    risk_in: frozenset[int] | None = None
    acting_for: frozenset[str] | None = None
    delegation_required: bool = False
    max_depth: int | None = None
    min_depth: int | None = None
    session_has: frozenset[str] | None = None
    session_lacks: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class Subjects:
    """``any`` or explicit agents and blueprints (a blueprint covers its descendants)."""

    any: bool
    agents: frozenset[str] = frozenset()
    blueprints: frozenset[str] = frozenset()


ANY_SUBJECT = Subjects(any=True)


@dataclass(frozen=True, slots=True)
class RuleDef:
    """A rule, or a blueprint permission lowered to a rule."""

    id: str
    effect: Effect
    subjects: Subjects
    tools: tuple[str, ...]
    servers: tuple[str, ...] | None
    args: tuple[tuple[str, ConstraintDef], ...]
    additional_args: bool
    when: WhenDef | None
    mode: Mode
    policy_id: str
    tier: Tier = Tier.RULE
    permission: str | None = None
    description: str = ""


@dataclass(frozen=True, slots=True)
class QuotaDef:
    id: str
    subjects: Subjects
    tools: tuple[str, ...]
    servers: tuple[str, ...] | None
    window_seconds: int
    limit: float
    sum_path: str | None
    per_agent: bool
    mode: Mode
    policy_id: str


@dataclass(frozen=True, slots=True)
class AgentDef:
    id: str
    blueprint: str | None
    risk: str | None


@dataclass(frozen=True, slots=True)
class PermissionDef:
    id: str
    tier: Tier
    tools: tuple[str, ...]
    servers: tuple[str, ...] | None
    args: tuple[tuple[str, ConstraintDef], ...]
    additional_args: bool
    when: WhenDef | None
    description: str


@dataclass(frozen=True, slots=True)
class BlueprintDef:
    id: str
    extends: str | None
    permissions: tuple[PermissionDef, ...]


@dataclass(frozen=True, slots=True)
class PolicyDocument:
    """A whole validated document, plus the hash that identifies this exact version."""

    agents: dict[str, AgentDef]
    blueprints: dict[str, BlueprintDef]
    rules: tuple[RuleDef, ...]
    quotas: tuple[QuotaDef, ...]
    version_hash: str
    source: str
