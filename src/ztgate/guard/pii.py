"""Personal data: e-mail addresses, phone numbers, US SSNs, payment cards, IBANs and IP
addresses.

Every number-shaped detector validates before it reports: a card must pass Luhn *and*
belong to a card network, an IBAN must have its country's length and a mod-97 remainder of
1, an SSN must fall in the issued ranges. That is what keeps order numbers, UUIDs and git
hashes out of the findings. Patterns run in RE2 as one alternation (one linear pass, plus
a short rescan inside a match that validates as nothing, see :func:`_scan`).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import replace

from ztgate.guard._checks import IBAN_LENGTHS, card_brand, iban_ok, luhn_ok, ssn_ok
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


_MAX_CARD_GROUPS = max(len(grouping) for grouping in _CARD_GROUPINGS)


def _is_ascii_digit(ch: str) -> bool:
    return "0" <= ch <= "9"


def _run_end(text: str, end: int) -> int:
    """Where the run of digit groups that a match stopped in really ends.

    The pattern takes at most 19 digits, so in ``0000 4111 1111 1111 1111`` it stops after
    the fourth group and the card's last group lies beyond the match. A card that starts
    inside the match has at most ``_MAX_CARD_GROUPS - 1`` groups after it, so the run is
    followed that far and no further (a table of digits costs a bounded amount per match).
    """
    for _ in range(_MAX_CARD_GROUPS - 1):
        if end + 1 < len(text) and text[end] in " -" and _is_ascii_digit(text[end + 1]):
            end += 1
            while end < len(text) and _is_ascii_digit(text[end]):
                end += 1
        else:
            break
    return end


def _card(text: str, start: int, end: int) -> Finding | None:
    """A card number in a run of digit groups; the run may carry extra groups on either
    side (``0 4111 1111 1111 1111``), so every contiguous sub-run of at most
    ``_MAX_CARD_GROUPS`` groups is tried, longest first, including groups past the match.

    The finding's span is the card; its redaction is the whole run. Which groups of
    ``5318 5555 5555 5555 4444`` are the card is ambiguous (both ends pass Luhn), and a
    redaction that guessed wrong would leave four digits of the other one behind.
    """
    run_end = _run_end(text, end)
    found = _card_at(text, start, end)
    if found is None:
        bounds: list[tuple[int, int]] = []
        group_start = start
        for i in range(start, run_end + 1):
            if i == run_end or not _is_ascii_digit(text[i]):
                bounds.append((group_start, i))
                group_start = i + 1
        for size in range(min(len(bounds), _MAX_CARD_GROUPS), 0, -1):
            for first in range(len(bounds) - size + 1):
                found = _card_at(text, bounds[first][0], bounds[first + size - 1][1])
                if found is not None:
                    break
            if found is not None:
                break
    if found is None:
        return None
    return replace(found, redaction=Span(start, run_end))


def _iban(text: str, start: int, end: int) -> Finding | None:
    """An IBAN at the start of the match.

    The pattern takes up to 30 characters after the check digits, so groups that follow an
    IBAN (``GB82 WEST 1234 5698 7654 32 0167``) ride along and the whole would fail
    mod-97. The country fixes the length, so only that many characters are checked, and
    they must end where a word does.
    """
    length = IBAN_LENGTHS.get(text[start : start + 2])
    if length is None:
        return None
    seen = 0
    for stop in range(start, end):
        if text[stop] != " ":
            seen += 1
            if seen == length:
                break
    else:
        return None
    stop += 1
    if stop < len(text) and text[stop].isalnum():
        return None
    compact = text[start:stop].replace(" ", "")
    if not iban_ok(compact):
        return None
    return _finding("iban", start, stop, 0.97, f"IBAN ({compact[:2]})")


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
    _scan(text, 0, len(text), findings)
    return findings


#: Kinds validated too weakly to be believed inside a number that was rejected as a whole:
#: ``4111 1111 1111 1112`` fails Luhn, and its last three groups are not a phone number.
_WEAK_KINDS = frozenset({"phone", "ip_address"})
#: The shortest strong finding without an ``@``: a US SSN, ``ddd-dd-dddd``. A shorter
#: stretch (the ``20`` of ``184.20``) is not rescanned.
_SHORTEST_STRONG = 11


def _scan(text: str, lo: int, hi: int, findings: list[Finding], limit: int = -1) -> None:
    """Scan ``text[lo:hi]``, appending to ``findings``.

    Matches do not overlap, so a match that validates as nothing, or only as a weak kind,
    could hide a card or an IBAN that starts inside it: in ``AB12 0 4111-1111-1111-1111``
    the IBAN pattern takes the card's first group with it, and in ``+7323 69 4111 1111 1111
    1111`` the phone pattern ends inside the card. Such a match is scanned again from its
    next word on, as far as a card could reach past it (:func:`_run_end`), keeping only
    strongly validated kinds. ``limit`` (the reach of the outermost rescan) bounds the
    nested ones, so rescans cannot walk along a table of numbers.
    """
    nested = limit >= 0
    region = text if lo == 0 and hi == len(text) else text[lo:hi]
    for spans in _COMBINED.all_spans(region):
        if lo:
            spans = tuple((a + lo, b + lo) if a >= 0 else (a, b) for a, b in spans)
        start, end = spans[0]
        found = _validate(_NAMES[which(spans, _TOP_GROUPS)], text, spans)
        weak = found is None or found.kind in _WEAK_KINDS
        if found is not None and not (nested and weak) and not _inside_last(findings, found):
            findings.append(found)
        if weak:
            inner = _next_token(text, start, end)
            if inner is None:
                continue
            reach = _run_end(text, end)
            if nested:
                reach = min(reach, limit)
            if reach - inner >= _SHORTEST_STRONG or "@" in text[inner:reach]:
                _scan(text, inner, reach, findings, limit if nested else reach)


def _next_token(text: str, start: int, end: int) -> int | None:
    """The first offset in ``(start, end)`` where a word starts (a word character after a
    non-word one), or ``None``."""
    for i in range(start + 1, end):
        if text[i].isalnum() and not text[i - 1].isalnum():
            return i
    return None


def _validate(name: str, text: str, spans: Sequence[tuple[int, int]]) -> Finding | None:
    start, end = spans[0]
    if name == "email":
        return _finding("email", start, end, 0.95, "e-mail address")
    if name == "iban":
        return _iban(text, start, end)
    if name == "ssn":
        area, group, serial = (text[slice(*spans[g])] for g in _SSN_GROUPS)
        if ssn_ok(area, group, serial) and not _hexish_neighbour(text, start, end):
            return _finding("us_ssn", start, end, 0.85, "US social security number")
        return None
    if name == "credit_card":
        return _card(text, start, end) or _phone(text, start, end)
    if name in ("ipv4", "ipv6"):
        return _ip(text, start, end, name)
    return _phone(text, start, end)


def _inside_last(findings: list[Finding], found: Finding) -> bool:
    """Whether ``found`` lies within the previous finding: a card found past its match
    (see :func:`_run_end`) covers digits the next match starts in, which must not be
    reported a second time as a phone number."""
    if not findings or findings[-1].span is None or found.span is None:
        return False
    last = findings[-1].span
    return last.start <= found.span.start and found.span.end <= last.end
