"""Known-answer and behaviour tests for ztgate.core.canon.url."""

from __future__ import annotations

import ipaddress
import json
from pathlib import Path
from typing import Any

import pytest

from ztgate.core.canon.url import (
    METADATA_ADDRESSES,
    METADATA_HOSTNAMES,
    AddressClass,
    CanonicalURL,
    HostPatterns,
    canonical_domain,
    canonical_host,
    classify_address,
    host_matches,
    is_forbidden_destination,
    is_local_hostname,
    parse_url,
)
from ztgate.errors import CanonicalizationError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "vectors" / "canon" / "urls.json").read_text("utf-8")
)
PARSE = VECTORS["parse_url"]


def _field(url: CanonicalURL, name: str) -> Any:
    if name == "url":
        return str(url)
    if name == "forbidden":
        found = is_forbidden_destination(url)
        return None if found is None else str(found)
    return getattr(url, name)


@pytest.mark.parametrize("case", PARSE, ids=[ascii(c["input"])[:60] for c in PARSE])
def test_parse_url_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(CanonicalizationError) as info:
            parse_url(case["input"])
        assert info.value.reason == case["error"]
        return
    url = parse_url(case["input"])
    for name, expected in case["expected"].items():
        if name == "note":
            continue
        assert _field(url, name) == expected, name
    # The canonical form parses back to the same destination.
    again = parse_url(str(url))
    assert str(again) == str(url)
    assert (again.host, again.ip, again.effective_port) == (url.host, url.ip, url.effective_port)


@pytest.mark.parametrize(
    "case", VECTORS["classify_address"], ids=[c[0] for c in VECTORS["classify_address"]]
)
def test_classify_address_vectors(case: list[str]) -> None:
    ip = ipaddress.ip_address(case[0])
    assert classify_address(ip) == AddressClass(case[1])


@pytest.mark.parametrize(
    ("host", "expected"),
    VECTORS["is_local_hostname"],
    ids=[c[0] for c in VECTORS["is_local_hostname"]],
)
def test_is_local_hostname_vectors(host: str, expected: bool) -> None:
    assert is_local_hostname(host) is expected


@pytest.mark.parametrize(
    "case", VECTORS["host_matches"], ids=[c["url"] for c in VECTORS["host_matches"]]
)
def test_host_matches_vectors(case: dict[str, Any]) -> None:
    url = parse_url(case["url"])
    hosts = case.get("hosts", ())
    domains = case.get("domains", ())
    if case.get("invalid_domain"):
        with pytest.raises(ValueError, match="is an IP address"):
            host_matches(url, hosts=hosts, domains=domains)
        return
    assert host_matches(url, hosts=hosts, domains=domains) is case["expected"]


@pytest.mark.parametrize("pattern", VECTORS["invalid_host_patterns"])
def test_invalid_host_patterns_are_value_errors(pattern: str) -> None:
    url = parse_url("https://example.com/")
    with pytest.raises(ValueError, match="invalid host pattern"):
        host_matches(url, hosts=[pattern])
    with pytest.raises(ValueError, match="invalid host pattern"):
        host_matches(url, domains=[pattern])


@pytest.mark.parametrize(
    "case", VECTORS["host_matches"], ids=[c["url"] for c in VECTORS["host_matches"]]
)
def test_compiled_patterns_agree_with_host_matches(case: dict[str, Any]) -> None:
    if case.get("invalid_domain"):
        with pytest.raises(ValueError, match="is an IP address"):
            HostPatterns.compile(domains=case["domains"])
        return
    patterns = HostPatterns.compile(hosts=case.get("hosts", ()), domains=case.get("domains", ()))
    assert patterns.matches(parse_url(case["url"])) is case["expected"]


def test_single_string_patterns_are_refused() -> None:
    url = parse_url("https://example.com/")
    with pytest.raises(ValueError, match="not a single string"):
        host_matches(url, hosts="example.com")
    with pytest.raises(ValueError, match="not a single string"):
        host_matches(url, domains="example.com")


def test_every_metadata_address_and_name_is_forbidden() -> None:
    for address in METADATA_ADDRESSES:
        literal = f"[{address}]" if address.version == 6 else str(address)
        assert is_forbidden_destination(parse_url(f"http://{literal}/")) is AddressClass.METADATA
    for name in METADATA_HOSTNAMES:
        assert is_forbidden_destination(parse_url(f"http://{name}/")) is AddressClass.METADATA


def test_metadata_embedded_in_every_ipv6_form_is_metadata() -> None:
    for address in METADATA_ADDRESSES:
        if address.version != 4:
            continue
        value = int(address)
        forms = [
            (0xFFFF << 32) | value,  # mapped
            value,  # compatible
            (0x0064FF9B << 96) | value,  # NAT64
            (0x2002 << 112) | (value << 80),  # 6to4
            (0x20010000 << 96) | (0xFFFFFFFF ^ value),  # Teredo client
        ]
        for form in forms:
            assert classify_address(ipaddress.IPv6Address(form)) is AddressClass.METADATA


def test_canonical_host_forms() -> None:
    assert canonical_host("EXAMPLE.com.") == "example.com"
    assert canonical_host("[::FFFF:127.0.0.1]") == "::ffff:7f00:1"
    assert canonical_host("0:0::1") == "::1"
    assert canonical_host("0x7f.1") == "127.0.0.1"
    with pytest.raises(CanonicalizationError):
        canonical_host("exa mple.com")
    with pytest.raises(CanonicalizationError):
        canonical_host(None)  # type: ignore[arg-type]


def test_canonical_domain_forms() -> None:
    assert canonical_domain("B\u00fccher.DE.") == "xn--bcher-kva.de"
    assert canonical_domain("example.com") == "example.com"
    for address in ("127.0.0.1", "0x7f.1", "[::1]", "::1"):
        with pytest.raises(CanonicalizationError) as info:
            canonical_domain(address)
        assert info.value.reason == "not_a_domain"
    with pytest.raises(CanonicalizationError) as info:
        canonical_domain("*.example.com")
    assert info.value.reason == "bad_host"


def test_classify_address_rejects_non_addresses() -> None:
    with pytest.raises(TypeError):
        classify_address("127.0.0.1")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", [None, 3, b"http://example.com/"])
def test_non_string_urls_are_errors(value: object) -> None:
    with pytest.raises(CanonicalizationError) as info:
        parse_url(value)  # type: ignore[arg-type]
    assert info.value.reason == "not_a_string"


def test_max_length_is_configurable() -> None:
    assert parse_url("http://a.example/", max_length=17).host == "a.example"
    with pytest.raises(CanonicalizationError) as info:
        parse_url("http://a.example/", max_length=16)
    assert info.value.reason == "too_long"


def test_canonical_url_is_frozen() -> None:
    url = parse_url("https://example.com/")
    with pytest.raises(AttributeError):
        url.host = "evil.com"  # type: ignore[misc]


def test_error_message_quotes_input_briefly() -> None:
    with pytest.raises(CanonicalizationError) as info:
        parse_url("http://evil.com\\@good.com/" + "a" * 400)
    message = str(info.value)
    assert message.startswith("url `http://evil.com\\@good.com/")
    assert message.endswith("has a backslash before its path")
    assert len(message) < 160
