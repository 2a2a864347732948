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
import itertools
import re
import unicodedata
from collections import Counter
from collections.abc import Iterator, Mapping
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
    "warm_up",
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
        "hyphen U+00AD and the invisible operators U+2061..U+2064, and the unassigned "
        "default-ignorable code points U+2065, U+FFF0..U+FFF8, U+E0080..U+E0FFF",
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
# Code points Unicode reserves as default-ignorable but has not assigned yet: renderers
# must already show them as nothing, so they are refused before a future version uses them.
_RESERVED_IGNORABLE: Final[_Ranges] = (
    (0x2065, 0x2065),
    (0xFFF0, 0xFFF8),
    (0xE0080, 0xE00FF),
    (0xE01F0, 0xE0FFF),
)
_EXPLICIT: Final[tuple[tuple[str, _Ranges], ...]] = (
    ("control", _CONTROL),
    ("tag", _TAG),
    ("variation_selector", _VARIATION_SELECTOR),
    ("bidi", _BIDI),
    ("zero_width", _ZERO_WIDTH),
    ("format", _RESERVED_IGNORABLE),
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


# Characters that are not printable ASCII: the only places an invisible character can be.
_CANDIDATE_RE: Final = re.compile(r"[^\t\n\r\x20-\x7e]")
# After this many candidates, if they are dense (at least one in sixteen characters), one
# pass with the full table is cheaper than classifying each candidate in Python.
_DENSE_AFTER: Final = 32


def _scan(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(index, kind)`` for every invisible character, in order.

    Mostly-ASCII text (the common case for tool arguments and outputs) is scanned for
    non-ASCII candidates with a simple character class and each candidate classified;
    mostly non-ASCII text switches to the full table of invisible characters.
    """
    if text.isascii():
        for match in _ASCII_CONTROL_RE.finditer(text):
            yield match.start(), "control"
        return
    for candidates, match in enumerate(_CANDIDATE_RE.finditer(text), start=1):
        kind = _kind_of(match.group())
        if kind is not None:
            yield match.start(), kind
        if candidates >= _DENSE_AFTER and candidates * 16 > match.start():
            for rest in _invisible_re().finditer(text, match.end()):
                dense_kind = _kind_of(rest.group())
                if dense_kind is not None:
                    yield rest.start(), dense_kind
            return


def find_invisible(text: str, *, limit: int | None = None) -> list[InvisibleChar]:
    """Every invisible character in ``text``, in order, with its index and kind.

    ``limit`` stops after that many: a scanner reporting on a megabyte of hostile text
    rarely needs half a million findings, and building them costs real time.
    """
    if text.isascii() and text.isprintable():
        return []
    found = _scan(text) if limit is None else itertools.islice(_scan(text), max(0, limit))
    return [InvisibleChar(index, ord(text[index]), kind) for index, kind in found]


def has_invisible(text: str) -> bool:
    """Whether ``text`` contains any invisible character (cheaper than :func:`find_invisible`)."""
    if text.isascii() and text.isprintable():
        return False
    return next(_scan(text), None) is not None


def strip_invisible(text: str) -> str:
    """``text`` with every invisible character removed, for scanners.

    Tab, line feed and carriage return are kept: they are visible layout, not hidden text.
    """
    if text.isascii() and text.isprintable():
        return text
    pieces: list[str] = []
    start = 0
    for index, _ in _scan(text):
        pieces.append(text[start:index])
        start = index + 1
    if not pieces:
        return text
    pieces.append(text[start:])
    return "".join(pieces)


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
    if text.isascii():
        # ASCII is its own NFKC form; only control characters can hide in it.
        if not text.isprintable() and _ASCII_CONTROL_RE.search(text) is not None:
            _refuse_hidden(text)
        return text
    _refuse_hidden(text)
    if len(text) * _MAX_EXPANSION > max_length and not unicodedata.is_normalized("NFKC", text):
        _refuse_explosive(text, max_length)
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


# The most characters NFKC turns one code point into (U+FDFA becomes 18).
_MAX_EXPANSION: Final = 18


@functools.cache
def _nfkc_weights() -> dict[str, int]:
    """For each character whose weight is not 1, the least it can add to an NFKC result.

    A character's weight is the length of its own NFKC form minus the characters in it that
    could compose with what precedes them (combining marks, Hangul vowel and final jamo,
    the second halves of canonical pairs). Summed over a text, the weights are a lower bound
    on the length of the text's NFKC form. Built once, from the code points below U+20000
    (compatibility decompositions and composable characters all live there).
    """
    seconds = {chr(cp) for cp in (*range(0x1161, 0x1176), *range(0x11A8, 0x11C3))}
    for cp in range(0x20000):
        decomposition = unicodedata.decomposition(chr(cp)).split()
        if len(decomposition) == 2 and not decomposition[0].startswith("<"):
            seconds.add(chr(int(decomposition[1], 16)))
    weights: dict[str, int] = {}
    for cp in range(0xA0, 0x20000):
        if 0xD800 <= cp <= 0xDFFF:
            continue
        ch = chr(cp)
        folded = unicodedata.normalize("NFKC", ch)
        weight = len(folded) - sum(part in seconds for part in folded)
        if weight != 1:
            weights[ch] = weight
    return weights


def _refuse_explosive(text: str, max_length: int) -> None:
    """Refuse text whose NFKC form must exceed ``max_length``, before building it.

    Normalising costs time in proportion to the output, and a few kilobytes of U+FDFA
    expand eighteen-fold. The check sums per-character weights (counted per distinct
    character), a lower bound on the normalised length, so it never refuses text whose
    NFKC form would fit.
    """
    weights = _nfkc_weights()
    least = sum(weights.get(ch, 1) * n for ch, n in Counter(text).items())
    if least > max_length:
        raise fail(
            "string",
            text,
            f"is longer than {max_length} characters once normalised",
            reason="too_long",
        )


def warm_up() -> None:
    """Build the lookup tables that are otherwise built on first use.

    The invisible-character table takes a few tens of milliseconds, the NFKC weight table
    (needed only for long text that is not already normalised) a few hundred. A service
    calls this at start-up so that no request pays for them.
    """
    _invisible_re()
    _nfkc_weights()


def _refuse_hidden(text: str) -> None:
    if _SURROGATE_RE.search(text) is not None:
        raise fail("string", text, "contains a lone surrogate", reason="invalid_unicode")
    found = find_invisible(text, limit=1)
    if found:
        raise fail(
            "string", text, f"contains an invisible character {found[0]}", reason="invisible_char"
        )
