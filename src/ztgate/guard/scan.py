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

import functools
import math
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ztgate.guard.commands import may_be_command, scan_command
from ztgate.guard.content import Leaf, Limits, walk
from ztgate.guard.decoders import Decoded, decode_layers, may_decode
from ztgate.guard.findings import Finding, FindingType, Severity, Span
from ztgate.guard.fold import fold
from ztgate.guard.injection.detector import InjectionAssessment, assess_folded
from ztgate.guard.injection.model import InjectionModel, default_model
from ztgate.guard.network import scan_address, scan_paths, scan_urls
from ztgate.guard.pii import may_contain_pii, scan_pii
from ztgate.guard.redact import redact_content
from ztgate.guard.secrets import may_contain_secret, scan_secrets
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


@dataclass(frozen=True, slots=True)
class _Plan:
    """A profile's checks as flags, looked up once per scan instead of set tests per leaf."""

    injection: bool
    secrets: bool
    pii: bool
    commands: bool
    urls: bool
    paths: bool


_PLANS: dict[str, tuple[Profile, _Plan]] = {
    profile.value: (
        profile,
        _Plan(*(check in PROFILE_CHECKS[profile] for check in Check)),
    )
    for profile in Profile
}


def _mapped(finding: Finding, view: TextView | None, path: str, layer: Decoded | None) -> Finding:
    """Re-locate a finding made on view (or decoded) text onto the original string
    (``view`` is ``None`` when the view is the original, index for index)."""
    if layer is not None:
        layer_span = view.to_original(layer.span) if view is not None else layer.span
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
    if view is None:
        return finding.at(path)
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


def _may_hold_path(text: str) -> bool:
    """Every traversal or path candidate has a slash, backslash, ``%`` or ``..``."""
    return "/" in text or "\\" in text or "%" in text or ".." in text


def _detect(text: str, plan: _Plan, is_number: bool, top: bool) -> list[Finding]:
    """The detectors of ``plan`` on one text (the view of a leaf, or a decoded layer),
    each skipped when its cheap necessary condition proves it would find nothing."""
    found: list[Finding] = []
    if plan.secrets and len(text) >= 8 and may_contain_secret(text):
        found.extend(scan_secrets(text))
    if plan.pii and may_contain_pii(text):
        found.extend(scan_pii(text))
    if is_number:
        return found
    if plan.commands:
        found.extend(scan_command(text))
    if plan.urls:
        if "://" in text:
            found.extend(scan_urls(text))
        if top:
            found.extend(scan_address(text))
    if plan.paths and _may_hold_path(text):
        found.extend(scan_paths(text))
    return found


#: What object keys are checked for besides hidden and encoded text. Keys are identifiers
#: far more often than data, and numeric ids, dates, hashes and UUIDs used as keys look
#: like phone numbers, addresses or random secrets; known credential formats and the
#: strongly validated personal data (a map keyed by e-mail address is common) are
#: believed there too, and redacted by renaming the key.
_KEY_PII_KINDS = frozenset({"email", "credit_card", "iban", "us_ssn"})
_KEY_SECRET_EXCLUDED = frozenset({"high_entropy_string"})


#: The shortest of those kinds without an ``@`` is an SSN, ``ddd-dd-dddd``: a shorter key
#: without one (most keys) holds none of them.
_KEY_PII_MIN = 11


def _may_hold_key_pii(key: str) -> bool:
    return len(key) >= _KEY_PII_MIN or "@" in key


def _detect_key(text: str, plan: _Plan) -> list[Finding]:
    found: list[Finding] = []
    if plan.secrets and len(text) >= 8 and may_contain_secret(text):
        found.extend(f for f in scan_secrets(text) if f.kind not in _KEY_SECRET_EXCLUDED)
    if plan.pii and _may_hold_key_pii(text) and may_contain_pii(text):
        found.extend(f for f in scan_pii(text) if f.kind in _KEY_PII_KINDS)
    return found


