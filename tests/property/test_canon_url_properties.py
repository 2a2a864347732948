"""Property tests for URL canonicalisation: every spelling of a private address is caught."""

from __future__ import annotations

import dataclasses
import ipaddress
from urllib.parse import urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.core.canon.url import (
    AddressClass,
    CanonicalURL,
    is_forbidden_destination,
    parse_url,
)
from ztgate.errors import CanonicalizationError

NON_PUBLIC_V4 = [
    ipaddress.IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@st.composite
def non_public_v4(draw: st.DrawFn) -> int:
    network = draw(st.sampled_from(NON_PUBLIC_V4))
    offset = draw(st.integers(0, network.num_addresses - 1))
    return int(network.network_address) + offset


def _number(draw: st.DrawFn, value: int) -> str:
    style = draw(st.sampled_from(["dec", "oct", "hex", "HEX"]))
    if style == "dec":
        return str(value)
    if style == "oct":
        return "0" + format(value, "o")
    return ("0x" if style == "hex" else "0X") + format(value, "x" if style == "hex" else "X")


@st.composite
def ipv4_spelling(draw: st.DrawFn, value: int) -> str:
    """One of the many host spellings WHATWG clients read as the IPv4 address ``value``."""
    octets = list(value.to_bytes(4, "big"))
    parts = draw(st.sampled_from([1, 2, 3, 4]))
    if parts == 1:
        numbers = [value]
    elif parts == 2:
        numbers = [octets[0], value & 0xFFFFFF]
    elif parts == 3:
        numbers = [octets[0], octets[1], value & 0xFFFF]
    else:
        numbers = octets
    host = ".".join(_number(draw, n) for n in numbers)
    if draw(st.booleans()):
        host += "."
    wrap = draw(st.sampled_from(["plain", "percent", "fullwidth", "upper"]))
    if wrap == "percent":
        host = "".join(f"%{ord(c):02x}" if draw(st.booleans()) else c for c in host)
    elif wrap == "fullwidth":
        host = "".join(chr(ord(c) + 0xFEE0) if c.isalnum() or c == "." else c for c in host)
    elif wrap == "upper":
        host = host.upper()
    return host


@st.composite
def private_url(draw: st.DrawFn) -> tuple[int, str]:
    value = draw(non_public_v4())
    address = ipaddress.IPv4Address(value)
    form = draw(st.sampled_from(["v4", "mapped", "mapped-hex", "nat64", "sixtofour", "translated"]))
    if form == "v4":
        host = draw(ipv4_spelling(value))
    elif form == "mapped":
        host = f"[::ffff:{address}]"
    elif form == "mapped-hex":
        host = f"[::ffff:{value >> 16:x}:{value & 0xFFFF:x}]"
    elif form == "nat64":
        host = f"[64:ff9b::{address}]"
    elif form == "translated":
        host = f"[::ffff:0:{address}]"
    else:
        host = f"[2002:{value >> 16:x}:{value & 0xFFFF:x}::1]"
    userinfo = draw(st.sampled_from(["", "user@", "good.com@", "a:b@"]))
    port = draw(st.sampled_from(["", ":80", ":8080", ":443"]))
    scheme = draw(st.sampled_from(["http", "https", "HTTP", "ws"]))
    return value, f"{scheme}://{userinfo}{host}{port}/path?q=1"


@settings(max_examples=500)
@given(private_url())
def test_every_spelling_of_a_private_address_is_forbidden(case: tuple[int, str]) -> None:
    value, raw = case
    url = parse_url(raw)
    forbidden = is_forbidden_destination(url)
    assert forbidden is not None, raw
    _assert_fixed_point(url)
    assert forbidden is not AddressClass.PUBLIC
    if url.host_kind == "ipv4":
        assert url.ip == ipaddress.IPv4Address(value)


@given(st.text(max_size=200))
def test_arbitrary_text_only_raises_canonicalization_error(raw: str) -> None:
    try:
        url = parse_url(raw)
    except CanonicalizationError:
        return
    _assert_fixed_point(url)


def _assert_fixed_point(url: CanonicalURL) -> None:
    """The canonical form parses back to itself (userinfo is dropped from the text form)."""
    again = parse_url(str(url))
    assert str(again) == str(url)
    assert dataclasses.replace(again, has_userinfo=url.has_userinfo) == url
    assert is_forbidden_destination(again) == is_forbidden_destination(url)


URL_SOUP = st.text(alphabet="hts:/\\@[]%.:0123456789abcfx?#;-_\uff0e\uff20\u3002", max_size=50)


@given(st.sampled_from(["http://", "https://", "ftp://", "x://"]), URL_SOUP)
def test_url_shaped_soup_only_raises_canonicalization_error(prefix: str, soup: str) -> None:
    try:
        url = parse_url(prefix + soup)
    except CanonicalizationError:
        return
    _assert_fixed_point(url)


label = st.from_regex(r"[a-z][a-z0-9-]{0,10}[a-z0-9]", fullmatch=True)


@st.composite
def plain_url(draw: st.DrawFn) -> str:
    host = ".".join(draw(st.lists(label, min_size=2, max_size=4)))
    userinfo = draw(st.sampled_from(["", "user@", "user:pw@"]))
    port = draw(st.sampled_from(["", ":8080", ":1", ":65535"]))
    path = draw(st.from_regex(r"(/[A-Za-z0-9._~-]{0,8}){0,4}", fullmatch=True))
    return f"https://{userinfo}{host.upper() if draw(st.booleans()) else host}{port}{path}"


@given(plain_url())
def test_agrees_with_the_standard_library_on_unambiguous_urls(raw: str) -> None:
    ours = parse_url(raw)
    theirs = urlsplit(raw)
    assert ours.host == theirs.hostname
    assert ours.port == theirs.port
    assert ours.has_userinfo is (theirs.username is not None)


@settings(max_examples=300)
@given(
    st.integers(0, 2**32 - 1),
    st.sampled_from(["nip.io", "sslip.io", "xip.io", "traefik.me"]),
    st.sampled_from(["dotted", "dashed", "hex"]),
    st.sampled_from(["", "app.", "app-", "a.b."]),
)
def test_an_address_echo_name_is_judged_like_the_address_it_spells(
    value: int, domain: str, spelling: str, prefix: str
) -> None:
    """``10.0.0.1.nip.io`` resolves to 10.0.0.1, in every spelling the services accept, so
    it must be forbidden exactly when the literal address is."""
    ip = ipaddress.IPv4Address(value)
    spelled = {
        "dotted": str(ip),
        "dashed": str(ip).replace(".", "-"),
        "hex": f"{value:08x}",
    }[spelling]
    echoed = is_forbidden_destination(parse_url(f"http://{prefix}{spelled}.{domain}/"))
    assert echoed == is_forbidden_destination(parse_url(f"http://{ip}/"))
