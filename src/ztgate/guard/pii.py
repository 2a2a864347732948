"""Personal data: e-mail addresses, phone numbers, US SSNs, payment cards, IBANs and IP
addresses.

Every number-shaped detector validates before it reports: a card must pass Luhn *and*
belong to a card network, an IBAN must have its country's length and a mod-97 remainder of
1, an SSN must fall in the issued ranges. That is what keeps order numbers, UUIDs and git
hashes out of the findings. Patterns run in RE2 as one alternation (one linear pass).
"""

from __future__ import annotations

import ipaddress

from ztgate.guard._checks import card_brand, iban_ok, luhn_ok, ssn_ok
from ztgate.guard._regex import Pattern, which
from ztgate.guard.findings import Finding, FindingType, Severity, Span

_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"

_PATTERNS: tuple[tuple[str, str], ...] = (
    ("email", rf"\b[A-Za-z0-9._%+-]{{1,64}}@{_LABEL}(?:\.{_LABEL})*\.[A-Za-z]{{2,24}}\b"),
    ("iban", r"\b[A-Z]{2}[0-9]{2}(?: ?[A-Z0-9]){11,30}\b"),
    ("ssn", r"\b(?P<ssn_a>[0-9]{3})-(?P<ssn_g>[0-9]{2})-(?P<ssn_s>[0-9]{4})\b"),
    ("credit_card", r"\b[0-9](?:[ -]?[0-9]){12,18}\b"),
    ("ipv4", rf"\b{_OCTET}(?:\.{_OCTET}){{3}}\b"),
    ("ipv6", r"(?i:\b[0-9a-f]{0,4}(?::[0-9a-f]{0,4}){2,7}(?:%[0-9a-z]+)?)"),
    (
        "phone",
        r"(?:\+[1-9][0-9]{0,2}[ .-]?)?(?:\([0-9]{1,4}\)[ .-]?)?[0-9]{2,4}(?:[ .-][0-9]{2,4}){1,4}\b"
        r"|\+[1-9][0-9]{7,14}\b",
    ),
)
_COMBINED = Pattern("|".join(f"(?P<{name}>{pattern})" for name, pattern in _PATTERNS))
_GROUP = _COMBINED.groupindex
_TOP_GROUPS = tuple(_GROUP[name] for name, _ in _PATTERNS)
_NAMES = tuple(name for name, _ in _PATTERNS)
_SSN_GROUPS = (_GROUP["ssn_a"], _GROUP["ssn_g"], _GROUP["ssn_s"])

# Card numbers written with separators must use a real grouping, otherwise long runs of
# digit groups (UUID fragments, version strings, tables) would be considered.
_CARD_GROUPINGS = frozenset({(4, 4, 4, 4), (4, 4, 4, 4, 3), (4, 6, 5), (4, 6, 4), (4, 4, 4, 1)})

_SEVERITY = {
    "email": Severity.MEDIUM,
    "phone": Severity.MEDIUM,
    "us_ssn": Severity.HIGH,
    "credit_card": Severity.HIGH,
    "iban": Severity.HIGH,
    "ip_address": Severity.LOW,
}


def _finding(kind: str, start: int, end: int, confidence: float, detail: str) -> Finding:
    return Finding(
        type=FindingType.PII,
        kind=kind,
        severity=_SEVERITY[kind],
        confidence=confidence,
        span=Span(start, end),
        redaction=Span(start, end),
        detail=detail,
    )


def _hexish_neighbour(text: str, start: int, end: int) -> bool:
    """Digits glued to ``-`` + hex or to letters belong to a bigger token (UUID, hash, id)."""
    before = text[start - 1] if start > 0 else " "
    after = text[end] if end < len(text) else " "
    return before.isalnum() or after.isalnum() or before in "-_/" or after in "-_/"


def _card_at(text: str, start: int, end: int) -> Finding | None:
    raw = text[start:end]
    digits = "".join(c for c in raw if c.isdigit())
    if not 13 <= len(digits) <= 19 or _hexish_neighbour(text, start, end):
        return None
    if not raw.isdigit():
        separators = {c for c in raw if not c.isdigit()}
        groups = tuple(len(g) for g in raw.replace("-", " ").split(" "))
        if len(separators) != 1 or groups not in _CARD_GROUPINGS:
            return None
    brand = card_brand(digits)
    if brand is None or not luhn_ok(digits):
        return None
    return _finding("credit_card", start, end, 0.95, f"{brand} card number")


