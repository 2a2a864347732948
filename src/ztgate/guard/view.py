"""The detection view of a string: what scanners read, mapped back to what was sent.

Scanners must see through disguises (zero-width characters splitting a word, fullwidth
letters, bidi controls) but report and redact positions in the *original* string, which
is what the caller holds. A :class:`TextView` is the original with invisible characters
removed and each remaining character NFKC-normalised on its own, plus, for every view
character, the index of the original character it came from.

Normalising character by character (rather than the whole string) keeps that map exact;
the only difference from whole-string NFKC is that combining sequences stay decomposed,
which does not matter for detection.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ztgate.core.canon.text import (
    InvisibleChar,
    decode_tag_characters,
    find_invisible,
    has_invisible,
    normalize,
)
from ztgate.guard.findings import Span


@dataclass(frozen=True, slots=True)
class TextView:
    """A normalised view of ``original`` with the map back to it."""

    original: str
    text: str
    offsets: tuple[int, ...] | None  # None: the view is the original, index for index
    invisible: tuple[InvisibleChar, ...]
    tag_text: str
    surrogates: tuple[int, ...] = ()  # indices of lone surrogates (shown as U+FFFD)

    def to_original(self, span: Span) -> Span:
        """Map a span of the view back to the smallest covering span of the original."""
        if self.offsets is None:
            return span
        if span.start >= len(self.offsets):
            return Span(len(self.original), len(self.original))
        start = self.offsets[span.start]
        end = self.offsets[span.end - 1] + 1 if span.end > span.start else start
        return Span(start, max(start, end))


# A character that is not ASCII: the only kind NFKC can change or that can be a surrogate.
_NON_ASCII = re.compile(r"[^\x00-\x7f]")


def build_view(original: str) -> TextView:
    """Strip invisible characters and apply NFKC per character, remembering offsets."""
    if original.isascii() and (original.isprintable() or not has_invisible(original)):
        return TextView(original, original, None, (), "")
    invisible = tuple(find_invisible(original))
    # Only hidden characters and non-ASCII characters change; ASCII runs between them are
    # copied as they are, so mostly-ASCII text costs a few slices rather than a Python step
    # per character.
    special = sorted(
        {item.index for item in invisible}.union(
            match.start() for match in _NON_ASCII.finditer(original)
        )
    )
    hidden = {item.index for item in invisible}
    parts: list[str] = []
    offsets: list[int] = []
    surrogates: list[int] = []
    cursor = 0
    for index in special:
        if cursor < index:
            parts.append(original[cursor:index])
            offsets.extend(range(cursor, index))
        cursor = index + 1
        if index in hidden:
            continue
        ch = original[index]
        if "\ud800" <= ch <= "\udfff":
            # A lone surrogate (possible in JSON escapes) is not text: it cannot be encoded,
            # so detectors see U+FFFD and the scan reports it.
            surrogates.append(index)
            folded = "\ufffd"
        else:
            folded = normalize(ch)
        parts.append(folded)
        offsets.extend([index] * len(folded))
    if cursor < len(original):
        parts.append(original[cursor:])
        offsets.extend(range(cursor, len(original)))
    text = "".join(parts)
    tag_text = decode_tag_characters(original) if invisible else ""
    return TextView(original, text, tuple(offsets), invisible, tag_text, tuple(surrogates))
