"""Strict URL parsing and destination classification for SSRF-safe policy checks.

"May this agent fetch that URL?" is decided on the host the request will actually reach.
Parsers disagree about URLs (``http://a.com\\@b.com``, ``http://a@b@c``, ``http://0x7f.1``),
and every disagreement between the policy's parser and the client's is a bypass. So this
parser reads hosts the WHATWG way (what browsers and modern clients do) and *refuses* every
input on which common parsers disagree: backslashes or several ``@`` in the authority,
whitespace, controls and invisible characters anywhere, zone identifiers, malformed ports.

:func:`is_forbidden_destination` classifies the result. It sees literal addresses in every
spelling, IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4, Teredo) and well-known
local and cloud-metadata host names. It cannot see what a DNS name resolves to: a public
name pointing at ``127.0.0.1`` (``127.0.0.1.nip.io``, DNS rebinding) is only caught by an
adapter that resolves the name at the edge and checks the resolved address with
:func:`classify_address` before connecting, which ztgate's adapters do.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ztgate.core.canon._common import fail, type_error
from ztgate.core.canon._host import Host, HostKind, IPAddress, parse_host, parse_ipv6_literal
from ztgate.core.canon.text import has_invisible
from ztgate.errors import CanonicalizationError

__all__ = [
    "DEFAULT_PORTS",
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "AddressClass",
    "CanonicalURL",
    "canonical_host",
    "classify_address",
    "host_matches",
    "is_forbidden_destination",
    "is_local_hostname",
    "parse_url",
]

#: Ports implied by the schemes that have one.
DEFAULT_PORTS: Final = {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}

_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_WHITESPACE_RE: Final = re.compile(r"\s")
_LAYOUT_RE: Final = re.compile(r"[\t\n\r]")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_ESCAPE_RE: Final = re.compile(r"%([0-9A-Fa-f]{2})")
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_USERINFO_RE: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:%]*")

_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE: Final = _UNRESERVED | frozenset("!$&'()*+,;=:@/")
_QUERY_SAFE: Final = _PATH_SAFE | frozenset("?")


class AddressClass(StrEnum):
    """Where an address points. Everything but ``public`` is refused unless allowed."""

    PUBLIC = "public"
    PRIVATE = "private"
    LOOPBACK = "loopback"
    LINK_LOCAL = "link_local"
    METADATA = "metadata"
    UNSPECIFIED = "unspecified"
    MULTICAST = "multicast"
    RESERVED = "reserved"
    SHARED = "shared"
    DOCUMENTATION = "documentation"


@dataclass(frozen=True, slots=True)
class CanonicalURL:
    """A URL reduced to what decides where a request goes and what it asks for.

    ``host`` is lowercase ASCII (punycode for IDNs, dotted decimal for IPv4, compressed
    and unbracketed for IPv6). ``port`` is the explicit port or ``None``;
    ``effective_port`` adds the scheme default. ``path`` has dot segments removed and
    percent-encoding normalised; the fragment is dropped (it never leaves the client) and
    userinfo is dropped after recording that it was there.
    """

    scheme: str
    host: str
    host_kind: HostKind
    ip: IPAddress | None
    port: int | None
    effective_port: int | None
    path: str
    query: str
    has_userinfo: bool

    def __str__(self) -> str:
        host = f"[{self.host}]" if self.host_kind == "ipv6" else self.host
        port = "" if self.port is None else f":{self.port}"
        query = f"?{self.query}" if self.query else ""
        return f"{self.scheme}://{host}{port}{self.path}{query}"


def _normalise_component(text: str, safe: frozenset[str], raw: str, what: str) -> str:
    """Uppercase escapes, decode escaped unreserved characters, escape everything unsafe."""
    if _BAD_ESCAPE_RE.search(text) is not None:
        raise fail("url", raw, f"has a malformed percent-escape in its {what}", reason="bad_escape")
    if text.isascii() and "%" not in text and all(ch in safe for ch in text):
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "%":
            byte = int(text[i + 1 : i + 3], 16)
            decoded = chr(byte)
            out.append(decoded if decoded in _UNRESERVED else f"%{byte:02X}")
            i += 3
            continue
        if ch in safe:
            out.append(ch)
        else:
            out.extend(f"%{b:02X}" for b in ch.encode("utf-8"))
        i += 1
    return "".join(out)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on an absolute path (``%2e`` is already decoded)."""
    segments = path.split("/")[1:]
    out: list[str] = []
    last = len(segments) - 1
    for index, segment in enumerate(segments):
        if segment in (".", ".."):
            if segment == ".." and out:
                out.pop()
            if index == last:
                out.append("")
            continue
        out.append(segment)
    return "/" + "/".join(out)


