"""Unicode text canonicalisation: NFKC and the characters that hide meaning.

Policy matching and scanning must see the same text a model or a downstream tool sees.
Two things get in the way: compatibility variants (fullwidth letters, ligatures, circled
digits) that look like, and are often treated as, their plain forms; and invisible
characters (zero-width spaces, bidi overrides, Unicode "tag" characters used for "ASCII
smuggling") that change what text means to a machine without changing what a human sees.

:func:`canonical_string` is what policy matching uses: it refuses text with invisible
characters outright (a forbid rule on ``rm`` must not be dodged by ``r\\u200bm``) and
returns the NFKC form. Scanners, which must look at hostile text rather than refuse it, use
:func:`find_invisible`, :func:`strip_invisible` and :func:`decode_tag_characters`.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from ztgate.core.canon._common import fail, type_error

__all__ = [
    "INVISIBLE_CATEGORIES",
    "InvisibleChar",
    "canonical_string",
    "decode_tag_characters",
    "find_invisible",
    "has_invisible",
    "normalize",
    "strip_invisible",
]

#: Every kind of invisible character, with what it covers. A character belongs to the first
#: kind that lists it, in this order; ``format`` catches every remaining Unicode ``Cf``.
INVISIBLE_CATEGORIES: Final[Mapping[str, str]] = MappingProxyType(
    {
        "control": "C0 and C1 control characters and DEL, except tab, line feed and "
        "carriage return",
        "tag": "Unicode tag characters U+E0000..U+E007F (used to smuggle ASCII text)",
        "variation_selector": "variation selectors U+FE00..U+FE0F, U+E0100..U+E01EF and "
        "the Mongolian free variation selectors U+180B..U+180D, U+180F",
        "bidi": "bidirectional controls: U+200E, U+200F, U+202A..U+202E, U+2066..U+2069, U+061C",
        "zero_width": "zero-width spaces and joiners (U+200B..U+200D, U+2060, U+FEFF, "
        "U+180E) and characters that render as nothing (U+034F combining grapheme "
        "joiner, Hangul fillers U+115F, U+1160, U+3164, U+FFA0, Khmer U+17B4, U+17B5)",
        "format": "every other format character (Unicode category Cf), e.g. the soft "
        "hyphen U+00AD and the invisible operators U+2061..U+2064",
    }
)

_Ranges = tuple[tuple[int, int], ...]

# Explicit ranges per kind, checked in INVISIBLE_CATEGORIES order.
_CONTROL: Final[_Ranges] = ((0x00, 0x08), (0x0B, 0x0C), (0x0E, 0x1F), (0x7F, 0x9F))
_TAG: Final[_Ranges] = ((0xE0000, 0xE007F),)
_VARIATION_SELECTOR: Final[_Ranges] = (
    (0x180B, 0x180D),
    (0x180F, 0x180F),
    (0xFE00, 0xFE0F),
    (0xE0100, 0xE01EF),
)
_BIDI: Final[_Ranges] = (
    (0x061C, 0x061C),
    (0x200E, 0x200F),
    (0x202A, 0x202E),
    (0x2066, 0x2069),
)
_ZERO_WIDTH: Final[_Ranges] = (
    (0x034F, 0x034F),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180E, 0x180E),
    (0x200B, 0x200D),
    (0x2060, 0x2060),
    (0x3164, 0x3164),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
)
_EXPLICIT: Final[tuple[tuple[str, _Ranges], ...]] = (
    ("control", _CONTROL),
    ("tag", _TAG),
    ("variation_selector", _VARIATION_SELECTOR),
    ("bidi", _BIDI),
    ("zero_width", _ZERO_WIDTH),
)

# Unicode places format characters in the BMP, the SMP and plane 14 only; scanning those
# windows (not all 1.1 million code points) keeps the one-off table build to milliseconds.
_CF_SCAN_WINDOWS: Final[tuple[range, ...]] = (range(0x20000), range(0xE0000, 0xE1000))

_ASCII_CONTROL_RE: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
_TAG_TEXT_RE: Final = re.compile("[\U000e0020-\U000e007e]+")


@dataclass(frozen=True, slots=True)
class InvisibleChar:
    """One invisible character found in a text: where, which, and of what kind."""

    index: int
    codepoint: int
    kind: str

    def __str__(self) -> str:
        return f"U+{self.codepoint:04X} ({self.kind}) at {self.index}"


def _in(cp: int, ranges: _Ranges) -> bool:
    return any(lo <= cp <= hi for lo, hi in ranges)


@functools.lru_cache(maxsize=4096)
def _kind_of(ch: str) -> str | None:
    """The invisible kind of one character, or ``None`` if it is visible."""
    cp = ord(ch)
    for kind, ranges in _EXPLICIT:
        if _in(cp, ranges):
            return kind
    if unicodedata.category(ch) == "Cf":
        return "format"
    return None


def _merge(points: list[int]) -> _Ranges:
    merged: list[tuple[int, int]] = []
    for cp in sorted(set(points)):
        if merged and merged[-1][1] + 1 == cp:
            merged[-1] = (merged[-1][0], cp)
        else:
            merged.append((cp, cp))
    return tuple(merged)


@functools.cache
def _invisible_re() -> re.Pattern[str]:
    """A character class matching every invisible character, built once on first use."""
    points = [cp for _, ranges in _EXPLICIT for lo, hi in ranges for cp in range(lo, hi + 1)]
    points.extend(
        cp for window in _CF_SCAN_WINDOWS for cp in window if unicodedata.category(chr(cp)) == "Cf"
    )
    body = "".join(
        re.escape(chr(lo)) if lo == hi else f"{re.escape(chr(lo))}-{re.escape(chr(hi))}"
        for lo, hi in _merge(points)
    )
    return re.compile(f"[{body}]")


def _pattern_for(text: str) -> re.Pattern[str]:
    # Pure-ASCII text can only hide control characters; skip building the full table.
    return _ASCII_CONTROL_RE if text.isascii() else _invisible_re()


def find_invisible(text: str) -> list[InvisibleChar]:
    """Every invisible character in ``text``, in order, with its index and kind."""
    if text.isascii() and text.isprintable():
        return []
    found: list[InvisibleChar] = []
    for match in _pattern_for(text).finditer(text):
        ch = match.group()
        kind = _kind_of(ch)
        if kind is not None:
            found.append(InvisibleChar(match.start(), ord(ch), kind))
    return found


def has_invisible(text: str) -> bool:
    """Whether ``text`` contains any invisible character (cheaper than :func:`find_invisible`)."""
    if text.isascii() and text.isprintable():
        return False
    return _pattern_for(text).search(text) is not None


def strip_invisible(text: str) -> str:
    """``text`` with every invisible character removed, for scanners.

    Tab, line feed and carriage return are kept: they are visible layout, not hidden text.
    """
    if text.isascii() and text.isprintable():
        return text
    return _pattern_for(text).sub("", text)


def decode_tag_characters(text: str) -> str:
    """The ASCII text hidden in Unicode tag characters (U+E0020..U+E007E), in order.

    Tag characters mirror printable ASCII at an offset of U+E0000 and render as nothing,
    which lets an attacker hide instructions a model reads but a human reviewer does not
    see. Scanners report the decoded text. The language tag U+E0001 and the cancel tag
    U+E007F carry no text and are skipped.
    """
    if text.isascii():
        return ""
    return "".join(chr(ord(ch) - 0xE0000) for run in _TAG_TEXT_RE.findall(text) for ch in run)


def normalize(text: str) -> str:
    """The NFKC normal form of ``text`` (compatibility characters folded to plain ones)."""
    if text.isascii():
        return text
    return unicodedata.normalize("NFKC", text)


def canonical_string(text: str, *, max_length: int = 65536) -> str:
    """The form of ``text`` that policy string matching compares: NFKC, refused if hidden.

    Raises :class:`CanonicalizationError` if ``text`` is not a string, is longer than
    ``max_length`` (before or after normalisation), contains invisible characters or lone
    surrogates. Idempotent: the result canonicalises to itself. Printable ASCII, the
    overwhelmingly common case, is returned unchanged without further work.
    """
    if not isinstance(text, str):
        raise type_error("string", text)
    if len(text) > max_length:
        raise fail("string", text, f"is longer than {max_length} characters", reason="too_long")
    if text.isascii() and text.isprintable():
        return text
    _refuse_hidden(text)
    canonical = unicodedata.normalize("NFKC", text)
    if canonical != text:
        if len(canonical) > max_length:
            raise fail(
                "string",
                text,
                f"is longer than {max_length} characters once normalised",
                reason="too_long",
            )
        _refuse_hidden(canonical)
    return canonical


def _refuse_hidden(text: str) -> None:
    if _SURROGATE_RE.search(text) is not None:
        raise fail("string", text, "contains a lone surrogate", reason="invalid_unicode")
    found = find_invisible(text)
    if found:
        raise fail(
            "string", text, f"contains an invisible character {found[0]}", reason="invisible_char"
        )