def _scan_leaf(leaf: Leaf, plan: _Plan) -> tuple[list[Finding], str, list[Decoded]]:
    """Findings of one leaf (located in the original string), its view text and the
    layers decoded from it."""
    text = leaf.text
    path = leaf.path
    findings: list[Finding]
    view: TextView | None
    if text.isascii() and text.isprintable():
        # Printable ASCII (most arguments and fields): nothing is hidden and NFKC changes
        # nothing, so the view is the text itself and there is no offset map to consult.
        view, view_text, tag_text, findings = None, text, "", []
    else:
        view = build_view(text)
        view_text, tag_text = view.text, view.tag_text
        findings = _hidden(view, path) if view.invisible or view.surrogates else []
        if view.offsets is None:
            view = None
    layers = (
        decode_layers(view_text, tag_text)
        if not leaf.is_number and (tag_text or (len(view_text) >= 16 and may_decode(view_text)))
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
                span=view.to_original(decoded.span) if view is not None else decoded.span,
                path=path,
                detail=f"{len(decoded.text)} characters of {decoded.kind.replace('_', ' ')} text",
            )
        )
    if leaf.is_key:
        found = _detect_key(view_text, plan)
        if found:
            findings.extend(_mapped(f, view, path, None) for f in found)
        return findings, view_text, layers
    found = _detect(view_text, plan, leaf.is_number, True)
    if found:
        findings.extend(_mapped(f, view, path, None) for f in found)
    for layer in layers:
        found = _detect(layer.text, plan, leaf.is_number, False)
        if found:
            findings.extend(_mapped(f, view, path, layer) for f in found)
    return findings, view_text, layers


# The quick path: a flat dict of short, printable-ASCII strings and plain numbers (the
# shape of most tool calls) whose every leaf is proved finding-free by the detectors'
# necessary conditions. Such content has no findings besides a possible injection, so
# it is scored as one folded document without walking, viewing or decoding; a positive
# injection verdict (rare) is recomputed by the full path, which locates it.
_QUICK_MAX_ITEMS = 32
#: Tests switch the quick path off to compare it with the full path.
_QUICK = True


def _quiet_key(key: str, plan: _Plan) -> bool:
    """A printable-ASCII key with nothing to decode and nothing :func:`_detect_key` finds
    (the necessary conditions first: most keys are short words)."""
    if not (key.isascii() and key.isprintable()) or (len(key) >= 16 and may_decode(key)):
        return False
    if len(key) < 8 and "@" not in key:
        return True  # too short for any credential format and for the PII keys can hold
    if plan.secrets and may_contain_secret(key):
        return False
    return not (plan.pii and _may_hold_key_pii(key) and _detect_key(key, plan))


def _quiet_text(text: str, plan: _Plan) -> bool:
    """Whether every detector of ``plan`` provably finds nothing in a string value.

    The tests are those of :func:`may_decode`, :func:`may_contain_secret` and
    :func:`may_be_command`, sharing one split of the text, and :func:`scan_pii` itself
    where :func:`may_contain_pii` cannot rule it out.
    """
    if not (text.isascii() and text.isprintable()):
        return False  # hidden or non-ASCII characters: the full path builds a view
    size = len(text)
    if "%" in text or "\\" in text or "&#" in text:
        return False  # may decode (percent-encoding is also a path hint)
    if size >= 11:
        longest = max(map(len, text.split()), default=0)
        if longest >= 16 or (plan.secrets and longest >= 11):
            return False  # a base64/hex blob or a credential-length run
    if plan.secrets and size >= 8 and (":" in text or "=" in text or "-----" in text):
        return False
    if plan.paths and ("/" in text or ".." in text):
        return False
    if plan.urls and ("://" in text or scan_address(text)):
        return False
    if plan.commands and may_be_command(text):
        return False
    # Last, being the dearest: digits alone do not send a value down the full path; the
    # PII scanner runs here, on the same text the full path would give it.
    return not (plan.pii and may_contain_pii(text) and scan_pii(text))


def _quiet_number(text: str, plan: _Plan) -> bool:
    """Whether the secret and PII detectors (the only ones numbers get) find nothing."""
    if plan.secrets and len(text) >= 8 and may_contain_secret(text):
        return False
    return not (plan.pii and may_contain_pii(text))


