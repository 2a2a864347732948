"""Host canonicalisation shared by URLs and e-mail domains.

A host is read the way a WHATWG-conforming client (a browser, ``fetch``, most modern HTTP
stacks) reads it, because that is what finally connects: percent-escapes are decoded,
Unicode is mapped with UTS #46 (case folding, NFKC-like compatibility mapping, ideographic
full stops as dots) and encoded as punycode, and a host whose last label is numeric is an
IPv4 address in any of the legacy spellings (``2130706433``, ``0177.0.0.1``, ``0x7f.1``,
``127.1``). Where clients disagree, the input is refused rather than guessed.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Final, Literal, NamedTuple

import idna

from ztgate.core.canon._address import AddressClass, IPAddress, classify_address
from ztgate.core.canon._common import fail
from ztgate.core.canon.text import has_invisible

HostKind = Literal["dns", "ipv4", "ipv6"]

#: Longest DNS name, without the trailing dot (RFC 1035).
MAX_HOST_LENGTH: Final = 253
MAX_LABEL_LENGTH: Final = 63
# The longest host text worth mapping: four characters of input per character of output.
_MAX_RAW_HOST: Final = 4 * MAX_HOST_LENGTH

# Letters, digits, hyphen and underscore: what DNS names hold in practice. Underscore is
# not a hostname character by RFC 952, but real names carry it and it cannot change which
# host a name denotes.
_DNS_NAME_RE: Final = re.compile(r"[a-z0-9_-]{1,63}(?:\.[a-z0-9_-]{1,63})*")
_DIGITS_RE: Final = re.compile(r"[0-9]+")
_OCTAL_DIGITS_RE: Final = re.compile(r"[0-7]+")
_HEX_DIGITS_RE: Final = re.compile(r"[0-9A-Fa-f]+")
_HEX_NUMBER_RE: Final = re.compile(r"0[xX][0-9A-Fa-f]*")
_IPV6_CHARS_RE: Final = re.compile(r"[0-9A-Fa-f:.]+")
_ESCAPE_RUN_RE: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+")
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_SPACE_OR_LAYOUT_RE: Final = re.compile(r"[\s\x00-\x1f\x7f]")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")


class Host(NamedTuple):
    """A canonical host: its text, what kind of name it is, and the address if literal."""

    text: str
    kind: HostKind
    ip: IPAddress | None


def _ipv4_number(part: str) -> int | None:
    """One part of a WHATWG IPv4 host: decimal, ``0x`` hex or leading-zero octal.

    Digits are checked against the radix first: ``int()`` alone would also accept signs,
    underscores and surrounding whitespace (``-1``, ``1_0``), which no IPv4 parser does.
    """
    if not part:
        return None
    if part[:2] in ("0x", "0X"):
        digits, radix, pattern = part[2:], 16, _HEX_DIGITS_RE
    elif len(part) > 1 and part[0] == "0":
        digits, radix, pattern = part[1:], 8, _OCTAL_DIGITS_RE
    else:
        digits, radix, pattern = part, 10, _DIGITS_RE
    if not digits:
        return 0
    if pattern.fullmatch(digits) is None:
        return None
    return int(digits, radix)


def _ends_in_number(labels: list[str]) -> bool:
    last = labels[-1]
    if not "0" <= last[0] <= "9":
        return False  # both decimal and 0x numbers start with a digit
    return _DIGITS_RE.fullmatch(last) is not None or _HEX_NUMBER_RE.fullmatch(last) is not None


def _ipv4_value(numbers: list[int]) -> int | None:
    """Combine WHATWG IPv4 parts, or ``None`` when a part is out of range."""
    *leading, last = numbers
    if any(n > 255 for n in leading) or last >= 256 ** (5 - len(numbers)):
        return None
    value = last
    for index, number in enumerate(leading):
        value += number << (8 * (3 - index))
    return value


def _parse_ipv4(labels: list[str], raw: str, what: str) -> ipaddress.IPv4Address:
    """The WHATWG IPv4 parser: 1-4 parts, the last filling the remaining bytes.

    Leading-zero parts are octal for WHATWG and ``inet_aton`` but decimal for some other
    parsers. When the two readings differ and only the decimal one is non-public
    (``0127.0.0.1`` is 87.0.0.1 or 127.0.0.1), the host is refused: a client that reads
    it the other way would reach an address the policy never saw.
    """
    if len(labels) > 4:
        raise fail(what, raw, "has a numeric host with more than four parts", reason="bad_ipv4")
    numbers: list[int] = []
    for label in labels:
        number = _ipv4_number(label)
        if number is None:
            raise fail(what, raw, f"has an invalid IPv4 part `{label[:20]}`", reason="bad_ipv4")
        numbers.append(number)
    value = _ipv4_value(numbers)
    if value is None:
        raise fail(what, raw, "has an IPv4 address out of range", reason="bad_ipv4")
    address = ipaddress.IPv4Address(value)
    decimal = [
        int(label, 10) if label[:1] == "0" and label.isdigit() else number
        for label, number in zip(labels, numbers, strict=True)
    ]
    if decimal != numbers:
        other = _ipv4_value(decimal)
        if (
            other is not None
            and classify_address(address) is AddressClass.PUBLIC
            and classify_address(ipaddress.IPv4Address(other)) is not AddressClass.PUBLIC
        ):
            raise fail(
                what,
                raw,
                "has an IPv4 address that octal and decimal parsers read differently",
                reason="ambiguous_ipv4",
            )
    return address


def _parse_ipv6(literal: str, raw: str, what: str) -> ipaddress.IPv6Address:
    if "%" in literal:
        raise fail(what, raw, "has an IPv6 zone identifier", reason="bad_ipv6")
    if _IPV6_CHARS_RE.fullmatch(literal) is None:
        raise fail(what, raw, "has an invalid IPv6 literal", reason="bad_ipv6")
    try:
        return ipaddress.IPv6Address(literal)
    except ValueError:
        raise fail(what, raw, "has an invalid IPv6 literal", reason="bad_ipv6") from None


def _percent_decode_host(host: str, raw: str, what: str, part: str) -> str:
    """Decode percent-escapes in a host as WHATWG does; each run must be valid UTF-8."""
    if _BAD_ESCAPE_RE.search(host) is not None:
        raise fail(what, raw, f"has a malformed percent-escape in its {part}", reason="bad_escape")
    try:
        return _ESCAPE_RUN_RE.sub(
            lambda m: bytes.fromhex(m.group().replace("%", "")).decode("utf-8"), host
        )
    except UnicodeError:
        raise fail(what, raw, f"has a {part} that is not UTF-8", reason="bad_host") from None


def _to_ascii(host: str, raw: str, what: str, part: str) -> str:
    """UTS #46 mapping, then punycode for every label that is still not ASCII."""
    try:
        mapped = idna.uts46_remap(host, std3_rules=False, transitional=False)
        if mapped.isascii():
            return mapped
        return ".".join(
            label if label.isascii() else idna.alabel(label).decode("ascii")
            for label in mapped.split(".")
        )
    except (idna.IDNAError, UnicodeError, ValueError):
        raise fail(
            what, raw, f"has a {part} that is not a valid domain name", reason="bad_host"
        ) from None