def _check_text(raw: str, max_length: int) -> None:
    if not raw:
        raise fail("url", raw, "is empty", reason="empty")
    if len(raw) > max_length:
        raise fail("url", raw, f"is longer than {max_length} characters", reason="too_long")
    if _SURROGATE_RE.search(raw) is not None:
        raise fail("url", raw, "contains a lone surrogate", reason="invalid_unicode")
    if _LAYOUT_RE.search(raw) is not None or has_invisible(raw):
        raise fail("url", raw, "contains a control or invisible character", reason="invisible_char")
    if _WHITESPACE_RE.search(raw) is not None:
        raise fail("url", raw, "contains whitespace", reason="whitespace")


def _split_authority(authority: str, raw: str) -> tuple[bool, str, str | None]:
    """Split ``userinfo@host:port``; returns (has_userinfo, host part, port text)."""
    if "\\" in authority:
        raise fail("url", raw, "has a backslash before its path", reason="backslash")
    at_count = authority.count("@")
    if at_count > 1:
        raise fail(
            "url", raw, "has more than one `@` in its authority", reason="ambiguous_userinfo"
        )
    has_userinfo = at_count == 1
    if has_userinfo:
        userinfo, authority = authority.split("@")
        if _USERINFO_RE.fullmatch(userinfo) is None or _BAD_ESCAPE_RE.search(userinfo):
            raise fail("url", raw, "has invalid characters in its userinfo", reason="bad_userinfo")
    if authority.startswith("["):
        close = authority.find("]")
        if close < 0:
            raise fail("url", raw, "has an unterminated IPv6 literal", reason="bad_ipv6")
        host, rest = authority[: close + 1], authority[close + 1 :]
        if rest and not rest.startswith(":"):
            raise fail("url", raw, "has text after its IPv6 literal", reason="bad_ipv6")
        return has_userinfo, host, rest[1:] if rest else None
    if authority.count(":") > 1:
        raise fail("url", raw, "has more than one `:` in its host", reason="bad_port")
    host, colon, port = authority.partition(":")
    return has_userinfo, host, port if colon else None


def _parse_port(port: str | None, raw: str) -> int | None:
    if port is None:
        return None
    if _PORT_RE.fullmatch(port) is None or not 1 <= int(port) <= 65535:
        raise fail("url", raw, "has an invalid port", reason="bad_port")
    return int(port)


def _host(host: str, raw: str) -> Host:
    if host.startswith("["):
        return parse_ipv6_literal(host[1:-1], raw=raw, what="url")
    if "[" in host or "]" in host:
        raise fail("url", raw, "has a bracket in its host", reason="bad_host")
    return parse_host(host, raw=raw, what="url")


def parse_url(raw: str, *, max_length: int = 8192) -> CanonicalURL:
    """Parse ``raw`` strictly into a :class:`CanonicalURL`.

    Only URLs with an authority and a non-empty host are accepted (``scheme://host...``);
    opaque URLs (``mailto:``, ``data:``, ``javascript:``) and host-less ``file:///`` URLs
    have no destination to check and are refused. Raises
    :class:`~ztgate.errors.CanonicalizationError` for anything malformed or ambiguous.
    """
    if not isinstance(raw, str):
        raise type_error("url", raw)
    _check_text(raw, max_length)
    scheme, colon, rest = raw.partition(":")
    if not colon or _SCHEME_RE.fullmatch(scheme) is None:
        raise fail("url", raw, "has no scheme", reason="missing_scheme")
    scheme = scheme.lower()
    if not rest.startswith("//"):
        raise fail("url", raw, "has no `//` authority", reason="missing_host")
    rest = rest[2:]
    end = len(rest)
    for delimiter in "/?#":
        found = rest.find(delimiter)
        if 0 <= found < end:
            end = found
    authority, rest = rest[:end], rest[end:]
    has_userinfo, host_text, port_text = _split_authority(authority, raw)
    host = _host(host_text, raw)
    port = _parse_port(port_text, raw)

    rest, _, fragment = rest.partition("#")
    path, question, query = rest.partition("?")
    special = scheme in DEFAULT_PORTS
    if "\\" in path:
        if not special:
            raise fail("url", raw, "has a backslash in its path", reason="backslash")
        path = path.replace("\\", "/")
    path = _remove_dot_segments(_normalise_component(path or "/", _PATH_SAFE, raw, "path"))
    query = _normalise_component(query, _QUERY_SAFE, raw, "query") if question else ""
    _normalise_component(fragment, _QUERY_SAFE, raw, "fragment")
    return CanonicalURL(
        scheme=scheme,
        host=host.text,
        host_kind=host.kind,
        ip=host.ip,
        port=port,
        effective_port=port if port is not None else DEFAULT_PORTS.get(scheme),
        path=path,
        query=query,
        has_userinfo=has_userinfo,
    )


