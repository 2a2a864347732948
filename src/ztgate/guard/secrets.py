"""Credential detection: known token formats first, then entropy for unknown ones.

Known formats carry a fixed prefix or structure, so they are precise and get high
confidence. The entropy detector catches random-looking strings next to nothing that
explains them, and deliberately skips what is usually *not* a secret even though it looks
random: hex digests (git SHAs, SHA-256), UUIDs, and base64 that decodes to readable text
(that is hidden text, which the decoders report instead).

All patterns run in RE2 (linear time, no backtracking) as one alternation, so a scan is
one pass over the text however many formats we know.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from ztgate.guard._checks import shannon_entropy
from ztgate.guard._regex import Pattern, which
from ztgate.guard.findings import Finding, FindingType, Severity, Span


@dataclass(frozen=True, slots=True)
class _Format:
    kind: str
    pattern: str
    severity: Severity
    confidence: float
    # When the pattern has a group named ``<kind>__v`` only that group is redacted.


_FORMATS: tuple[_Format, ...] = (
    _Format(
        "private_key",
        r"-----BEGIN[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----(?s:.*?)"
        r"(?:-----END[ A-Z0-9]{0,40}PRIVATE KEY(?: BLOCK)?-----|\z)",
        Severity.CRITICAL,
        0.99,
    ),
    _Format("aws_access_key_id", r"\b(?:AKIA|ASIA|ABIA|ACCA)[0-9A-Z]{16}\b", Severity.HIGH, 0.95),
    _Format(
        "aws_secret_access_key",
        r"(?i:aws_?secret_?(?:access_?)?key)[\"']?\s*[:=]\s*[\"']?"
        r"(?P<aws_secret_access_key__v>[A-Za-z0-9/+=]{40})\b",
        Severity.CRITICAL,
        0.95,
    ),
    _Format("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,251}\b", Severity.HIGH, 0.97),
    _Format("github_token", r"\bgithub_pat_[A-Za-z0-9_]{60,255}\b", Severity.HIGH, 0.97),
    _Format("gitlab_token", r"\bglpat-[A-Za-z0-9_-]{20,64}\b", Severity.HIGH, 0.95),
    _Format("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,250}", Severity.HIGH, 0.95),
    _Format(
        "slack_webhook",
        r"https://hooks\.slack\.com/services/T[A-Z0-9]{6,14}/B[A-Z0-9]{6,14}/[A-Za-z0-9]{20,32}",
        Severity.HIGH,
        0.97,
    ),
    _Format("stripe_key", r"\b[sr]k_(?:live|test)_[A-Za-z0-9]{16,99}\b", Severity.HIGH, 0.95),
    _Format("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}", Severity.HIGH, 0.9),
    _Format("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_-]{32,200}", Severity.HIGH, 0.97),
    _Format(
        "openai_api_key",
        r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{16,}T3BlbkFJ[A-Za-z0-9_-]{16,}",
        Severity.HIGH,
        0.97,
    ),
    _Format("huggingface_token", r"\bhf_[A-Za-z0-9]{34,40}\b", Severity.HIGH, 0.9),
    _Format("npm_token", r"\bnpm_[A-Za-z0-9]{36}\b", Severity.HIGH, 0.95),
    _Format(
        "sendgrid_api_key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}\b", Severity.HIGH, 0.97
    ),
    _Format(
        "azure_storage_key",
        r"AccountKey=(?P<azure_storage_key__v>[A-Za-z0-9+/]{86}==)",
        Severity.CRITICAL,
        0.97,
    ),
    _Format(
        "jwt",
        r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*",
        Severity.HIGH,
        0.9,
    ),
    _Format(
        "connection_string_password",
        r"\b(?i:postgres(?:ql)?|mysql|mariadb|mongodb(?:\+srv)?|rediss?|amqps?|mssql|"
        r"sqlserver|ftps?|sftp|smtps?|ldaps?)://[^\s:/@]{0,256}:"
        r"(?P<connection_string_password__v>[^\s@/]{1,256})@",
        Severity.CRITICAL,
        0.95,
    ),
    _Format(
        "bearer_token",
        r"(?i:authorization)[\"']?\s*[:=]\s*[\"']?(?i:bearer|basic|token)\s+"
        r"(?P<bearer_token__v>[A-Za-z0-9._~+/-]{12,}=*)",
        Severity.HIGH,
        0.9,
    ),
    _Format(
        "cli_password",
        # Passwords on a command line: ``curl -u user:pass``, ``mysql -pPASS``,
        # ``sshpass -p PASS``, any ``--password=VALUE``. ``-u``/``-p`` are common flags,
        # so those two only count after curl/wget or mysql on the same line (checked in
        # :func:`_cli_context_ok`; a counted context in the pattern overflows RE2's DFA).
        r"(?:\s(?:-u|--user)[=\s][\"']?[^\s:\"']+:|\s-p|\bsshpass\s+-p\s*"
        r"|--(?:http-|db-)?password=[\"']?)"
        r"(?P<cli_password__v>[^\s\"']{3,})",
        Severity.HIGH,
        0.85,
    ),
    _Format(
        "password_assignment",
        r"(?i:\b(?:password|passwd|pwd|passphrase|secret|client_?secret|api_?key|apikey|"
        r"access_?token|auth_?token|secret_?key|private_?key))[\"']?\s*[:=]\s*[\"']?"
        r"(?P<password_assignment__v>[^\s\"',;<>{}$]{6,256})",
        Severity.HIGH,
        0.7,
    ),
)

_COMBINED = Pattern("|".join(f"(?P<g{i}>{fmt.pattern})" for i, fmt in enumerate(_FORMATS)))
_GROUP_INDEX = _COMBINED.groupindex
_TOP_GROUPS = tuple(_GROUP_INDEX[f"g{i}"] for i in range(len(_FORMATS)))
_VALUE_GROUPS: tuple[int | None, ...] = tuple(
    _GROUP_INDEX[f"{fmt.kind}__v"] if f"(?P<{fmt.kind}__v>" in fmt.pattern else None
    for fmt in _FORMATS
)

# Candidates for the entropy detector: long runs of base64/base64url/hex-ish characters.
_CANDIDATE = Pattern(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = Pattern(r"(?i:[0-9a-f]{16,})")
_UUID = Pattern(r"(?i:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})")
_PLACEHOLDER_VALUES = frozenset(
    {"password", "changeme", "example", "xxxxxx", "********", "redacted", "placeholder", "none"}
)


def _jwt_header_ok(token: str) -> bool:
    """A JWT's first segment must decode to a JSON object naming an algorithm."""
    head = token.split(".", 1)[0]
    try:
        raw = base64.urlsafe_b64decode(head + "=" * (-len(head) % 4))
        header = json.loads(raw)
    except (binascii.Error, ValueError):
        return False
    return isinstance(header, dict) and "alg" in header


