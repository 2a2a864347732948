"""Known-answer and behaviour tests for ztgate.core.canon.text."""

from __future__ import annotations

import json
import re
import unicodedata
from pathlib import Path
from typing import Any

import pytest

from ztgate.core.canon import text as canon_text
from ztgate.core.canon.text import (
    INVISIBLE_CATEGORIES,
    InvisibleChar,
    canonical_string,
    decode_tag_characters,
    find_invisible,
    has_invisible,
    normalize,
    strip_invisible,
)
from ztgate.errors import CanonicalizationError, ZtgateError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "vectors" / "canon" / "text.json").read_text("utf-8")
)


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [ascii(c["input"])[:40] for c in cases]


@pytest.mark.parametrize("case", VECTORS["canonical_string"], ids=_ids(VECTORS["canonical_string"]))
def test_canonical_string_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(CanonicalizationError) as info:
            canonical_string(case["input"])
        assert info.value.reason == case["error"]
    else:
        assert canonical_string(case["input"]) == case["expected"]


@pytest.mark.parametrize("case", VECTORS["find_invisible"], ids=_ids(VECTORS["find_invisible"]))
def test_find_invisible_vectors(case: dict[str, Any]) -> None:
    expected = [InvisibleChar(index, cp, kind) for index, cp, kind in case["expected"]]
    assert find_invisible(case["input"]) == expected
    assert has_invisible(case["input"]) is bool(expected)


@pytest.mark.parametrize("case", VECTORS["strip_invisible"], ids=_ids(VECTORS["strip_invisible"]))
def test_strip_invisible_vectors(case: dict[str, Any]) -> None:
    assert strip_invisible(case["input"]) == case["expected"]


@pytest.mark.parametrize(
    "case", VECTORS["decode_tag_characters"], ids=_ids(VECTORS["decode_tag_characters"])
)
def test_decode_tag_characters_vectors(case: dict[str, Any]) -> None:
    assert decode_tag_characters(case["input"]) == case["expected"]


def test_every_reported_kind_is_a_declared_category() -> None:
    sample = "".join(chr(cp) for cp in range(0x3000)) + "\U000e0041\U000e0100"
    kinds = {found.kind for found in find_invisible(sample)}
    assert kinds == set(INVISIBLE_CATEGORIES)


def test_every_format_character_is_invisible() -> None:
    # Every Cf code point Unicode knows must be caught, whatever block it lives in.
    for cp in range(0x110000):
        ch = chr(cp)
        if unicodedata.category(ch) == "Cf":
            assert has_invisible(ch), f"U+{cp:04X}"


def test_controls_other_than_layout_are_invisible() -> None:
    for cp in [*range(0x20), *range(0x7F, 0xA0)]:
        expected = chr(cp) not in "\t\n\r"
        assert has_invisible(chr(cp)) is expected, f"U+{cp:04X}"


def test_visible_text_is_not_flagged() -> None:
    visible = "Gr\u00fc\u00dfe, \u4e16\u754c! \u00bd \ufb01 \u2014 \u00f8 \u2215 \uff0e"
    assert find_invisible(visible) == []
    assert strip_invisible(visible) == visible


def test_ascii_and_non_ascii_paths_agree_on_controls() -> None:
    # The ASCII fast path and the full table must report the same controls.
    text = "a\x01b\x7f"
    assert find_invisible(text) == [
        InvisibleChar(1, 1, "control"),
        InvisibleChar(3, 0x7F, "control"),
    ]
    assert find_invisible(text + "é")[:2] == find_invisible(text)


def test_normalize_is_nfkc() -> None:
    assert normalize("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45") == "example"
    assert normalize("plain") == "plain"


def test_canonical_string_fast_path_returns_same_object() -> None:
    value = "read_file"
    assert canonical_string(value) is value


def test_canonical_string_length_limits() -> None:
    assert canonical_string("a" * 10, max_length=10) == "a" * 10
    with pytest.raises(CanonicalizationError) as info:
        canonical_string("a" * 11, max_length=10)
    assert info.value.reason == "too_long"
    # U+FDFA expands to 18 characters under NFKC: the limit applies after folding too.
    with pytest.raises(CanonicalizationError) as info:
        canonical_string("\ufdfa", max_length=5)
    assert info.value.reason == "too_long"


@pytest.mark.parametrize("value", [None, 1, b"bytes", ["a"], 1.5])
def test_canonical_string_refuses_non_strings(value: object) -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_string(value)  # type: ignore[arg-type]
    assert info.value.reason == "not_a_string"


def test_error_messages_follow_house_style_and_never_echo_much() -> None:
    hostile = "x\u200b" + "A" * 500
    with pytest.raises(CanonicalizationError) as info:
        canonical_string(hostile)
    message = str(info.value)
    assert isinstance(info.value, ZtgateError)
    assert message[0].islower()
    assert not message.endswith(".")
    assert "`" in message
    assert len(message) < 200
    # The hidden character is shown escaped, never raw.
    assert "\u200b" not in message
    assert "\\u{200b}" in message


def test_tables_are_built_once() -> None:
    canon_text.warm_up()
    assert canon_text._invisible_re() is canon_text._invisible_re()
    assert canon_text._nfkc_weights() is canon_text._nfkc_weights()


def test_explosive_text_is_refused_before_folding() -> None:
    # 4,000 U+FDFA would fold to 72,000 characters: refused without building them.
    with pytest.raises(CanonicalizationError) as info:
        canonical_string("\ufdfa" * 4000)
    assert info.value.reason == "too_long"
    # Long text that fits after folding is accepted, composing sequences included.
    korean = "\ud55c\uad6d\uc5b4" * 5000 + "e\u0301" * 10000
    assert canonical_string(korean) == korean[:15000] + "\u00e9" * 10000


@pytest.mark.parametrize(
    "filler",
    ["\u4e2d" * 100, "\u00e9" * 100, "caf\u00e9 " * 40, "plain ascii " * 20],
    ids=["dense-cjk", "dense-latin", "sparse-latin", "ascii"],
)
def test_scanning_strategies_report_the_same_positions(filler: str) -> None:
    # Dense non-ASCII text switches to the full table part-way; positions must not shift.
    text = filler + "\u200b" + filler + "\u202e" + filler + "\U000e0041"
    first = len(filler)
    expected = [
        InvisibleChar(first, 0x200B, "zero_width"),
        InvisibleChar(2 * first + 1, 0x202E, "bidi"),
        InvisibleChar(3 * first + 2, 0xE0041, "tag"),
    ]
    assert find_invisible(text) == expected
    assert strip_invisible(text) == filler * 3


def test_find_invisible_limit() -> None:
    text = "a\u200b" * 1000
    assert len(find_invisible(text)) == 1000
    assert find_invisible(text, limit=3) == [
        InvisibleChar(i, 0x200B, "zero_width") for i in (1, 3, 5)
    ]
    assert find_invisible(text, limit=0) == []
    assert find_invisible("a\x00b", limit=5) == [InvisibleChar(1, 0, "control")]


def test_every_reason_code_is_documented() -> None:
    # Operators map reason codes from the audit log to meanings; none may be undocumented.
    root = Path(__file__).parents[4]
    source = "".join(p.read_text("utf-8") for p in (root / "src/ztgate/core/canon").glob("*.py"))
    raised = set(re.findall(r'reason="([a-z0-9_]+)"', source))
    documented = set(
        re.findall(
            r"^\| `([a-z0-9_]+)` \|", (root / "docs/canonicalisation.md").read_text("utf-8"), re.M
        )
    )
    assert raised <= documented, raised - documented
    assert len(raised) > 20