# ---------------------------------------------------------------------------------------
# Address classification

#: Cloud instance-metadata endpoints: AWS/GCP/Azure/OpenStack (169.254.169.254), AWS ECS
#: task metadata (169.254.170.2), EKS Pod Identity (169.254.170.23), Alibaba Cloud
#: (100.100.100.200), Oracle Cloud (192.0.0.192), Azure WireServer (168.63.129.16), and
#: the AWS IPv6 endpoints.
METADATA_ADDRESSES: Final[frozenset[IPAddress]] = frozenset(
    {
        ipaddress.IPv4Address("169.254.169.254"),
        ipaddress.IPv4Address("169.254.170.2"),
        ipaddress.IPv4Address("169.254.170.23"),
        ipaddress.IPv4Address("100.100.100.200"),
        ipaddress.IPv4Address("192.0.0.192"),
        ipaddress.IPv4Address("168.63.129.16"),
        ipaddress.IPv6Address("fd00:ec2::254"),
        ipaddress.IPv6Address("fd00:ec2::23"),
    }
)

_N4 = ipaddress.IPv4Network
_N6 = ipaddress.IPv6Network

# First match wins; anything unmatched is public.
_V4_TABLE: Final[tuple[tuple[ipaddress.IPv4Network, AddressClass], ...]] = (
    (_N4("0.0.0.0/8"), AddressClass.UNSPECIFIED),
    (_N4("127.0.0.0/8"), AddressClass.LOOPBACK),
    (_N4("169.254.0.0/16"), AddressClass.LINK_LOCAL),
    (_N4("10.0.0.0/8"), AddressClass.PRIVATE),
    (_N4("172.16.0.0/12"), AddressClass.PRIVATE),
    (_N4("192.168.0.0/16"), AddressClass.PRIVATE),
    (_N4("100.64.0.0/10"), AddressClass.SHARED),
    (_N4("192.0.2.0/24"), AddressClass.DOCUMENTATION),
    (_N4("198.51.100.0/24"), AddressClass.DOCUMENTATION),
    (_N4("203.0.113.0/24"), AddressClass.DOCUMENTATION),
    (_N4("224.0.0.0/4"), AddressClass.MULTICAST),
    (_N4("240.0.0.0/4"), AddressClass.RESERVED),
    (_N4("192.0.0.0/24"), AddressClass.RESERVED),
    (_N4("198.18.0.0/15"), AddressClass.RESERVED),
    (_N4("192.88.99.0/24"), AddressClass.RESERVED),
)

_V6_TABLE: Final[tuple[tuple[ipaddress.IPv6Network, AddressClass], ...]] = (
    (_N6("64:ff9b:1::/48"), AddressClass.PRIVATE),
    (_N6("fc00::/7"), AddressClass.PRIVATE),
    (_N6("fec0::/10"), AddressClass.PRIVATE),
    (_N6("fe80::/10"), AddressClass.LINK_LOCAL),
    (_N6("ff00::/8"), AddressClass.MULTICAST),
    (_N6("2001:db8::/32"), AddressClass.DOCUMENTATION),
    (_N6("3fff::/20"), AddressClass.DOCUMENTATION),
    (_N6("100::/64"), AddressClass.RESERVED),
    (_N6("2001::/23"), AddressClass.RESERVED),
)
_GLOBAL_UNICAST: Final = _N6("2000::/3")
_MAPPED: Final = _N6("::ffff:0:0/96")
_TRANSLATED: Final = _N6("::ffff:0:0:0/96")
_COMPATIBLE: Final = _N6("::/96")
_NAT64: Final = _N6("64:ff9b::/96")
_SIXTOFOUR: Final = _N6("2002::/16")
_TEREDO: Final = _N6("2001::/32")
_LOW32: Final = 0xFFFFFFFF


