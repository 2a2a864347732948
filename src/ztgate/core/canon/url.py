"""Strict URL parsing and destination classification for SSRF-safe policy checks.

"May this agent fetch that URL?" is decided on the host the request will actually reach.
Parsers disagree about URLs (``http://a.com\\@b.com``, ``http://a@b@c``, ``http://0x7f.1``),
and every disagreement between the policy's parser and the client's is a bypass. So this
parser reads hosts the WHATWG way (what browsers and modern clients do) and *refuses* every
input on which common parsers disagree: backslashes or several ``@`` in the authority,
whitespace, controls and invisible characters anywhere, zone identifiers, malformed ports.

:func:`is_forbidden_destination` classifies the result. It sees literal addresses in every
spelling, IPv4 embedded in IPv6 (mapped, compatible, NAT64, 6to4, Teredo) and well-known
local and cloud-metadata host names, and reads the address that address-echo names
spell (``127.0.0.1.nip.io``). It cannot see what any other DNS name resolves to: a public
name pointing at ``127.0.0.1`` (DNS rebinding) is only caught by an adapter that resolves
the name at the edge and checks the resolved address with :func:`classify_address`
before connecting; adapters that fetch URLs must do so.
"""

from __future__ import annotations

import functools
import ipaddress
import re
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ztgate.core.canon._address import (
    METADATA_ADDRESSES,
    AddressClass,
    IPAddress,
    classify_address,
)
from ztgate.core.canon._common import fail, type_error
from ztgate.core.canon._host import Host, HostKind, parse_host, parse_ipv6_literal
from ztgate.core.canon.text import has_invisible
from ztgate.errors import CanonicalizationError

__all__ = [
    "DEFAULT_PORTS",
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "AddressClass",
    "CanonicalURL",
    "HostPatterns",
    "canonical_domain",
    "canonical_host",
    "classify_address",
    "host_matches",
    "is_forbidden_destination",
    "is_local_hostname",
    "parse_url",
]

# Inputs up to this length have their parse memoised (bounded memory, immutable results).
_MEMO_MAX_INPUT: Final = 1024

#: Ports implied by the schemes that have one.
DEFAULT_PORTS: Final[Mapping[str, int]] = MappingProxyType(
    {"http": 80, "https": 443, "ftp": 21, "ws": 80, "wss": 443}
)

_SCHEME_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*")
# scheme :// authority path ? query # fragment, split on the first delimiters as WHATWG does
# for special schemes (backslashes in the authority are refused separately).
_URL_RE: Final = re.compile(
    r"([A-Za-z][A-Za-z0-9+.-]*)://([^/?#]*)([^?#]*)(?:\?([^#]*))?(?:#(.*))?", re.DOTALL
)
_PORT_RE: Final = re.compile(r"[0-9]{1,5}")
_WHITESPACE_RE: Final = re.compile(r"\s")
_LAYOUT_RE: Final = re.compile(r"[\t\n\r]")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_BAD_ESCAPE_RE: Final = re.compile(r"%(?![0-9A-Fa-f]{2})")
_USERINFO_RE: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:%]*")

_UNRESERVED: Final = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
_PATH_SAFE_RE: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/]*")
_QUERY_SAFE_RE: Final = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,;=:@/?]*")
# An escape, or a run of characters that must be escaped (everything not safe and not %).
_PATH_TOKEN_RE: Final = re.compile(r"(%[0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/%]+")
_QUERY_TOKEN_RE: Final = re.compile(r"(%[0-9A-Fa-f]{2})|[^A-Za-z0-9\-._~!$&'()*+,;=:@/?%]+")


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


def _normalise_escape(match: re.Match[str]) -> str:
    """One token of a path or query: an escape to normalise or a run to escape."""
    escape = match.group(1)
    if escape is not None:
        decoded = chr(int(escape[1:], 16))
        return decoded if decoded in _UNRESERVED else escape.upper()
    return "%" + match.group().encode("utf-8").hex("%").upper()


