"""One entry point: ``scan(content, profile) -> ScanResult``.

A profile says which scanners run for one kind of content:

- ``tool_arguments``: what an agent is about to send to a tool. Secrets and personal data
  (so they can be redacted or blocked), dangerous shell commands, SSRF destinations, path
  traversal, hidden text and injection (arguments can carry instructions on to another
  agent).
- ``tool_output``: what a tool returns to the agent. Indirect prompt injection above all,
  plus hidden text, encodings, secrets and personal data.
- ``tool_description``: an MCP tool's advertised description and schema ("tool
  poisoning"). Injection, hidden text, encodings, sensitive paths and commands.
- ``user_prompt``: what a person typed. Injection (jailbreaks), hidden text, secrets and
  personal data.

Scanning is pure and bounded: the content is capped by :class:`Limits`, every pattern is
linear-time RE2, decoding is budgeted, and the model costs a fixed few vector operations
per character.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ztgate.guard.commands import scan_command
from ztgate.guard.content import Leaf, Limits, walk
from ztgate.guard.decoders import Decoded, decode_layers
from ztgate.guard.findings import Finding, FindingType, Severity, Span
from ztgate.guard.fold import fold
from ztgate.guard.injection.detector import InjectionAssessment, assess_folded
from ztgate.guard.injection.model import InjectionModel, default_model
from ztgate.guard.network import scan_address, scan_paths, scan_urls
from ztgate.guard.pii import scan_pii
from ztgate.guard.redact import redact_content
from ztgate.guard.secrets import scan_secrets
from ztgate.guard.view import TextView, build_view

DEFAULT_LIMITS = Limits()


class Profile(StrEnum):
    """Which scanners run, by where the content sits in a tool call."""

    TOOL_ARGUMENTS = "tool_arguments"
    TOOL_OUTPUT = "tool_output"
    TOOL_DESCRIPTION = "tool_description"
    USER_PROMPT = "user_prompt"


class Check(StrEnum):
    INJECTION = "injection"
    SECRETS = "secrets"
    PII = "pii"
    COMMANDS = "commands"
    URLS = "urls"
    PATHS = "paths"


PROFILE_CHECKS: dict[Profile, frozenset[Check]] = {
    Profile.TOOL_ARGUMENTS: frozenset(Check),
    Profile.TOOL_OUTPUT: frozenset({Check.INJECTION, Check.SECRETS, Check.PII}),
    Profile.TOOL_DESCRIPTION: frozenset(
        {Check.INJECTION, Check.SECRETS, Check.COMMANDS, Check.URLS, Check.PATHS}
    ),
    Profile.USER_PROMPT: frozenset({Check.INJECTION, Check.SECRETS, Check.PII}),
}

_HIDDEN_SEVERITY = {
    "lone_surrogate": Severity.MEDIUM,
    "tag": Severity.HIGH,
    "bidi": Severity.MEDIUM,
    "control": Severity.MEDIUM,
    "zero_width": Severity.LOW,
    "variation_selector": Severity.LOW,
    "format": Severity.LOW,
}


@dataclass(frozen=True)
class ScanResult:
    """Everything one scan found, the content with every redactable finding redacted, and
    the injection verdict (score of the most suspicious string and whether it crossed the
    model's threshold)."""

    profile: Profile
    findings: tuple[Finding, ...]
    redacted: Any
    injection_score: float
    injection: bool
    threshold: float
    exceeded: tuple[str, ...] = ()
    assessment: InjectionAssessment | None = field(default=None, compare=False)
    content: Any = field(default=None, compare=False, repr=False)

    @property
    def redacted_text(self) -> str | None:
        """The redacted content when the scanned content was a string."""
        return self.redacted if isinstance(self.redacted, str) else None

    @property
    def max_severity(self) -> Severity | None:
        return max((f.severity for f in self.findings), default=None)

    def of_type(self, kind: FindingType) -> list[Finding]:
        return [f for f in self.findings if f.type is kind]

    def to_dict(self) -> dict[str, Any]:
        return {
            "profile": self.profile.value,
            "injection": self.injection,
            "score": round(self.injection_score, 4),
            "threshold": round(self.threshold, 4),
            "findings": [f.to_dict() for f in self.findings],
            "exceeded": list(self.exceeded),
        }


def _mapped(finding: Finding, view: TextView, path: str, layer: Decoded | None) -> Finding:
    """Re-locate a finding made on view (or decoded) text onto the original string."""
    if layer is not None:
        layer_span = view.to_original(layer.span)
        return Finding(
            type=finding.type,
            kind=finding.kind,
            severity=finding.severity,
            confidence=finding.confidence,
            span=layer_span,
            redaction=layer_span if finding.redaction is not None else None,
            path=path,
            detail=f"{finding.detail} (inside {layer.kind.replace('_', ' ')})",
        )
    span = view.to_original(finding.span) if finding.span else None
    redaction = view.to_original(finding.redaction) if finding.redaction else None
    return Finding(
        type=finding.type,
        kind=finding.kind,
        severity=finding.severity,
        confidence=finding.confidence,
        span=span,
        redaction=redaction,
        path=path,
        detail=finding.detail,
        extra=finding.extra,
    )


def _hidden(view: TextView, path: str) -> list[Finding]:
    by_kind: dict[str, list[int]] = {}
    for item in view.invisible:
        by_kind.setdefault(item.kind, []).append(item.index)
    if view.surrogates:
        by_kind["lone_surrogate"] = list(view.surrogates)
    findings = []
    for kind, indices in by_kind.items():
        findings.append(
            Finding(
                type=FindingType.HIDDEN_TEXT,
                kind="tag_smuggling" if kind == "tag" else f"invisible_{kind}",
                severity=_HIDDEN_SEVERITY.get(kind, Severity.LOW),
                confidence=0.99,
                span=Span(indices[0], indices[-1] + 1),
                path=path,
                detail=f"{len(indices)} invisible {kind.replace('_', ' ')} character(s)",
                extra={"indices": tuple(indices)},
            )
        )
    return findings


# Cheap single-character-class pre-checks (linear, no backtracking) that let a scanner be
# skipped when its pattern cannot possibly match: most strings in structured content are
# short identifiers, names and numbers.
_PII_HINT = re.compile(r"[0-9@:]")
_PATH_HINT = re.compile(r"[/\\%]|\.\.")


def _scan_leaf(
    leaf: Leaf, checks: frozenset[Check]
) -> tuple[list[Finding], TextView, list[Decoded]]:
    view = build_view(leaf.text)
    findings = _hidden(view, leaf.path)
    layers = (
        decode_layers(view.text, view.tag_text)
        if not leaf.is_number and (len(view.text) >= 16 or view.tag_text)
        else []
    )
    for decoded in layers:
        if decoded.kind == "tag_characters":
            continue  # reported as hidden text already
        findings.append(
            Finding(
                type=FindingType.ENCODED_CONTENT,
                kind=decoded.kind,
                severity=Severity.LOW,
                confidence=0.9,
                span=view.to_original(decoded.span),
                path=leaf.path,
                detail=f"{len(decoded.text)} characters of {decoded.kind.replace('_', ' ')} text",
            )
        )
    if leaf.is_key:
        return findings, view, layers
    sources: list[tuple[str, Decoded | None]] = [(view.text, None)]
    sources.extend((layer.text, layer) for layer in layers)
    for text, layer in sources:
        if Check.SECRETS in checks and len(text) >= 8:
            findings.extend(_mapped(f, view, leaf.path, layer) for f in scan_secrets(text))
        if Check.PII in checks and _PII_HINT.search(text):
            findings.extend(_mapped(f, view, leaf.path, layer) for f in scan_pii(text))
        if leaf.is_number:
            continue
        if Check.COMMANDS in checks:
            findings.extend(_mapped(f, view, leaf.path, layer) for f in scan_command(text))
        if Check.URLS in checks:
            if "://" in text:
                findings.extend(_mapped(f, view, leaf.path, layer) for f in scan_urls(text))
            if layer is None:
                findings.extend(_mapped(f, view, leaf.path, None) for f in scan_address(text))
        if Check.PATHS in checks and _PATH_HINT.search(text):
            findings.extend(_mapped(f, view, leaf.path, layer) for f in scan_paths(text))
    return findings, view, layers


def _piece_at(pieces: list[tuple[str, int]], offset: int) -> str:
    """The path of the string that holds ``offset`` of the joined document."""
    path = pieces[0][0]
    for piece_path, start in pieces:
        if start > offset:
            break
        path = piece_path
    return path


def _dedupe(findings: list[Finding]) -> list[Finding]:
    seen: set[tuple[object, ...]] = set()
    out = []
    for finding in findings:
        key = (finding.type, finding.kind, finding.path, finding.span, finding.redaction)
        if key not in seen:
            seen.add(key)
            out.append(finding)
    return out


def scan(
    content: Any,
    profile: Profile | str,
    *,
    limits: Limits = DEFAULT_LIMITS,
    model: InjectionModel | None = None,
    injection_threshold: float | None = None,
) -> ScanResult:
    """Run ``profile``'s scanners over ``content`` (a string or JSON-like value)."""
    active_profile = Profile(profile)
    checks = PROFILE_CHECKS[active_profile]
    active_model = model or default_model()
    threshold = active_model.threshold if injection_threshold is None else injection_threshold
    walked = walk(content, limits)
    findings: list[Finding] = []
    if walked.exceeded:
        findings.append(
            Finding(
                type=FindingType.LIMIT_EXCEEDED,
                kind="content_too_large",
                severity=Severity.HIGH,
                confidence=1.0,
                detail=f"content exceeds the scan limits ({', '.join(walked.exceeded)}); "
                "the rest was not scanned",
            )
        )
    # Every string is folded and the strings are scored as one document (one model pass,
    # however many small fields the content has); decoded layers are scored on their own.
    pieces: list[tuple[str, int]] = []  # (path, start offset in the document)
    folded_parts: list[str] = []
    cursor = 0
    best: InjectionAssessment | None = None
    best_path = "$"
    for leaf in walked.leaves:
        leaf_findings, view, layers = _scan_leaf(leaf, checks)
        findings.extend(leaf_findings)
        if Check.INJECTION not in checks or leaf.is_number:
            continue
        folded = fold(view.text)
        pieces.append((leaf.path, cursor))
        folded_parts.append(folded)
        cursor += len(folded) + 1
        for layer in layers:
            candidate = assess_folded(fold(layer.text), layer.kind, active_model)
            if best is None or candidate.score > best.score:
                best, best_path = candidate, leaf.path
    if folded_parts:
        document = assess_folded(" ".join(folded_parts), "text", active_model)
        if best is None or document.score >= best.score:
            anchor = document.rules[0].start if document.rules else sum(document.window) // 2
            best, best_path = document, _piece_at(pieces, anchor)
    score = best.score if best is not None else 0.0
    injection = score >= threshold
    if injection and best is not None:
        rules = sorted({hit.rule for hit in best.rules})
        findings.append(
            Finding(
                type=FindingType.PROMPT_INJECTION,
                kind="prompt_injection",
                severity=Severity.CRITICAL
                if rules and best.model_probability >= threshold
                else Severity.HIGH,
                confidence=score,
                path=best_path,
                detail=(
                    f"injection score {score:.3f}"
                    + (f", rules: {', '.join(rules)}" if rules else "")
                    + (f", in {best.layer.replace('_', ' ')} text" if best.layer != "text" else "")
                ),
            )
        )
    unique = _dedupe(findings)
    return ScanResult(
        profile=active_profile,
        findings=tuple(unique),
        redacted=redact_content(content, unique),
        injection_score=score,
        injection=injection,
        threshold=threshold,
        exceeded=tuple(walked.exceeded),
        assessment=best,
        content=content,
    )