def _classify_v4(ip: ipaddress.IPv4Address) -> AddressClass:
    if ip in METADATA_ADDRESSES:
        return AddressClass.METADATA
    for network, cls in _V4_TABLE:
        if ip in network:
            return cls
    return AddressClass.PUBLIC


def _embedded_v4(ip: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address] | None:
    """The IPv4 addresses an IPv6 address carries, or ``None`` if it is not such a form."""
    value = int(ip)
    if ip in _MAPPED or ip in _TRANSLATED or ip in _COMPATIBLE or ip in _NAT64:
        return [ipaddress.IPv4Address(value & _LOW32)]
    if ip in _SIXTOFOUR:
        return [ipaddress.IPv4Address((value >> 80) & _LOW32)]
    if ip in _TEREDO:
        client = ipaddress.IPv4Address(~value & _LOW32)
        server = ipaddress.IPv4Address((value >> 64) & _LOW32)
        return [client, server]
    return None


def _classify_v6(ip: ipaddress.IPv6Address) -> AddressClass:
    if ip in METADATA_ADDRESSES:
        return AddressClass.METADATA
    if ip == ipaddress.IPv6Address("::"):
        return AddressClass.UNSPECIFIED
    if ip == ipaddress.IPv6Address("::1"):
        return AddressClass.LOOPBACK
    embedded = _embedded_v4(ip)
    if embedded is not None:
        for inner in embedded:
            cls = _classify_v4(inner)
            if cls is not AddressClass.PUBLIC:
                return cls
        # IPv4-compatible addresses are deprecated and never routed to the embedded host.
        if ip in _COMPATIBLE:
            return AddressClass.RESERVED
        return AddressClass.PUBLIC
    for network, cls in _V6_TABLE:
        if ip in network:
            return cls
    return AddressClass.PUBLIC if ip in _GLOBAL_UNICAST else AddressClass.RESERVED


def classify_address(ip: IPAddress) -> AddressClass:
    """Where ``ip`` points, judged by the most restrictive reading.

    IPv6 forms that carry an IPv4 address (mapped ``::ffff:a.b.c.d``, compatible
    ``::a.b.c.d``, NAT64 ``64:ff9b::/96``, 6to4 ``2002::/16``, Teredo ``2001::/32``) are
    classified by the embedded address when that is not public. IPv6 outside global unicast
    ``2000::/3`` is ``reserved``.
    """
    if isinstance(ip, ipaddress.IPv4Address):
        return _classify_v4(ip)
    if isinstance(ip, ipaddress.IPv6Address):
        return _classify_v6(ip)
    raise TypeError(f"classify_address needs an IP address, not `{type(ip).__name__}`")


# ---------------------------------------------------------------------------------------
# Host names

#: Names of cloud instance-metadata services (they resolve to the addresses above).
METADATA_HOSTNAMES: Final[frozenset[str]] = frozenset(
    {
        "metadata",
        "metadata.google.internal",
        "metadata.goog",
        "metadata.azure.internal",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.tencentyun.com",
        "metadata.platformequinix.com",
        "metadata.packet.net",
    }
)

_LOOPBACK_SUFFIX: Final = "localhost"
# Names that are local by standard (RFC 6761/6762/8375, ICANN .internal) or by widespread
# private use and never delegated in the public DNS.
_LOCAL_SUFFIXES: Final = (
    "local",
    "internal",
    "localdomain",
    "home.arpa",
    "lan",
    "intranet",
    "corp",
    "home",
    "private",
)