def _decodes_to_text(token: str) -> bool:
    """Base64 that decodes to mostly printable text is encoded prose, not a key."""
    body = token.rstrip("=")
    if len(body) % 4 == 1:
        return False
    try:
        raw = base64.b64decode(body.replace("-", "+").replace("_", "/") + "=" * (-len(body) % 4))
    except (binascii.Error, ValueError):
        return False
    if not raw:
        return False
    printable = sum(1 for b in raw if 32 <= b < 127 or b in (9, 10, 13))
    return printable / len(raw) >= 0.95


def _looks_random(token: str) -> bool:
    core = token.strip("=")
    if len(core) < 24:
        return False
    if _HEX.fullmatch(core) or _UUID.search(core):
        return False  # digests, git SHAs and UUIDs
    upper = any(c.isupper() for c in core)
    lower = any(c.islower() for c in core)
    digits = sum(c.isdigit() for c in core)
    if not (upper and lower and digits >= 2):
        return False
    if core.count("/") >= 2 and "//" not in core and not any(c in core for c in "+="):
        segments = [s for s in core.split("/") if s]
        if all(s.isalpha() or "_" in s or "-" in s for s in segments):
            return False  # a file path
    threshold = 4.2 if len(core) < 40 else 4.5
    return shannon_entropy(core) >= threshold and not _decodes_to_text(core)


_SHORTEST_RUN = 11