def _card(text: str, start: int, end: int) -> Finding | None:
    """A card number in a run of digit groups; the run may carry extra groups on either
    side (``0 4111 1111 1111 1111``), so every contiguous sub-run is tried, longest first."""
    found = _card_at(text, start, end)
    if found is not None or text[start:end].isdigit():
        return found
    bounds: list[tuple[int, int]] = []
    group_start = start
    for i in range(start, end + 1):
        if i == end or not text[i].isdigit():
            bounds.append((group_start, i))
            group_start = i + 1
    for size in range(len(bounds) - 1, 0, -1):
        for first in range(len(bounds) - size + 1):
            found = _card_at(text, bounds[first][0], bounds[first + size - 1][1])
            if found is not None:
                return found
    return None


_DATE = Pattern(r"[0-9]{4}[-./][0-9]{1,2}[-./][0-9]{1,2}|[0-9]{1,2}[-./][0-9]{1,2}[-./][0-9]{4}")


def _phone(text: str, start: int, end: int) -> Finding | None:
    raw = text[start:end]
    if _DATE.search(raw):
        return None
    digits = sum(c.isdigit() for c in raw)
    international = raw.startswith("+")
    if not 10 <= digits <= 15 and not (international and digits >= 8):
        return None
    if _hexish_neighbour(text, start, end) and not international:
        return None
    if not international and "." in raw and " " not in raw and "-" not in raw:
        return None  # dotted numbers are more often versions or decimals than phones
    if not international and raw.count(" ") > 3:
        return None  # columns of numbers in a table
    return _finding("phone", start, end, 0.7 if international else 0.6, "phone number")


def _ip(text: str, start: int, end: int, kind: str) -> Finding | None:
    raw = text[start:end]
    try:
        address = ipaddress.ip_address(raw.split("%", 1)[0])
    except ValueError:
        return None
    if kind == "ipv4" and (text[end : end + 1] == "." and text[end + 1 : end + 2].isdigit()):
        return None  # part of a longer dotted number (an OID or a version)
    if kind == "ipv6" and raw.count(":") < 2:
        return None
    return _finding("ip_address", start, end, 0.8, f"IPv{address.version} address")


_NO_DIGITS = str.maketrans("", "", "0123456789")


def may_contain_pii(text: str) -> bool:
    """A necessary condition for :func:`scan_pii` to find anything, in a few string
    operations: ``False`` proves there is nothing to find, ``True`` proves nothing.

    E-mail needs ``@`` and IPv6 ``:``. Everything else is validated on its ASCII digits
    (the patterns' ``[0-9]``): a phone has at least 8 (international) or 10, an SSN 9, a card
    13, an IPv4 address 4 and dots, and an IBAN two check digits in at least 15 characters
    after a country code in capitals (``[A-Z]{2}``, which ``lower()`` would change).
    A property test checks this against the scanner.
    """
    if "@" in text or ":" in text:
        return True
    digits = len(text) - len(text.translate(_NO_DIGITS))
    if digits >= 8:
        return True
    if digits >= 4 and "." in text:
        return True
    return digits >= 2 and len(text) >= 15 and text.lower() != text


def scan_pii(text: str) -> list[Finding]:
    """Find personal data in ``text``; spans and redactions index into ``text`` itself."""
    findings: list[Finding] = []
    for spans in _COMBINED.all_spans(text):
        name = _NAMES[which(spans, _TOP_GROUPS)]
        start, end = spans[0]
        found: Finding | None = None
        if name == "email":
            found = _finding("email", start, end, 0.95, "e-mail address")
        elif name == "iban":
            compact = text[start:end].replace(" ", "")
            if iban_ok(compact):
                found = _finding("iban", start, end, 0.97, f"IBAN ({compact[:2]})")
        elif name == "ssn":
            area, group, serial = (text[slice(*spans[g])] for g in _SSN_GROUPS)
            if ssn_ok(area, group, serial) and not _hexish_neighbour(text, start, end):
                found = _finding("us_ssn", start, end, 0.85, "US social security number")
        elif name == "credit_card":
            found = _card(text, start, end)
            if found is None:
                found = _phone(text, start, end)
        elif name in ("ipv4", "ipv6"):
            found = _ip(text, start, end, name)
        elif name == "phone":
            found = _phone(text, start, end)
        if found is not None:
            findings.append(found)
    return findings
