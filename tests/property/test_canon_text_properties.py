"""Property tests for text and e-mail canonicalisation."""

from __future__ import annotations

import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.core.canon.email import parse_email
from ztgate.core.canon.text import (
    canonical_string,
    decode_tag_characters,
    find_invisible,
    has_invisible,
    strip_invisible,
)
from ztgate.errors import CanonicalizationError

# Text that mixes plain characters with the invisible ones attackers use.
HIDDEN = "\u200b\u200c\u200d\u2060\ufeff\u202e\u2066\u00ad\ufe0f\U000e0041\x00\x1b\u3164"
mixed_text = st.text(alphabet=st.sampled_from(list("abc \t\n.") + list(HIDDEN)), max_size=40)


@given(st.text(max_size=200))
def test_canonical_string_only_raises_canonicalization_error_and_is_idempotent(
    raw: str,
) -> None:
    try:
        first = canonical_string(raw)
    except CanonicalizationError:
        return
    assert canonical_string(first) == first
    assert not has_invisible(first)


@given(st.one_of(st.text(max_size=100), mixed_text))
def test_strip_removes_exactly_what_find_reports(raw: str) -> None:
    found = find_invisible(raw)
    stripped = strip_invisible(raw)
    assert not has_invisible(stripped)
    assert len(stripped) == len(raw) - len(found)
    assert (stripped == raw) is (not found)
    positions = {f.index for f in found}
    assert stripped == "".join(ch for i, ch in enumerate(raw) if i not in positions)


@given(mixed_text)
def test_text_with_hidden_characters_never_canonicalises(raw: str) -> None:
    if has_invisible(raw):
        with pytest.raises(CanonicalizationError) as info:
            canonical_string(raw)
        assert info.value.reason == "invisible_char"


@given(st.text(alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
def test_tag_characters_round_trip(hidden: str) -> None:
    smuggled = "visible" + "".join(chr(0xE0000 + ord(c)) for c in hidden)
    assert decode_tag_characters(smuggled) == hidden
    assert strip_invisible(smuggled) == "visible"


@given(st.text(max_size=120))
def test_parse_email_only_raises_canonicalization_error_and_is_idempotent(raw: str) -> None:
    try:
        address = parse_email(raw)
    except CanonicalizationError:
        return
    assert parse_email(str(address)) == address


@given(
    st.from_regex(r"[a-z0-9!#$%&'*+/=?^_`{|}~-]{1,10}(\.[a-z0-9_-]{1,5}){0,2}", fullmatch=True),
    st.from_regex(r"[a-z][a-z0-9]{0,8}(\.[a-z][a-z0-9]{0,8}){1,3}", fullmatch=True),
)
def test_plain_addresses_parse_to_themselves(local: str, domain: str) -> None:
    address = parse_email(f"{local}@{domain}")
    assert (address.local, address.domain) == (local, domain)


def _reference_kind(ch: str) -> str | None:
    """The invisible-character rules, restated independently of the implementation."""
    cp = ord(ch)
    if (cp < 0x20 and ch not in "\t\n\r") or 0x7F <= cp <= 0x9F:
        return "control"
    if 0xE0000 <= cp <= 0xE007F:
        return "tag"
    if 0xFE00 <= cp <= 0xFE0F or 0xE0100 <= cp <= 0xE01EF or cp in (0x180B, 0x180C, 0x180D, 0x180F):
        return "variation_selector"
    if cp in (0x061C, 0x200E, 0x200F) or 0x202A <= cp <= 0x202E or 0x2066 <= cp <= 0x2069:
        return "bidi"
    if cp in (0x200B, 0x200C, 0x200D, 0x2060, 0xFEFF, 0x180E, 0x034F, 0x115F, 0x1160, 0x17B4):
        return "zero_width"
    if cp in (0x17B5, 0x3164, 0xFFA0):
        return "zero_width"
    if cp == 0x2065 or 0xFFF0 <= cp <= 0xFFF8 or 0xE0080 <= cp <= 0xE0FFF:
        return "format"  # reserved default-ignorable
    if unicodedata.category(ch) == "Cf":
        return "format"
    return None


# ASCII, sparse and dense non-ASCII (to exercise both scanning strategies) and hidden text.
SCAN_ALPHABET = st.sampled_from(
    [
        *"abc \n\t.",
        *"\u00e9\u00fc\u00df",
        *"\u4e2d\u6587\u5b57",
        *HIDDEN,
        "\u0600",
        "\U0001d173",
        "\u2065",
        "\U000e0080",
    ]
)


@settings(max_examples=300)
@given(st.one_of(st.text(SCAN_ALPHABET, max_size=600), st.text(max_size=300)))
def test_find_invisible_matches_an_independent_reference(raw: str) -> None:
    expected = [(i, ord(ch), k) for i, ch in enumerate(raw) if (k := _reference_kind(ch))]
    found = [(f.index, f.codepoint, f.kind) for f in find_invisible(raw)]
    assert found == expected
    assert has_invisible(raw) is bool(expected)


# Characters NFKC lengthens (up to eighteen-fold), shortens, or composes with neighbours.
EXPANDING = st.sampled_from(
    [
        *"a\u00e9e\u0301\u0327\ufdfa\ufb01\u3300\u2474\u1100\u1161\u11a8\uac00",
        *"\u00bd\u0dd9\u0dcf\u2026\u2025\u33ff\u0344\u1e9b\u0f73\u1fee\u0385",
    ]
)


# The first call builds the weight table once; no per-example deadline.
@settings(max_examples=400, deadline=None)
@given(st.text(EXPANDING, max_size=40), st.integers(1, 120))
def test_length_limit_after_folding_is_exact(raw: str, max_length: int) -> None:
    expected = unicodedata.normalize("NFKC", raw)
    if len(raw) > max_length or len(expected) > max_length:
        with pytest.raises(CanonicalizationError) as info:
            canonical_string(raw, max_length=max_length)
        assert info.value.reason == "too_long"
    else:
        assert canonical_string(raw, max_length=max_length) == expected
