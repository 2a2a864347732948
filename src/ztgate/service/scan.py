"""The scan stage of the pipeline: a small protocol the guard capability plugs into.

A :class:`Scanner` looks at tool arguments before the decision and at tool output after
the tool ran, and answers with a :class:`ScanVerdict`: the effect it calls for
(``allow``, ``approval_required`` or ``deny``), session labels to add, the content with
redactions applied, and operator-facing findings. ``NO_SCANNER`` (no scanners configured)
is a legitimate configuration: every verdict is ``allow`` with the content unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from ztgate.core.models import Effect

_EFFECT_RANK = {Effect.ALLOW: 0, Effect.APPROVAL_REQUIRED: 1, Effect.DENY: 2}


def stricter(a: Effect, b: Effect) -> Effect:
    """The stronger of two effects: deny beats approval, approval beats allow."""
    return a if _EFFECT_RANK[a] >= _EFFECT_RANK[b] else b


@dataclass(frozen=True, slots=True)
class ScanVerdict:
    """What a scan of one piece of content calls for.

    ``findings`` are JSON-ready dicts without the matched text (they go to the audit log);
    ``rule_ids`` name the scanner rules that chose ``effect``.
    """

    effect: Effect
    content: Any
    labels: frozenset[str] = frozenset()
    findings: tuple[Mapping[str, Any], ...] = ()
    rule_ids: tuple[str, ...] = ()
    redacted: bool = False
    extra: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scanner(Protocol):
    """Scans arguments (``direction="arguments"``) and outputs (``direction="outputs"``).

    Must raise on internal failure rather than return a permissive verdict; the pipeline
    turns a raised error into a deny.
    """

    def scan(self, tool: str, direction: str, content: Any) -> ScanVerdict: ...


class NoScanner:
    """No scanners configured: every piece of content passes unchanged."""

    def scan(self, tool: str, direction: str, content: Any) -> ScanVerdict:
        return ScanVerdict(Effect.ALLOW, content)


NO_SCANNER = NoScanner()