def may_contain_secret(text: str) -> bool:
    """A necessary condition for :func:`scan_secrets` to find anything, in a few string
    operations: ``False`` proves there is nothing to find, ``True`` proves nothing.

    Every known format either contains ``:`` or ``=`` (assignments, headers, connection
    strings, URLs, ``AccountKey=``), ``-----`` (key blocks) or ``-p`` (``mysql -pPASS``,
    ``sshpass -p``), or holds a run of at least
    11 characters from ``[A-Za-z0-9_+/-]`` (the shortest, a JWT, is ``eyJ`` plus 8), and the
    entropy detector needs a run of 24. None of those characters is whitespace, so such a
    run sits inside one whitespace-separated word. A property test checks this against
    the scanner.
    """
    if ":" in text or "=" in text or "-----" in text or "-p" in text:
        return True
    return len(text) >= _SHORTEST_RUN and max(map(len, text.split()), default=0) >= _SHORTEST_RUN


_CLI_USER_PROGRAMS: tuple[str, ...] = ("curl", "wget", "http")
_CLI_P_PROGRAMS: tuple[str, ...] = ("mysql",)


def _cli_context_ok(text: str, start: int) -> bool:
    """Whether a ``-u user:pass`` or ``-pPASS`` match follows the program that reads its
    password that way, on the same line (``gcc -pthread`` and ``docker -u 1000:1000`` do
    not). ``sshpass -p`` and ``--password=`` carry their own context."""
    flag = text[start : start + 8].lstrip()
    if flag.startswith("-p"):
        programs = _CLI_P_PROGRAMS
    elif flag.startswith(("-u", "--user")):
        programs = _CLI_USER_PROGRAMS
    else:
        return True
    line = text[text.rfind("\n", 0, start) + 1 : start]
    names = {word.rsplit("/", 1)[-1] for word in line.split()}
    return any(
        name == program or (name.startswith(program) and name[len(program) :].isalpha())
        for name in names
        for program in programs
    )


def _quoted_end(text: str, start: int, end: int) -> int:
    """Where a quoted assignment value really ends: the pattern stops a value at its first
    space, so ``password = "correct horse battery staple"`` would keep three words of the
    passphrase in clear. A value opened by a quote runs to its closing quote on that line.
    """
    quote = text[start - 1] if start > 0 else ""
    if quote not in ("'", '"'):
        return end
    close = text.find(quote, end, start + 256)
    if close < 0 or "\n" in text[end:close]:
        return end
    return close


def scan_secrets(text: str) -> list[Finding]:
    """Find credentials in ``text``; spans and redactions index into ``text`` itself."""
    findings: list[Finding] = []
    covered: list[tuple[int, int]] = []
    for spans in _COMBINED.all_spans(text):
        index = which(spans, _TOP_GROUPS)
        fmt = _FORMATS[index]
        start, end = spans[0]
        value_group = _VALUE_GROUPS[index]
        red_start, red_end = spans[value_group] if value_group is not None else (start, end)
        value = text[red_start:red_end]
        if fmt.kind == "jwt" and not _jwt_header_ok(value):
            continue
        if fmt.kind == "password_assignment":
            if value.lower().strip("*x") in (_PLACEHOLDER_VALUES | {""}):
                continue
            red_end = _quoted_end(text, red_start, red_end)
        elif fmt.kind == "cli_password" and (
            value.startswith("$")
            or value.lower().strip("*x") in (_PLACEHOLDER_VALUES | {""})
            or not _cli_context_ok(text, start)
        ):
            continue
        covered.append((start, end))
        findings.append(
            Finding(
                type=FindingType.SECRET,
                kind=fmt.kind,
                severity=fmt.severity,
                confidence=fmt.confidence,
                span=Span(start, end),
                redaction=Span(red_start, red_end),
                detail=f"{fmt.kind.replace('_', ' ')} ({red_end - red_start} characters)",
            )
        )
    for spans in _CANDIDATE.all_spans(text):
        start, end = spans[0]
        if any(s < end and start < e for s, e in covered):
            continue
        if _looks_random(text[start:end]):
            findings.append(
                Finding(
                    type=FindingType.SECRET,
                    kind="high_entropy_string",
                    severity=Severity.MEDIUM,
                    confidence=0.6,
                    span=Span(start, end),
                    redaction=Span(start, end),
                    detail=f"random-looking string ({end - start} characters)",
                )
            )
    return findings