def _normalise_component(text: str, query: bool, raw: str, what: str) -> str:
    """Uppercase escapes, decode escaped unreserved characters, escape everything unsafe."""
    if _BAD_ESCAPE_RE.search(text) is not None:
        raise fail("url", raw, f"has a malformed percent-escape in its {what}", reason="bad_escape")
    if (_QUERY_SAFE_RE if query else _PATH_SAFE_RE).fullmatch(text) is not None:
        return text
    return (_QUERY_TOKEN_RE if query else _PATH_TOKEN_RE).sub(_normalise_escape, text)


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 section 5.2.4 on an absolute path (``%2e`` is already decoded)."""
    if "/." not in path:
        return path
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
    if raw.isascii() and raw.isprintable() and " " not in raw:
        return  # no control, invisible, surrogate or whitespace character can be present
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
    Results for short inputs are memoised (the result is immutable; errors are not kept).
    """
    if not isinstance(raw, str):
        raise type_error("url", raw)
    if len(raw) <= _MEMO_MAX_INPUT and len(raw) <= max_length:
        return _parse_url_memo(raw)
    return _parse_url(raw, max_length)


@functools.lru_cache(maxsize=4096)
def _parse_url_memo(raw: str) -> CanonicalURL:
    return _parse_url(raw, _MEMO_MAX_INPUT)


def _parse_url(raw: str, max_length: int) -> CanonicalURL:
    _check_text(raw, max_length)
    parts = _URL_RE.fullmatch(raw)
    if parts is None:
        scheme = raw.partition(":")[0]
        if ":" not in raw or _SCHEME_RE.fullmatch(scheme) is None:
            raise fail("url", raw, "has no scheme", reason="missing_scheme")
        raise fail("url", raw, "has no `//` authority", reason="missing_host")
    scheme, authority, path, query, fragment = parts.groups()
    scheme = scheme.lower()
    has_userinfo, host_text, port_text = _split_authority(authority, raw)
    host = _host(host_text, raw)
    port = _parse_port(port_text, raw)
    if "\\" in path:
        if scheme not in DEFAULT_PORTS:
            raise fail("url", raw, "has a backslash in its path", reason="backslash")
        path = path.replace("\\", "/")
    path = _remove_dot_segments(_normalise_component(path or "/", False, raw, "path"))
    query = "" if query is None else _normalise_component(query, True, raw, "query")
    if fragment and _BAD_ESCAPE_RE.search(fragment) is not None:
        raise fail(
            "url", raw, "has a malformed percent-escape in its fragment", reason="bad_escape"
        )
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


#: Public DNS services that answer with the address spelled in the name itself
#: (``10.0.0.1.nip.io``, ``app-10-0-0-1.sslip.io``, ``0a000001.nip.io``, ``--1.sslip.io``):
#: a well-known way to reach an internal address through a name that looks public.
ADDRESS_ECHO_DOMAINS: Final[tuple[str, ...]] = ("nip.io", "sslip.io", "xip.io", "traefik.me")
#: Public DNS names under which every name resolves to the loopback address.
LOOPBACK_DOMAINS: Final[tuple[str, ...]] = ("localtest.me", "lvh.me", "vcap.me")
_OCTET_RE: Final = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_ECHOED_V4_RE: Final = re.compile(rf"(?:^|[.-])({_OCTET_RE}(?:[.-]{_OCTET_RE}){{3}})$")
_ECHOED_HEX_RE: Final = re.compile(r"(?:^|[.-])([0-9a-f]{8})$")


def _under(host: str, domain: str) -> bool:
    return host == domain or host.endswith("." + domain)


def _echoed_class(name: str) -> AddressClass:
    """Where ``name`` (the labels before an address-echo domain) points.

    The address is read as the service reads it: dotted or dashed IPv4, eight hex digits,
    or an IPv6 address with ``-`` for ``:`` as the last label. A name that spells no
    address ztgate can read counts as private: the service exists to echo addresses, and
    one it answers that cannot be read is not trusted as public.
    """
    v4 = _ECHOED_V4_RE.search(name)
    if v4 is not None:
        return classify_address(ipaddress.IPv4Address(v4.group(1).replace("-", ".")))
    packed = _ECHOED_HEX_RE.search(name)
    if packed is not None:
        return classify_address(ipaddress.IPv4Address(int(packed.group(1), 16)))
    label = name.rsplit(".", 1)[-1]
    if "--" in label:
        try:
            return classify_address(ipaddress.IPv6Address(label.replace("-", ":")))
        except ValueError:
            pass
    return AddressClass.PRIVATE