def _quiet_parts(content: dict[Any, Any], plan: _Plan, limits: Limits) -> list[str] | None:
    """The folded strings of a flat dict in walk order (key, value, key, value ...), or
    ``None`` when the content needs the full path: nested values, a cap it could reach,
    a non-string key, or any leaf a detector might flag."""
    if (
        len(content) > _QUICK_MAX_ITEMS
        or limits.max_depth < 1
        or 1 + 2 * len(content) > limits.max_nodes
    ):
        return None
    parts: list[str] = []
    total = 0
    for key, value in content.items():
        if type(key) is not str or not _quiet_key(key, plan):
            return None
        total += len(key)
        parts.append(fold(key))
        kind = type(value)
        if kind is str:
            if not _quiet_text(value, plan):
                return None
            total += len(value)
            parts.append(fold(value))
        elif kind is int or (kind is float and math.isfinite(value)):
            number = repr(value)
            if not _quiet_number(number, plan):
                return None
            total += len(number)
        elif not (value is None or kind is bool or kind is float):
            return None  # containers and anything else: the full path walks (or refuses) it
    if total >= limits.max_chars:
        return None  # the walk would report a cap: let it
    return parts


# Injection assessments of short texts are remembered: the model is a pure function of
# the folded text, and tool calls repeat the same small argument documents (the same
# account, the same query) far more often than outputs repeat. Long texts (tool outputs,
# documents) are always scored afresh, so the memory stays small: at most
# _MEMO_ENTRIES texts of at most _MEMO_MAX_CHARS characters per model.
_MEMO_MAX_CHARS = 512
_MEMO_ENTRIES = 4096
_MEMO_MODELS = 4


class _Assessor:
    """``assess_folded`` for one model, with a bounded memo for short texts."""

    def __init__(self, model: InjectionModel) -> None:
        self.model = model
        self.remembered = functools.lru_cache(maxsize=_MEMO_ENTRIES)(self._assess)

    def _assess(self, folded: str, layer: str) -> InjectionAssessment:
        return assess_folded(folded, layer, self.model)

    def __call__(self, folded: str, layer: str) -> InjectionAssessment:
        if len(folded) <= _MEMO_MAX_CHARS:
            return self.remembered(folded, layer)
        return assess_folded(folded, layer, self.model)


# Keyed by id(model); each assessor holds its model, so an id cannot be reused while its
# entry exists. A handful of models at most (the shipped one, a test's own).
_ASSESSORS: dict[int, _Assessor] = {}


def _assessor(model: InjectionModel) -> _Assessor:
    found = _ASSESSORS.get(id(model))
    if found is None or found.model is not model:
        if len(_ASSESSORS) >= _MEMO_MODELS:
            _ASSESSORS.clear()
        found = _ASSESSORS[id(model)] = _Assessor(model)
    return found


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
    planned = _PLANS.get(profile) if isinstance(profile, str) else None
    if planned is None:
        active = Profile(profile)  # raises ValueError for an unknown profile
        planned = _PLANS[active.value]
    active_profile, plan = planned
    active_model = model or default_model()
    threshold = active_model.threshold if injection_threshold is None else injection_threshold
    assess = _assessor(active_model)
    if type(content) is dict and _QUICK:
        parts = _quiet_parts(content, plan, limits)
        if parts is not None:
            quiet = assess(" ".join(parts), "text") if plan.injection and parts else None
            quiet_score = quiet.score if quiet is not None else 0.0
            if quiet_score < threshold:
                return ScanResult(
                    profile=active_profile,
                    findings=(),
                    redacted=content,
                    injection_score=quiet_score,
                    injection=False,
                    threshold=threshold,
                    assessment=quiet,
                    content=content,
                )
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
        leaf_findings, view_text, layers = _scan_leaf(leaf, plan)
        if leaf_findings:
            findings.extend(leaf_findings)
        if not plan.injection or leaf.is_number:
            continue
        folded = fold(view_text)
        pieces.append((leaf.path, cursor))
        folded_parts.append(folded)
        cursor += len(folded) + 1
        for layer in layers:
            candidate = assess(fold(layer.text), layer.kind)
            if best is None or candidate.score > best.score:
                best, best_path = candidate, leaf.path
    if folded_parts:
        document = assess(" ".join(folded_parts), "text")
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
