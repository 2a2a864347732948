"""What a scanner reports: one small, typed record per thing it saw.

Findings are data, not decisions. Policy (see :mod:`ztgate.guard.policy`) turns them into
actions, so a scanner never blocks anything by itself and the same scan serves every
profile and every tool.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any


class Severity(IntEnum):
    """How bad a finding is; ordered so policies can say "at least high"."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, value: str) -> Severity:
        """Parse a lowercase severity name, raising ``ValueError`` on anything else."""
        if value != value.lower() or value.upper() not in cls.__members__:
            raise ValueError(f"unknown severity `{value}`")
        return cls[value.upper()]


class FindingType(StrEnum):
    """The families of findings; ``Finding.kind`` names the precise detector."""

    PROMPT_INJECTION = "prompt_injection"
    SECRET = "secret"  # noqa: S105 - a category name, not a credential
    PII = "pii"
    DANGEROUS_COMMAND = "dangerous_command"
    SSRF = "ssrf"
    PATH_TRAVERSAL = "path_traversal"
    HIDDEN_TEXT = "hidden_text"
    ENCODED_CONTENT = "encoded_content"
    LIMIT_EXCEEDED = "limit_exceeded"


@dataclass(frozen=True, slots=True)
class Span:
    """A half-open ``[start, end)`` range of character offsets in the scanned string."""

    start: int
    end: int

    def __post_init__(self) -> None:
        if self.start < 0 or self.end < self.start:
            raise ValueError(f"invalid span `{self.start}..{self.end}`")


@dataclass(frozen=True, slots=True)
class Finding:
    """One detection.

    ``span`` locates the evidence in the original (not normalised) string found at the JSON
    ``path`` (``"$"`` for plain text). ``redaction`` is the range to replace when policy
    redacts; it is ``None`` for findings that cannot be fixed by blanking text (an injection
    is not made safe by deleting one sentence of it). ``detail`` is operator-facing and must
    never contain the secret value itself.
    """

    type: FindingType
    kind: str
    severity: Severity
    confidence: float
    span: Span | None = None
    redaction: Span | None = None
    path: str = "$"
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def placeholder(self) -> str:
        """The typed text that replaces the redacted range, e.g. ``[REDACTED:credit_card]``."""
        return f"[REDACTED:{self.kind}]"

    def at(self, path: str) -> Finding:
        """The same finding located under a JSON path (used when scanning structured content)."""
        return Finding(
            type=self.type,
            kind=self.kind,
            severity=self.severity,
            confidence=self.confidence,
            span=self.span,
            redaction=self.redaction,
            path=path,
            detail=self.detail,
            extra=self.extra,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form used by the CLI and the audit log."""
        out: dict[str, Any] = {
            "type": self.type.value,
            "kind": self.kind,
            "severity": self.severity.name.lower(),
            "confidence": round(self.confidence, 4),
            "path": self.path,
        }
        if self.span is not None:
            out["span"] = [self.span.start, self.span.end]
        if self.redaction is not None:
            out["redaction"] = [self.redaction.start, self.redaction.end]
        if self.detail:
            out["detail"] = self.detail
        return out