def _hostname_class(host: str) -> AddressClass | None:
    host = host.lower().removesuffix(".")
    if host in METADATA_HOSTNAMES:
        return AddressClass.METADATA
    if host == _LOOPBACK_SUFFIX or host.endswith("." + _LOOPBACK_SUFFIX):
        return AddressClass.LOOPBACK
    if any(_under(host, domain) for domain in LOOPBACK_DOMAINS):
        return AddressClass.LOOPBACK
    for domain in ADDRESS_ECHO_DOMAINS:
        if host.endswith("." + domain):
            echoed = _echoed_class(host[: -len(domain) - 1])
            return None if echoed is AddressClass.PUBLIC else echoed
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
    single-label name (resolved via local search domains), :data:`METADATA_HOSTNAMES`,
    the public names that resolve to loopback (:data:`LOOPBACK_DOMAINS`) and names under
    :data:`ADDRESS_ECHO_DOMAINS` that spell a non-public address (or none readable).
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


def canonical_domain(raw: str) -> str:
    """The canonical form of a DNS domain as a policy writes it (``B\u00fccher.DE.``).

    For the ``domains`` of :func:`host_matches` and for e-mail domain lists: validate and
    canonicalise every entry with this at policy load, so ``b\u00fccher.de`` matches the
    punycode a parsed address carries. Raises :class:`~ztgate.errors.CanonicalizationError`
    when ``raw`` is not a valid host or is an IP address.
    """
    host = _bare_host(raw)
    if host.kind != "dns":
        raise fail("domain", raw, "is an IP address, not a domain", reason="not_a_domain")
    return host.text


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


@dataclass(frozen=True, slots=True)
class HostPatterns:
    """Canonical exact hosts and domains, compiled once (at policy load) and matched often.

    :func:`host_matches` compiles on every call (memoised, but it still hashes the lists);
    a policy with long host lists should hold a ``HostPatterns`` instead.
    """

    hosts: frozenset[str]
    domains: frozenset[str]

    @classmethod
    def compile(cls, *, hosts: Collection[str] = (), domains: Collection[str] = ()) -> HostPatterns:
        """Canonicalise ``hosts`` and ``domains``; an invalid entry is a :class:`ValueError`."""
        if isinstance(hosts, str) or isinstance(domains, str):
            raise ValueError("hosts and domains must be collections of names, not a single string")
        return cls(_canonical_set(tuple(hosts), False), _canonical_set(tuple(domains), True))

    def matches(self, url: CanonicalURL) -> bool:
        """Whether the URL's host is an exact host or inside a domain (label boundaries)."""
        if url.host in self.hosts:
            return True
        if url.host_kind != "dns" or not self.domains:
            return False
        # Walk the host's own suffixes on label boundaries: cost is per label, not per domain.
        candidate = url.host
        while True:
            if candidate in self.domains:
                return True
            _, dot, candidate = candidate.partition(".")
            if not dot:
                return False


def host_matches(
    url: CanonicalURL, *, hosts: Collection[str] = (), domains: Collection[str] = ()
) -> bool:
    """Whether the URL's host is one of ``hosts`` or inside one of ``domains``.

    Entries are canonicalised like URL hosts (``EXAMPLE.com.`` is ``example.com``,
    ``127.1`` is ``127.0.0.1``); an invalid entry, or an IP address among ``domains``, is a
    :class:`ValueError`, meant to surface when a policy is loaded. Domain matching is on
    label boundaries and only for DNS hosts: ``example.com`` matches ``example.com`` and
    ``api.example.com``, never ``evilexample.com``. See :class:`HostPatterns` to compile
    the lists once.
    """
    return HostPatterns.compile(hosts=hosts, domains=domains).matches(url)


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
