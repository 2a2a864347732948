"""Applying redactions: typed placeholders for sensitive spans, removal of hidden text."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ztgate.guard.content import KEY_SUFFIX, rebuild
from ztgate.guard.findings import Finding, FindingType


def redact_text(text: str, findings: Iterable[Finding]) -> str:
    """``text`` with every redactable finding replaced by its placeholder.

    Hidden-text findings delete the invisible characters they list instead. Overlapping
    ranges merge; the first-starting (then longest) finding names the placeholder.
    """
    edits: list[tuple[int, int, str]] = []
    for finding in findings:
        if finding.type is FindingType.HIDDEN_TEXT:
            edits.extend((i, i + 1, "") for i in finding.extra.get("indices", ()))
        elif finding.redaction is not None:
            edits.append((finding.redaction.start, finding.redaction.end, finding.placeholder))
    if not edits:
        return text
    edits.sort(key=lambda e: (e[0], -e[1]))
    merged: list[tuple[int, int, str]] = []
    for start, end, replacement in edits:
        if merged and start < merged[-1][1]:
            first, last_end, last_text = merged[-1]
            # Overlap: redact the union, named by the first placeholder that has a name.
            merged[-1] = (first, max(last_end, end), last_text or replacement)
        else:
            merged.append((start, end, replacement))
    out: list[str] = []
    cursor = 0
    for start, end, replacement in merged:
        out.append(text[cursor:start])
        out.append(replacement)
        cursor = end
    out.append(text[cursor:])
    return "".join(out)


def redact_content(content: Any, findings: Iterable[Finding]) -> Any:
    """``content`` (a string or JSON-like value) with ``findings`` redacted at their paths.

    A number that must be redacted (a card number sent as an integer) becomes the
    placeholder string.
    """
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        if finding.redaction is not None or finding.type is FindingType.HIDDEN_TEXT:
            by_path.setdefault(finding.path, []).append(finding)
    if not by_path:
        return content

    def replace(path: str, value: Any) -> Any:
        chosen = by_path.get(path)
        if not chosen:
            return value
        text = value if isinstance(value, str) else repr(value)
        return redact_text(text, chosen)

    def replace_key(path: str, key: str) -> str:
        chosen = by_path.get(path)
        return redact_text(key, chosen) if chosen else key

    has_keys = any(path.endswith(KEY_SUFFIX) for path in by_path)
    return rebuild(content, replace, replace_key if has_keys else None)
