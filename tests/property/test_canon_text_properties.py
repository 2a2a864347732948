"""Property tests for text and e-mail canonicalisation."""

from __future__ import annotations

import pytest
from hypothesis import given
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
