"""Content checks for the gateway, by the guard scanners and a guard policy.

Three directions, as in :mod:`ztgate.guard.policy`:

- ``descriptions``: each tool's description and input schema, scanned with the
  ``tool_description`` profile ("tool poisoning"); a ``deny`` verdict blocks the tool;
- ``outputs``: tool results, resources and prompts, scanned with ``tool_output``;
  the verdict may deny (withhold), redact, or label the session;
- ``arguments``: a call's arguments, scanned with ``tool_arguments``; ``deny`` refuses the
  call and ``require_approval`` asks a human, whatever the policy would allow.

The default guard policy is guard's reviewed ``RECOMMENDED`` one, except that prompt
injection acts only when a rule confirms it (``critical``): the model alone flags
ordinary text of widely used servers (the filesystem server's "Read the complete contents
of a file..." description, a record id such as ``r42`` in arguments). Model-only findings
are still audited. Operators can supply their own guard policy file.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ztgate.core.policy._source import SourceError, load_text
from ztgate.errors import ConfigError, UsageError
from ztgate.guard.policy import (
    RECOMMENDED,
    Direction,
    FindingAction,
    GuardPolicy,
    GuardVerdict,
    apply,
    load_guard_policy,
)
from ztgate.guard.scan import Profile, ScanResult, scan

FindingRecord = Mapping[str, Any]


def gateway_guard_policy() -> GuardPolicy:
    """``RECOMMENDED`` with every prompt-injection rule narrowed to rule-confirmed
    (``critical``) findings; model-only findings are still scanned and audited."""
    data = copy.deepcopy(RECOMMENDED)
    rules: list[dict[str, Any]] = []
    for rule in data["rules"]:
        when = rule.get("when", {})
        kinds = when.get("type", "any")
        kinds = [kinds] if isinstance(kinds, str) else list(kinds)
        if "prompt_injection" not in kinds or when.get("min_severity") == "critical":
            rules.append(rule)
            continue
        others = [k for k in kinds if k != "prompt_injection"]
        if others:
            rules.append({**rule, "when": {**when, "type": others}})
        confirmed = {**when, "type": "prompt_injection", "min_severity": "critical"}
        rules.append({**rule, "id": rule["id"] + "-confirmed", "when": confirmed})
    data["rules"] = rules
    return load_guard_policy(data, source="<gateway guard policy>")


def read_guard_policy(path: Path) -> GuardPolicy:
    """Load a guard policy file (YAML or JSON, strict)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read guard policy `{path}`: {error}") from None
    try:
        data, _ = load_text(text, str(path))
    except SourceError as error:
        raise ConfigError(error.problems) from None
    return load_guard_policy(data, source=str(path))


@dataclass(frozen=True, slots=True)
class Inspection:
    """A guard verdict in the gateway's terms."""

    action: Literal["pass", "redact", "block", "approval"]
    findings: tuple[FindingRecord, ...] = ()
    labels: frozenset[str] = frozenset()
    content: Any = None


def _records(result: ScanResult, verdict: GuardVerdict) -> tuple[FindingRecord, ...]:
    """Findings for the audit log: type, kind, severity, where, and the rule that acted
    (never the matched text)."""
    by_key = {(r.finding_type, r.finding_kind, r.path): r for r in verdict.reasons}
    out = []
    for finding in result.findings:
        record = finding.to_dict()
        reason = by_key.get((finding.type.value, finding.kind, finding.path))
        if reason is not None:
            record["rule"] = reason.rule
            record["action"] = reason.action.value
        out.append(record)
    return tuple(out)


class Inspector:
    """Runs the guard scanners and a guard policy for one gateway."""

    def __init__(
        self,
        policy: GuardPolicy | None = None,
        *,
        descriptions: bool = True,
        outputs: bool = True,
        arguments: bool = True,
    ) -> None:
        self.policy = policy if policy is not None else gateway_guard_policy()
        self.descriptions = descriptions
        self.outputs = outputs
        self.arguments = arguments

    def _judge(self, tool: str, direction: Direction, profile: Profile, content: Any) -> Inspection:
        result = scan(content, profile)
        if not result.findings:
            return Inspection("pass", content=content)
        verdict = apply(self.policy, tool, direction, result)
        records = _records(result, verdict)
        if verdict.denied:
            return Inspection("block", records, verdict.labels, content)
        if FindingAction.REQUIRE_APPROVAL in verdict.actions:
            return Inspection("approval", records, verdict.labels, content)
        if FindingAction.REDACT in verdict.actions:
            return Inspection("redact", records, verdict.labels, verdict.redacted_content)
        return Inspection("pass", records, verdict.labels, content)

    def description(self, tool: str, definition: Mapping[str, Any]) -> Inspection:
        if not self.descriptions:
            return Inspection("pass")
        content = {
            "description": definition.get("description") or "",
            "inputSchema": definition.get("inputSchema") or {},
        }
        return self._judge(tool, Direction.DESCRIPTIONS, Profile.TOOL_DESCRIPTION, content)

    def output(self, tool: str, content: Any) -> Inspection:
        if not self.outputs:
            return Inspection("pass", content=content)
        return self._judge(tool, Direction.OUTPUTS, Profile.TOOL_OUTPUT, content)

    def call_arguments(self, tool: str, args: Mapping[str, Any]) -> Inspection:
        if not self.arguments or not args:
            return Inspection("pass", content=args)
        return self._judge(tool, Direction.ARGUMENTS, Profile.TOOL_ARGUMENTS, dict(args))
