"""SSRF destinations and path traversal, judged with :mod:`ztgate.core.canon`.

URL and path meaning is decided in exactly one place, ``core.canon``, which policy
constraints also use: a scanner that parsed ``http://0x7f.1/`` differently from the policy
engine would open a gap between "flagged" and "allowed". This module only *finds*
candidates in text (linear RE2 patterns) and asks canon what they mean.
"""

from __future__ import annotations

import ipaddress

from ztgate.core.canon.path import path_interpretations
from ztgate.core.canon.url import (
    AddressClass,
    classify_address,
    is_forbidden_destination,
    parse_url,
)
from ztgate.errors import CanonicalizationError
from ztgate.guard._regex import Pattern
from ztgate.guard.findings import Finding, FindingType, Severity, Span

MAX_CANDIDATES = 64

_URL = Pattern(r"(?i:\b[a-z][a-z0-9+.-]{1,15}://[^\s\"'<>`]+)")
_PATHISH = Pattern(r"(?:[A-Za-z]:)?[^\s\"'<>|;&,()`=]*[/\\][^\s\"'<>|;&,()`]*")
_TRAVERSAL = Pattern(
    r"(?i:(?:\.|%2e|%252e|%c0%ae|%u002e){2}(?:/|\\|%2f|%5c|%252f|%255c|%c0%af|%u2215))"
)
_SENSITIVE_ROOTS = ("/etc", "/proc", "/sys", "/root", "/dev", "/boot", "/var/run/secrets")
_SENSITIVE_NAMES = Pattern(
    r"(?:^|/)(?:\.ssh|\.aws|\.gnupg|\.kube|\.docker|\.netrc|\.git-credentials|\.env|"
    r"\.npmrc|\.pypirc|id_rsa|id_ed25519|id_ecdsa|\.bash_history)(?:$|/)"
)
# Substrings every _SENSITIVE_NAMES match contains: a cheap test before the regex.
_SENSITIVE_HINTS = (".ssh", ".aws", ".gnupg", ".kube", ".docker", ".netrc", ".git-", ".env",
                    ".npmrc", ".pypirc", "id_", ".bash_history")  # fmt: skip
_DANGEROUS_SCHEMES = frozenset({"file", "gopher", "dict", "ldap", "tftp", "jar", "netdoc"})
_CLASS_SEVERITY = {
    AddressClass.METADATA: Severity.CRITICAL,
    AddressClass.LOOPBACK: Severity.HIGH,
    AddressClass.PRIVATE: Severity.HIGH,
    AddressClass.LINK_LOCAL: Severity.HIGH,
    AddressClass.UNSPECIFIED: Severity.HIGH,
    AddressClass.SHARED: Severity.MEDIUM,
}


def _ssrf(kind: str, severity: Severity, span: Span, detail: str) -> Finding:
    return Finding(FindingType.SSRF, kind, severity, 0.9, span=span, redaction=span, detail=detail)


def scan_urls(text: str) -> list[Finding]:
    """URLs that point inside the perimeter (metadata, loopback, private ...) or use a
    scheme that reaches local resources, plus URLs too malformed to judge."""
    findings: list[Finding] = []
    for spans in _URL.all_spans(text, MAX_CANDIDATES):
        start, end = spans[0]
        raw = text[start:end].rstrip(".,;:!?)]}")
        span = Span(start, start + len(raw))
        scheme = raw.split(":", 1)[0].lower()
        if scheme in _DANGEROUS_SCHEMES:
            findings.append(_ssrf("dangerous_scheme", Severity.HIGH, span, f"`{scheme}` URL"))
            continue
        try:
            url = parse_url(raw)
        except CanonicalizationError as error:
            findings.append(
                _ssrf("malformed_url", Severity.MEDIUM, span, f"unparsable URL ({error.reason})")
            )
            continue
        cls = is_forbidden_destination(url)
        if cls is not None:
            findings.append(
                _ssrf(
                    f"{cls.value}_destination",
                    _CLASS_SEVERITY.get(cls, Severity.MEDIUM),
                    span,
                    f"URL to a {cls.value.replace('_', ' ')} address",
                )
            )
    return findings


def scan_address(value: str) -> list[Finding]:
    """A bare host or IP argument (``{"host": "169.254.169.254"}``) judged like a URL."""
    if "." not in value and ":" not in value:
        # Without a dot or colon only "localhost" or a bare number can be an address (the
        # same test as below, answered before any other work).
        bare = value.strip()
        if not bare.isdigit() and bare.lower() != "localhost":
            return []
    candidate = value.strip()
    if not candidate or len(candidate) > 255 or any(c.isspace() for c in candidate):
        return []
    lowered = candidate.lower()
    if not (
        lowered == "localhost"
        or "." in lowered
        or ":" in lowered
        or lowered.replace(".", "").isdigit()
    ):
        return []  # a single word is far more often a plain argument than a hostname
    try:
        ip = ipaddress.ip_address(candidate.strip("[]"))
    except ValueError:
        if not candidate.replace(".", "").replace("-", "").replace(":", "").isalnum():
            return []
        try:
            url = parse_url(f"http://{candidate}/")
        except CanonicalizationError:
            return []
        cls = is_forbidden_destination(url)
    else:
        found = classify_address(ip)
        cls = None if found is AddressClass.PUBLIC else found
    if cls is None:
        return []
    return [
        _ssrf(
            f"{cls.value}_destination",
            _CLASS_SEVERITY.get(cls, Severity.MEDIUM),
            Span(0, len(value)),
            f"address in the {cls.value.replace('_', ' ')} range",
        )
    ]


def _path_finding(kind: str, severity: Severity, span: Span, detail: str) -> Finding:
    return Finding(FindingType.PATH_TRAVERSAL, kind, severity, 0.85, span=span, detail=detail)


def scan_paths(text: str) -> list[Finding]:
    """Traversal sequences (``../``, encoded or not) and paths into sensitive locations."""
    findings: list[Finding] = []
    first = _TRAVERSAL.first(text)
    if first is not None:
        # One is enough: every traversal in a string calls for the same action.
        findings.append(
            _path_finding("traversal", Severity.HIGH, Span(*first[0]), "parent-directory traversal")
        )
    for spans in _PATHISH.all_spans(text, MAX_CANDIDATES):
        start, end = spans[0]
        token = text[start:end]
        if "://" in token or (("." in token or "%" in token) and _TRAVERSAL.search(token)):
            continue  # URLs are judged by scan_urls, traversal above
        span = Span(start, end)
        if token.endswith(("/..", "\\..")):
            findings.append(
                _path_finding("traversal", Severity.HIGH, span, "parent-directory traversal")
            )
            continue
        if not token.startswith(("/", "~", "\\")):
            continue
        absolute = "/" + token[2:] if token.startswith("~/") else token
        try:
            readings = path_interpretations(absolute)
        except CanonicalizationError:
            findings.append(
                _path_finding("malformed_path", Severity.MEDIUM, span, "unparsable path")
            )
            continue
        for reading in readings:
            if (
                any(hint in reading for hint in _SENSITIVE_HINTS)
                and _SENSITIVE_NAMES.search(reading)
            ) or any(
                reading == root or reading.startswith(root + "/") for root in _SENSITIVE_ROOTS
            ):
                findings.append(
                    _path_finding(
                        "sensitive_path",
                        Severity.HIGH,
                        span,
                        "path to credentials or system internals",
                    )
                )
                break
    return findings
