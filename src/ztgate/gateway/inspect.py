"""Deterministic checks the gateway runs until the guard scanners are wired in.

- :func:`description_findings`: instruction-like text in a tool description (tool
  poisoning): hidden directives to the model, requests to read credentials, to conceal
  actions from the user, or to call other tools; invisible characters that hide text.
- :func:`output_findings` / :func:`redact_secrets`: tool results, resources and prompts
  that carry prompt-injection phrasing or well-known secret formats.

Every pattern runs on NFKC-normalised text with invisible characters removed, so
fullwidth letters or zero-width joiners do not slip a phrase past it. The patterns are
RE2-compatible and linear-time.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from typing import Any

import re2

from ztgate.core.canon.text import decode_tag_characters, has_invisible, strip_invisible

_POISONING = (
    ("hidden_directive", r"<\s*(important|system|instructions?|secret)\s*>"),
    (
        "override_instructions",
        r"(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|other|system)\s+(instructions|prompts?|rules|messages)",
    ),
    (
        "conceal_from_user",
        r"(do\s+not|don't|never)\s+(tell|inform|mention|show|reveal|notify)\s+(this\s+to\s+)?(the\s+)?(user|human)",
    ),
    (
        "credential_access",
        r"(~|\$home|/home/[^\s/]+|/root)/\.(ssh|aws|config|gnupg|netrc|docker)|id_rsa|\.env\b|mcp\.json",
    ),
    (
        "cross_tool_instruction",
        r"(before|after|instead\s+of)\s+(using|calling|invoking)\s+(this|any|the)\s+(other\s+)?tool",
    ),
    ("model_address", r"\b(you\s+must|you\s+are\s+now|as\s+an\s+ai|assistant\s*:)"),
)

_INJECTION = (
    (
        "override_instructions",
        r"(ignore|disregard|forget|override)\s+(all\s+|any\s+)?(the\s+)?(previous|prior|above|earlier|system)\s+(instructions|prompts?|rules)",
    ),
    ("role_injection", r"(^|\n)\s*(system|assistant)\s*:|<\s*/?\s*(system|im_start|im_end)\s*>"),
    ("new_instructions", r"\bnew\s+instructions\s*:|\byou\s+are\s+now\s+(a|an|in)\b"),
    (
        "exfiltration_request",
        r"(send|post|upload|forward|email)\s+(the\s+|all\s+|your\s+)?(contents?|secrets?|credentials?|keys?|tokens?|passwords?)\s+(to|at)\b",
    ),
)

_SECRETS = (
    ("aws_access_key", r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    (
        "private_key",
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----[A-Za-z0-9+/=\s]{0,1000}"
        r"(-----END [A-Z ]{0,40}PRIVATE KEY-----|$)",
    ),
    (
        "github_token",
        r"\b(ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,255}\b|\bgithub_pat_[A-Za-z0-9_]{22,255}\b",
    ),
    ("slack_token", r"\bxox[abprs]-[A-Za-z0-9-]{10,200}\b"),
    ("openai_key", r"\bsk-(proj-)?[A-Za-z0-9_-]{20,200}\b"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
)


def _compile(
    table: tuple[tuple[str, str], ...], *, ignore_case: bool
) -> tuple[tuple[str, Any], ...]:
    prefix = "(?i)" if ignore_case else ""
    return tuple((name, re2.compile(prefix + pattern)) for name, pattern in table)


_POISONING_RE = _compile(_POISONING, ignore_case=True)
_INJECTION_RE = _compile(_INJECTION, ignore_case=True)
_SECRET_RE = _compile(_SECRETS, ignore_case=False)

MAX_SCAN_CHARS = 1_000_000
REDACTED = "[REDACTED:{kind}]"


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a check found: its category, the rule that matched and where."""

    category: str  # "tool_poisoning" | "prompt_injection" | "secret"
    rule: str
    location: str

    def to_dict(self) -> dict[str, str]:
        return {"category": self.category, "rule": self.rule, "location": self.location}


def normalise(text: str) -> str:
    """NFKC with invisible characters removed: what a model would effectively read."""
    return strip_invisible(unicodedata.normalize("NFKC", text[:MAX_SCAN_CHARS]))


def description_findings(location: str, text: str) -> list[Finding]:
    """Poisoning indicators in a tool's description (or any text the model reads as one)."""
    readings = (normalise(text), normalise(decode_tag_characters(text[:MAX_SCAN_CHARS])))
    found = [
        Finding("tool_poisoning", name, location)
        for name, pattern in _POISONING_RE
        if any(pattern.search(reading) for reading in readings)
    ]
    if has_invisible(text[:MAX_SCAN_CHARS]):
        found.append(Finding("tool_poisoning", "invisible_characters", location))
    return found


def output_findings(location: str, text: str) -> list[Finding]:
    """Prompt-injection phrasing and secrets in content returned to the agent."""
    clean = normalise(text)
    found = [
        Finding("prompt_injection", name, location)
        for name, pattern in _INJECTION_RE
        if pattern.search(clean)
    ]
    found.extend(
        Finding("secret", name, location) for name, pattern in _SECRET_RE if pattern.search(text)
    )
    return found


def redact_secrets(text: str) -> str:
    """``text`` with every secret match replaced by a ``[REDACTED:kind]`` marker."""
    out = text
    for name, pattern in _SECRET_RE:
        out = pattern.sub(REDACTED.format(kind=name), out)
    return out