def _hostname_class(host: str) -> AddressClass | None:
    host = host.lower().removesuffix(".")
    if host in METADATA_HOSTNAMES:
        return AddressClass.METADATA
    if host == _LOOPBACK_SUFFIX or host.endswith("." + _LOOPBACK_SUFFIX):
        return AddressClass.LOOPBACK
    # A single-label name is resolved through the local search domains: it names a host
    # on the private network (a container, a cluster service), never a public site.
    if "." not in host:
        return AddressClass.PRIVATE
    if any(host == suffix or host.endswith("." + suffix) for suffix in _LOCAL_SUFFIXES):
        return AddressClass.PRIVATE
    return None


def is_local_hostname(host: str) -> bool:
    """Whether ``host`` names this machine, the local network or a metadata service.

    True for ``localhost`` and ``*.localhost``, ``*.local``, ``*.internal``,
    ``*.localdomain``, ``*.home.arpa`` and other never-delegated private suffixes, every
    single-label name (resolved via local search domains) and :data:`METADATA_HOSTNAMES`.
    """
    return _hostname_class(host) is not None


def _bare_host(raw: str) -> Host:
    if not isinstance(raw, str):
        raise type_error("host", raw)
    if not raw or len(raw) > 1024:
        raise fail("host", raw, "is empty or too long", reason="bad_host")
    if _WHITESPACE_RE.search(raw) is not None or _SURROGATE_RE.search(raw) is not None:
        raise fail("host", raw, "contains whitespace or invalid characters", reason="bad_host")
    if raw.startswith("[") and raw.endswith("]"):
        return parse_ipv6_literal(raw[1:-1], raw=raw, what="host")
    if ":" in raw:
        return parse_ipv6_literal(raw, raw=raw, what="host")
    return parse_host(raw, raw=raw, what="host")


def canonical_host(raw: str) -> str:
    """The canonical form of a bare host as a policy writes it (``[::1]`` or ``::1`` too).

    The same rules as the host of :func:`parse_url`; raises
    :class:`~ztgate.errors.CanonicalizationError` when ``raw`` is not a valid host.
    """
    return _bare_host(raw).text


@functools.lru_cache(maxsize=1024)
def _canonical_set(entries: tuple[str, ...], domains: bool) -> frozenset[str]:
    result: set[str] = set()
    for entry in entries:
        try:
            host = _bare_host(entry)
        except CanonicalizationError as exc:
            raise ValueError(f"invalid host pattern: {exc}") from exc
        if domains and host.kind != "dns":
            raise ValueError(f"domain `{host.text}` is an IP address; list it under hosts")
        result.add(host.text)
    return frozenset(result)


def host_matches(
    url: CanonicalURL, *, hosts: Collection[str] = (), domains: Collection[str] = ()
) -> bool:
    """Whether the URL's host is one of ``hosts`` or inside one of ``domains``.

    Entries are canonicalised like URL hosts (``EXAMPLE.com.`` is ``example.com``,
    ``127.1`` is ``127.0.0.1``); an invalid entry is a :class:`ValueError`, raised when a
    policy is loaded. Domain matching is on label boundaries and only for DNS hosts:
    ``example.com`` matches ``example.com`` and ``api.example.com``, never
    ``evilexample.com``.
    """
    if isinstance(hosts, str) or isinstance(domains, str):
        raise ValueError("hosts and domains must be collections of names, not a single string")
    exact = _canonical_set(tuple(hosts), False)
    suffixes = _canonical_set(tuple(domains), True)
    if url.host in exact:
        return True
    if url.host_kind != "dns":
        return False
    # Walk the host's own suffixes on label boundaries: cost is per label, not per domain.
    candidate = url.host
    while True:
        if candidate in suffixes:
            return True
        _, dot, candidate = candidate.partition(".")
        if not dot:
            return False


def is_forbidden_destination(url: CanonicalURL) -> AddressClass | None:
    """The class of a non-public destination, or ``None`` when the URL looks public.

    Literal addresses are classified with :func:`classify_address`; DNS names are
    forbidden when :func:`is_local_hostname` says so. A public-looking DNS name may still
    resolve to a private address: adapters resolve at the edge and check again.
    """
    if url.ip is not None:
        cls = classify_address(url.ip)
        return None if cls is AddressClass.PUBLIC else cls
    return _hostname_class(url.host)
