"""RE2 matching without the per-call cost of the ``re2`` wrapper, for ASCII text.

The ``google-re2`` binding is a Python layer over the C++ engine. For ``str`` input it
re-encodes the text on every call, maps byte offsets back to characters and builds a match
object per hit, and every ``match.start(group)`` asks the engine for its group count again.
On a short tool argument that overhead (one to two microseconds a call) is larger than
the engine's own work, and a scan makes dozens of such calls.

ASCII text is the common case and needs none of it: its UTF-8 bytes are the text, so byte
offsets are character offsets. :class:`Pattern` then calls the compiled RE2 program
directly and returns the engine's spans as they are. Any other text goes through the
public wrapper, which maps offsets correctly. It is the same engine, the same compiled
pattern and the same iteration rule (an empty match advances by one character), and a
property test checks that both paths agree.

Lone surrogates (possible in JSON escapes) cannot be encoded to UTF-8, which the binding
needs; every entry point matches them as U+FFFD instead (one character for one, so
offsets do not move), the character the scan view shows them as, and never raises.

If a future binding hides the engine object this module falls back to the public wrapper
everywhere (correct, only slower); a unit test says so loudly.
"""

from __future__ import annotations

import itertools
import re
from typing import Any

import re2

Spans = tuple[tuple[int, int], ...] | list[tuple[int, int]]
NO_SPAN = (-1, -1)

try:
    from re2 import _Anchor

    _UNANCHORED: Any = _Anchor.UNANCHORED
    _ANCHOR_BOTH: Any = _Anchor.ANCHOR_BOTH
except ImportError:  # pragma: no cover - depends on the installed binding
    _UNANCHORED = _ANCHOR_BOTH = None


def _engine(wrapped: Any) -> Any:
    """The compiled C++ program behind a wrapper pattern, or ``None`` if not reachable."""
    raw = getattr(wrapped, "_regexp", None)
    if _UNANCHORED is None or raw is None or not callable(getattr(raw, "Match", None)):
        return None  # pragma: no cover - depends on the installed binding
    return raw


_SURROGATE = re.compile("[\ud800-\udfff]")


def encodable(text: str) -> str:
    """``text`` with lone surrogates replaced by U+FFFD (same length, same offsets)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


class Pattern:
    """A compiled RE2 pattern with fast entry points for ASCII text.

    ``spans`` of a match are ``(start, end)`` pairs, group 0 (the whole match) first,
    ``(-1, -1)`` for groups that did not take part, indexed like the pattern's groups.
    """

    __slots__ = ("_match", "groupindex", "groups", "wrapped")

    def __init__(self, pattern: str) -> None:
        self.wrapped: Any = re2.compile(pattern)
        self.groups: int = self.wrapped.groups
        self.groupindex: dict[str, int] = dict(self.wrapped.groupindex)
        engine = _engine(self.wrapped)
        self._match: Any = engine.Match if engine is not None else None

    @property
    def fast(self) -> bool:
        """Whether ASCII text bypasses the wrapper (false only with an unexpected binding)."""
        return self._match is not None

    def _slow(self, text: str, limit: int | None) -> list[Spans]:
        count = self.groups + 1
        matches = itertools.islice(self.wrapped.finditer(encodable(text)), limit)
        return [tuple(m.span(g) for g in range(count)) for m in matches]

    def all_spans(self, text: str, limit: int | None = None) -> list[Spans]:
        """The spans of every non-overlapping match, left to right (``finditer``); at most
        ``limit`` of them when given."""
        match = self._match
        if match is None or not text.isascii():
            return self._slow(text, limit)
        data = text.encode("ascii")
        end = len(data)
        pos = 0
        found: list[Spans] = []
        while True:
            spans = match(_UNANCHORED, data, pos, end)
            stop = spans[0][1]
            if stop < 0:
                return found
            found.append(spans)
            if pos == end or len(found) == limit:
                return found
            # An empty match at ``pos`` would repeat forever: step over one character.
            pos = pos + 1 if stop == pos else stop

    def first(self, text: str) -> Spans | None:
        """The spans of the leftmost match, or ``None`` (``search``)."""
        match = self._match
        if match is None or not text.isascii():
            found = self.wrapped.search(encodable(text))
            if found is None:
                return None
            return tuple(found.span(g) for g in range(self.groups + 1))
        data = text.encode("ascii")
        spans = match(_UNANCHORED, data, 0, len(data))
        return None if spans[0][1] < 0 else spans

    def search(self, text: str) -> bool:
        """Whether the pattern matches anywhere in ``text``."""
        return self.first(text) is not None

    def fullmatch(self, text: str) -> bool:
        """Whether the pattern matches the whole of ``text``."""
        match = self._match
        if match is None or not text.isascii():
            return self.wrapped.fullmatch(encodable(text)) is not None
        data = text.encode("ascii")
        return bool(match(_ANCHOR_BOTH, data, 0, len(data))[0][1] >= 0)

    def count(self, text: str) -> int:
        """How many non-overlapping matches ``text`` holds (``len(findall)``)."""
        return len(self.all_spans(text))


def which(spans: Spans, groups: tuple[int, ...]) -> int:
    """The position in ``groups`` of the first group that took part in the match: which
    alternative of a combined pattern (``(?P<a>...)|(?P<b>...)``) matched."""
    for position, group in enumerate(groups):
        if spans[group][0] >= 0:
            return position
    raise ValueError("no alternative took part in the match")
