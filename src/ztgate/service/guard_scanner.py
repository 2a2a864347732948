"""The guard capability plugged into the pipeline's scan stage.

:class:`GuardScanner` runs ``ztgate.guard.scan`` with the profile that fits the direction
(``tool_arguments`` before the call, ``tool_output`` after it), maps the findings through
a :class:`~ztgate.guard.policy.GuardPolicy` (default: the reviewed recommended policy) and
returns the pipeline's :class:`ScanVerdict`. Findings carry the rule, action, type, kind,
severity and JSON path, never the matched text.
"""

from __future__ import annotations

from typing import Any

from ztgate.core.models import Effect
from ztgate.guard.policy import Direction, FindingAction, GuardPolicy, apply, recommended_policy
from ztgate.guard.scan import Profile, scan
from ztgate.service.scan import ScanVerdict

_PROFILES = {
    Direction.ARGUMENTS: Profile.TOOL_ARGUMENTS,
    Direction.OUTPUTS: Profile.TOOL_OUTPUT,
    Direction.DESCRIPTIONS: Profile.TOOL_DESCRIPTION,
}
_ACTING = frozenset(
    {FindingAction.DENY, FindingAction.REQUIRE_APPROVAL, FindingAction.REDACT,
     FindingAction.LABEL_SESSION}
)  # fmt: skip


class GuardScanner:
    """A :class:`~ztgate.service.scan.Scanner` backed by ``ztgate.guard``."""

    def __init__(self, policy: GuardPolicy | None = None) -> None:
        self.policy = policy if policy is not None else recommended_policy()

    def scan(self, tool: str, direction: str, content: Any) -> ScanVerdict:
        where = Direction(direction)
        result = scan(content, _PROFILES[where])
        if not result.findings:
            return ScanVerdict(Effect.ALLOW, content)
        verdict = apply(self.policy, tool, where, result)
        effect = Effect(verdict.effect)
        rule_ids = tuple(
            dict.fromkeys(f"guard:{r.rule}" for r in verdict.reasons if r.action in _ACTING)
        )
        return ScanVerdict(
            effect=effect,
            content=verdict.redacted_content,
            labels=verdict.labels,
            findings=tuple(r.to_dict() for r in verdict.reasons),
            rule_ids=rule_ids,
            redacted=FindingAction.REDACT in verdict.actions,
        )
