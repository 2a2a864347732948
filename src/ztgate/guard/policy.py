"""Guard policy: which findings lead to which action, per tool and per direction.

Scanners report; this module decides what a report means for one tool call. A
:class:`GuardPolicy` is an ordered list of rules, each naming tools (glob patterns), a
direction (``arguments`` before the tool runs, ``outputs`` before the result returns to
the agent, ``descriptions`` when a tool is listed), the findings it cares about (type,
optional kind, minimum severity and confidence) and an action:

- ``deny``: block the call or the result;
- ``redact``: replace the finding's text with a typed placeholder (``[REDACTED:email]``);
  a finding that has no text to replace (an injection, a dangerous command) is denied
  instead, since redacting it would change nothing;
- ``label_session``: mark the session (``untrusted_content_seen``) so later policy can
  restrict what a possibly-steered agent may do;
- ``require_approval``: ask a human;
- ``log``: record only.

:func:`apply` is pure: ``(policy, tool, direction, scan_result) -> GuardVerdict``. It fails
closed: a finding that says the content could not be fully scanned (``limit_exceeded``)
is denied unless a rule explicitly handles it, and loading rejects unknown keys, values
and types with every problem listed.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ztgate.errors import ConfigError, Problem, SourceLocation
from ztgate.guard.findings import Finding, FindingType, Severity
from ztgate.guard.redact import redact_content
from ztgate.guard.scan import ScanResult

UNTRUSTED_CONTENT_SEEN = "untrusted_content_seen"


class FindingAction(StrEnum):
    """What policy does about a finding. Ordered from strongest to weakest for display."""

    DENY = "deny"
    REQUIRE_APPROVAL = "require_approval"
    REDACT = "redact"
    LABEL_SESSION = "label_session"
    LOG = "log"


class Direction(StrEnum):
    """Where the scanned content travels."""

    ARGUMENTS = "arguments"
    OUTPUTS = "outputs"
    DESCRIPTIONS = "descriptions"


@dataclass(frozen=True, slots=True)
class GuardRule:
    """One mapping from matching findings to an action."""

    id: str
    action: FindingAction
    tools: tuple[str, ...] = ("*",)
    directions: frozenset[Direction] = frozenset(Direction)
    types: frozenset[FindingType] | None = None  # None: any type
    kinds: frozenset[str] | None = None  # None: any kind
    min_severity: Severity = Severity.LOW
    min_confidence: float = 0.0
    label: str | None = None

    def matches(self, tool: str, direction: Direction, finding: Finding) -> bool:
        return (
            direction in self.directions
            and (self.types is None or finding.type in self.types)
            and (self.kinds is None or finding.kind in self.kinds)
            and finding.severity >= self.min_severity
            and finding.confidence >= self.min_confidence
            and any(fnmatch.fnmatchcase(tool, pattern) for pattern in self.tools)
        )


@dataclass(frozen=True, slots=True)
class GuardPolicy:
    """Ordered rules plus the action for findings no rule matches (``log`` by default)."""

    rules: tuple[GuardRule, ...]
    default_action: FindingAction = FindingAction.LOG


@dataclass(frozen=True, slots=True)
class GuardReason:
    """Why an action was taken: the rule and the finding (never the matched text)."""

    rule: str
    action: FindingAction
    finding_type: str
    finding_kind: str
    severity: str
    path: str

    def to_dict(self) -> dict[str, str]:
        return {
            "rule": self.rule,
            "action": self.action.value,
            "type": self.finding_type,
            "kind": self.finding_kind,
            "severity": self.severity,
            "path": self.path,
        }


@dataclass(frozen=True)
class GuardVerdict:
    """The actions a scan calls for, session labels to add, the content with redactions
    applied, and the reasons (one per finding and action)."""

    actions: frozenset[FindingAction]
    labels: frozenset[str]
    redacted_content: Any
    reasons: tuple[GuardReason, ...] = field(default=())

    @property
    def denied(self) -> bool:
        return FindingAction.DENY in self.actions

    @property
    def effect(self) -> str:
        """``deny``, ``approval_required`` or ``allow`` (the gate's decision vocabulary)."""
        if self.denied:
            return "deny"
        if FindingAction.REQUIRE_APPROVAL in self.actions:
            return "approval_required"
        return "allow"


def apply(
    policy: GuardPolicy, tool: str, direction: Direction | str, result: ScanResult
) -> GuardVerdict:
    """Map every finding of ``result`` through ``policy`` for ``tool`` and ``direction``."""
    where = Direction(direction)
    actions: set[FindingAction] = set()
    labels: set[str] = set()
    reasons: list[GuardReason] = []
    to_redact: list[Finding] = []
    for finding in result.findings:
        matched = [rule for rule in policy.rules if rule.matches(tool, where, finding)]
        chosen: list[tuple[str, FindingAction, str | None]] = [
            (rule.id, rule.action, rule.label) for rule in matched
        ]
        if not chosen:
            fallback = (
                FindingAction.DENY
                if finding.type is FindingType.LIMIT_EXCEEDED
                else policy.default_action
            )
            chosen = [("default", fallback, None)]
        for rule_id, chosen_action, label in chosen:
            action = chosen_action
            if (
                action is FindingAction.REDACT
                and finding.redaction is None
                and finding.type is not FindingType.HIDDEN_TEXT
            ):
                # Nothing can be blanked out (an injection, a command): redacting would
                # pass the content through unchanged, so fail closed instead.
                action = FindingAction.DENY
            actions.add(action)
            if action is FindingAction.LABEL_SESSION:
                labels.add(label or UNTRUSTED_CONTENT_SEEN)
            if action is FindingAction.REDACT:
                to_redact.append(finding)
            reasons.append(
                GuardReason(
                    rule_id,
                    action,
                    finding.type.value,
                    finding.kind,
                    finding.severity.name.lower(),
                    finding.path,
                )
            )
    return GuardVerdict(
        actions=frozenset(actions),
        labels=frozenset(labels),
        redacted_content=redact_content(result.content, to_redact) if to_redact else result.content,
        reasons=tuple(reasons),
    )


# --------------------------------------------------------------------------------------
# Strict loading

_RULE_KEYS = frozenset({"id", "tools", "directions", "when", "action", "label"})
_WHEN_KEYS = frozenset({"type", "kind", "min_severity", "min_confidence"})
_TOP_KEYS = frozenset({"rules", "default_action"})


class _Loader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[Problem] = []

    def problem(self, message: str, path: str) -> None:
        self.problems.append(Problem(message, SourceLocation(self.source), path))

    def strings(self, value: Any, path: str) -> tuple[str, ...] | None:
        items = [value] if isinstance(value, str) else value
        if not isinstance(items, list) or not items or not all(isinstance(i, str) for i in items):
            self.problem("expected a string or a non-empty list of strings", path)
            return None
        return tuple(items)

    def enum_values(self, value: Any, path: str, enum: type[StrEnum]) -> frozenset[Any] | None:
        items = self.strings(value, path)
        if items is None:
            return None
        out = set()
        for item in items:
            try:
                out.add(enum(item))
            except ValueError:
                allowed = ", ".join(f"`{e.value}`" for e in enum)
                self.problem(f"unknown value `{item}`, expected one of {allowed}", path)
        return frozenset(out)

    def unknown(self, data: Mapping[str, Any], allowed: frozenset[str], path: str) -> None:
        for key in data:
            if key not in allowed:
                self.problem(f"unknown key `{key}`", f"{path}.{key}" if path else str(key))

    def rule(self, data: Any, index: int, seen: set[str]) -> GuardRule | None:
        path = f"rules[{index}]"
        if not isinstance(data, Mapping):
            self.problem("a rule must be a mapping", path)
            return None
        self.unknown(data, _RULE_KEYS, path)
        rule_id = data.get("id")
        if not isinstance(rule_id, str) or not rule_id:
            self.problem("`id` must be a non-empty string", f"{path}.id")
            rule_id = f"rules[{index}]"
        elif rule_id in seen:
            self.problem(f"duplicate rule id `{rule_id}`", f"{path}.id")
        seen.add(rule_id)
        action: FindingAction | None = None
        if "action" not in data:
            self.problem("`action` is required", f"{path}.action")
        else:
            try:
                action = FindingAction(data["action"])
            except (ValueError, TypeError):
                allowed = ", ".join(f"`{a.value}`" for a in FindingAction)
                self.problem(
                    f"unknown action `{data['action']}`, expected one of {allowed}",
                    f"{path}.action",
                )
        tools = self.strings(data.get("tools", ["*"]), f"{path}.tools") or ("*",)
        directions = self.enum_values(
            data.get("directions", [d.value for d in Direction]), f"{path}.directions", Direction
        )
        label = data.get("label")
        if label is not None and (not isinstance(label, str) or not label):
            self.problem("`label` must be a non-empty string", f"{path}.label")
            label = None
        if label is not None and action is not FindingAction.LABEL_SESSION:
            self.problem("`label` is only valid with action `label_session`", f"{path}.label")
        when = data.get("when", {})
        types = kinds = None
        min_severity = Severity.LOW
        min_confidence = 0.0
        if not isinstance(when, Mapping):
            self.problem("`when` must be a mapping", f"{path}.when")
        else:
            self.unknown(when, _WHEN_KEYS, f"{path}.when")
            if "type" in when and when["type"] != "any":
                types = self.enum_values(when["type"], f"{path}.when.type", FindingType)
            if "kind" in when:
                found = self.strings(when["kind"], f"{path}.when.kind")
                kinds = frozenset(found) if found else None
            if "min_severity" in when:
                raw = when["min_severity"]
                try:
                    if not isinstance(raw, str):
                        raise ValueError(raw)
                    min_severity = Severity.parse(raw)
                except ValueError:
                    allowed = ", ".join(f"`{s.name.lower()}`" for s in Severity)
                    self.problem(
                        f"unknown severity `{raw}`, expected one of {allowed}",
                        f"{path}.when.min_severity",
                    )
            if "min_confidence" in when:
                raw = when["min_confidence"]
                if isinstance(raw, bool) or not isinstance(raw, int | float) or not 0 <= raw <= 1:
                    self.problem(
                        "`min_confidence` must be a number from 0 to 1",
                        f"{path}.when.min_confidence",
                    )
                else:
                    min_confidence = float(raw)
        if action is None or directions is None:
            return None
        return GuardRule(
            id=rule_id,
            action=action,
            tools=tools,
            directions=directions,
            types=types,
            kinds=kinds,
            min_severity=min_severity,
            min_confidence=min_confidence,
            label=label,
        )


def load_guard_policy(data: Any, *, source: str = "<guard policy>") -> GuardPolicy:
    """Build a :class:`GuardPolicy` from the ``guard:`` section of a policy document.

    Strict: unknown keys, actions, directions, finding types and severities, wrong types
    and duplicate rule ids are all reported together in one :class:`ConfigError`.
    """
    loader = _Loader(source)
    if not isinstance(data, Mapping):
        loader.problem("the guard section must be a mapping", "guard")
        raise ConfigError(loader.problems)
    loader.unknown(data, _TOP_KEYS, "")
    default = FindingAction.LOG
    if "default_action" in data:
        try:
            default = FindingAction(data["default_action"])
        except (ValueError, TypeError):
            loader.problem(f"unknown action `{data['default_action']}`", "default_action")
    raw_rules = data.get("rules", [])
    rules: list[GuardRule] = []
    if not isinstance(raw_rules, Sequence) or isinstance(raw_rules, str):
        loader.problem("`rules` must be a list", "rules")
    else:
        seen: set[str] = set()
        for index, item in enumerate(raw_rules):
            rule = loader.rule(item, index, seen)
            if rule is not None:
                rules.append(rule)
    if loader.problems:
        raise ConfigError(loader.problems)
    return GuardPolicy(tuple(rules), default)


#: A sensible starting point, documented in docs/guard.md and used by the CLI and tests.
RECOMMENDED: dict[str, Any] = {
    "default_action": "log",
    "rules": [
        {
            "id": "args-block-credentials",
            "directions": ["arguments"],
            "when": {"type": "secret", "min_severity": "high"},
            "action": "deny",
        },
        {
            "id": "args-redact-personal-data",
            "directions": ["arguments"],
            "when": {"type": "pii", "min_severity": "medium"},
            "action": "redact",
        },
        {
            "id": "args-block-dangerous",
            "directions": ["arguments"],
            "when": {
                "type": ["dangerous_command", "ssrf", "path_traversal"],
                "min_severity": "high",
            },
            "action": "deny",
        },
        {
            "id": "args-injection-needs-approval",
            "directions": ["arguments"],
            "when": {"type": "prompt_injection"},
            "action": "require_approval",
        },
        {
            "id": "outputs-taint-on-injection",
            "directions": ["outputs"],
            "when": {"type": ["prompt_injection", "hidden_text"], "min_severity": "medium"},
            "action": "label_session",
            "label": UNTRUSTED_CONTENT_SEEN,
        },
        {
            "id": "outputs-block-certain-injection",
            "directions": ["outputs"],
            "when": {"type": "prompt_injection", "min_severity": "critical"},
            "action": "deny",
        },
        {
            "id": "outputs-redact-sensitive",
            "directions": ["outputs"],
            "when": {"type": ["secret", "pii", "hidden_text"], "min_severity": "low"},
            "action": "redact",
        },
        {
            "id": "descriptions-block-poisoning",
            "directions": ["descriptions"],
            "when": {
                "type": ["prompt_injection", "hidden_text", "dangerous_command", "path_traversal"],
                "min_severity": "medium",
            },
            "action": "deny",
        },
    ],
}


def recommended_policy() -> GuardPolicy:
    """The :data:`RECOMMENDED` policy, loaded (and so validated) like any other."""
    return load_guard_policy(RECOMMENDED, source="<recommended guard policy>")
