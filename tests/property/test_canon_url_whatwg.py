"""Differential tests: wherever parse_url accepts a URL, a WHATWG parser agrees on where it goes.

The reference is ada (``ada-url``), a WHATWG URL Standard implementation used by Node.js.
ztgate may refuse more than a browser does; it must never accept a URL and read a different
host, port or path than a browser would, because that difference is an SSRF bypass.
"""

from __future__ import annotations

from urllib.parse import unquote

import ada_url
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.core.canon.url import DEFAULT_PORTS, CanonicalURL, parse_url
from ztgate.errors import CanonicalizationError

HOST_PIECES = [
    *"abcxyzABCXYZ0123456789-_.+",
    "0x",
    "0X",
    "07",
    "255",
    "256",
    "4294967295",
    "%2e",
    "%41",
    "%31",
    "%c3%bc",
    "%",
    "\uff41",
    "\uff10",
    "\uff0e",
    "\u3002",
    "\uff61",
    "\u00fc",
    "\u00df",
    "\u03c2",
    "\u0130",
    "\u2460",
    "\u2488",
    "\u33a1",
    "\ufe12",
    "\ufe52",
    "\u3002\u3002",
    "xn--",
    "xn--bcher-kva",
    "@",
    ":",
    "[",
    "]",
    "::1",
    "::ffff:",
    "1.2.3.4",
]
TAIL_PIECES = [*"/?#ab.%", "%2e", "%2E", "..", "\\", "%2f", "\u00e4", ";", "~", "%7e", "'", "|"]


@st.composite
def whatwg_candidates(draw: st.DrawFn) -> str:
    scheme = draw(st.sampled_from(["http", "https", "ws", "wss", "ftp", "HTTP"]))
    if draw(st.integers(0, 4)) == 0:
        address = draw(st.ip_addresses(v=6))
        text = draw(st.sampled_from([address.compressed, address.exploded]))
        if address.ipv4_mapped is not None and draw(st.booleans()):
            text = f"::ffff:{address.ipv4_mapped}"
        host = f"[{text.upper() if draw(st.booleans()) else text}]"
    else:
        host = "".join(draw(st.lists(st.sampled_from(HOST_PIECES), min_size=1, max_size=8)))
    port = draw(st.sampled_from(["", ":80", ":443", ":0080", ":8080", ":65535"]))
    tail = "".join(draw(st.lists(st.sampled_from(TAIL_PIECES), max_size=10)))
    return f"{scheme}://{host}{port}/{tail}"


def _whatwg_view(raw: str) -> tuple[str, int, str]:
    reference = ada_url.URL(raw)
    scheme = reference.protocol.rstrip(":")
    port = int(reference.port) if reference.port else DEFAULT_PORTS[scheme]
    # ztgate drops the trailing dot of a fully qualified name; it names the same host.
    return reference.hostname.removesuffix("."), port, unquote(reference.pathname)


def _our_view(url: CanonicalURL) -> tuple[str, int | None, str]:
    host = f"[{url.host}]" if url.host_kind == "ipv6" else url.host
    return host, url.effective_port, unquote(url.path)


@settings(max_examples=600)
@given(whatwg_candidates())
def test_accepted_urls_go_where_a_browser_would_go(raw: str) -> None:
    try:
        ours = parse_url(raw)
    except CanonicalizationError:
        return
    try:
        theirs = _whatwg_view(raw)
    except ValueError:
        pytest.fail(f"accepted {raw!r}, which a WHATWG parser rejects")
    assert _our_view(ours) == theirs, raw


NUMERIC_HOST = st.text(alphabet="0123456789abcdefxX.+-_", min_size=1, max_size=20)


@settings(max_examples=300)
@given(NUMERIC_HOST)
def test_numeric_hosts_read_like_a_browser(host: str) -> None:
    raw = f"http://{host}/"
    try:
        ours = parse_url(raw)
    except CanonicalizationError:
        return
    assert _our_view(ours) == _whatwg_view(raw), raw


@pytest.mark.parametrize(
    "raw",
    [
        "http://0x7f.1/",
        "http://2130706433/",
        "http://0177.0.0.1/",
        "http://%31%32%37.0.0.1/",
        "http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11/",
        "http://good.com@evil.com/",
        "http://B\u00fccher.de:0080/a/%2e%2e/b",
        "http://stra\u00dfe.de/",
        "http://[::ffff:127.0.0.1]/",
        "https://example.com/a\\b/../c",
    ],
)
def test_known_tricky_urls_agree(raw: str) -> None:
    assert _our_view(parse_url(raw)) == _whatwg_view(raw)