def parse_host(unverified_host: str, *, raw: str, what: str, part: str = "host") -> Host:
    """Canonicalise the host part of a URL (without brackets handling) or an e-mail domain.

    ``raw`` is the whole input, quoted in errors; ``what`` names it (``"url"``, ...).
    Raises :class:`~ztgate.errors.CanonicalizationError` for anything that is not a DNS
    name or an IPv4 address.
    """
    host = unverified_host
    if not host:
        raise fail(what, raw, f"has an empty {part}", reason="empty_host")
    if "%" in host:
        host = _percent_decode_host(host, raw, what, part)
    if not (host.isascii() and host.isprintable() and " " not in host) and (
        _SPACE_OR_LAYOUT_RE.search(host) is not None
        or _SURROGATE_RE.search(host) is not None
        or has_invisible(host)
    ):
        raise fail(
            what,
            raw,
            f"has a control, space or invisible character in its {part}",
            reason="bad_host",
        )
    if len(host) > _MAX_RAW_HOST:
        # Only composition shortens text under UTS #46 (ignorable characters are refused
        # above), never by this much: refuse before the costly IDNA work.
        raise fail(
            what, raw, f"has a {part} longer than {MAX_HOST_LENGTH} characters", reason="bad_host"
        )
    host = host.lower() if host.isascii() else _to_ascii(host, raw, what, part)
    if host.endswith("."):
        host = host[:-1]
    if not host:
        raise fail(what, raw, f"has an empty {part}", reason="empty_host")
    labels = host.split(".")
    if "" in labels:
        raise fail(what, raw, f"has an empty label in its {part}", reason="empty_label")
    if _ends_in_number(labels):
        address = _parse_ipv4(labels, raw, what)
        return Host(str(address), "ipv4", address)
    if len(host) > MAX_HOST_LENGTH:
        raise fail(
            what, raw, f"has a {part} longer than {MAX_HOST_LENGTH} characters", reason="bad_host"
        )
    if _DNS_NAME_RE.fullmatch(host) is None:
        raise fail(what, raw, f"has a {part} that is not a valid domain name", reason="bad_host")
    if "xn--" not in host:
        return Host(host, "dns", None)
    for label in labels:
        if label.startswith("xn--"):
            try:
                idna.ulabel(label)
            except (idna.IDNAError, UnicodeError, ValueError):
                raise fail(what, raw, "has an invalid punycode label", reason="bad_host") from None
    return Host(host, "dns", None)


def parse_ipv6_literal(literal: str, *, raw: str, what: str) -> Host:
    """Canonicalise the inside of ``[...]``: an IPv6 address, no zone, no IPvFuture."""
    address = _parse_ipv6(literal, raw, what)
    return Host(address.compressed, "ipv6", address)
