"""Lexical canonicalisation of file-system paths, and the containment check built on it.

A policy that says "only under ``/data``" is only as good as its notion of "under". The
tool that finally opens the file may percent-decode its argument (once, or repeatedly),
may treat ``\\`` as a separator, may fold fullwidth dot and solidus (U+FF0E, U+FF0F) to
``./`` and may accept overlong UTF-8 (``%c0%ae`` for ``.``). :func:`is_under` therefore
says yes only when *every* one of those readings (:func:`path_interpretations`) lands
inside a root, and any reading that cannot be canonicalised (NUL, controls, invisible
characters, a relative path) makes the whole input an error, which callers turn into a
deny.

Everything here is lexical: symbolic links cannot be resolved without touching the file
system, which ``core`` never does. An adapter that opens files at the edge should resolve
``realpath`` there and check the resolved path again with :func:`is_under`.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator, Sequence
from typing import Final

from ztgate.core.canon._common import fail, type_error
from ztgate.core.canon.text import has_invisible, normalize
from ztgate.errors import CanonicalizationError

__all__ = [
    "MAX_PATH_LENGTH",
    "canonical_path",
    "is_under",
    "path_interpretations",
]

#: Longest path accepted, in characters, before and after each decoding step.
MAX_PATH_LENGTH: Final = 4096

# Inputs up to this length have their readings memoised (bounded memory, immutable results).
_MEMO_MAX_INPUT: Final = 1024

#: Percent-decoding rounds tried before giving up on a still-encoded path.
_DECODE_ROUNDS: Final = 4

#: Upper bound on distinct decoded spellings considered for one input. Inputs needing more
#: are refused rather than analysed at unbounded cost.
_MAX_SPELLINGS: Final = 64

_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
# Tab, line feed and carriage return are visible in text but have no place in a path.
_LAYOUT_RE: Final = re.compile("[\t\n\r]")
# A run of %XX escapes (decoded together, so multi-byte UTF-8 works) or one IIS-style %uXXXX.
_ESCAPE_RE: Final = re.compile(r"(?:%[0-9A-Fa-f]{2})+|%[uU][0-9A-Fa-f]{4}")
_SEPARATORS: Final = frozenset("/\\")
# Anything that lexical resolution would change: repeated separators, a component that
# starts with a dot (``.``, ``..``; ``.hidden`` is a false alarm that only costs time), a
# trailing separator.
_ALREADY_CANONICAL_RE: Final = re.compile(r"//|/\.|./$")
# A component ending in a dot or a space, or holding an NTFS stream suffix: the only things
# the Windows reading changes in a spelling that has no backslash and no escape.
_WIN32_TRAILING_RE: Final = re.compile(r"[. ](?:/|$)|:")


def _check(candidate: str, raw: str) -> None:
    """Refuse a spelling that no careful tool would open: empty, long, hidden, controls."""
    if not candidate:
        raise fail("path", raw, "is empty", reason="empty")
    if len(candidate) > MAX_PATH_LENGTH:
        raise fail("path", raw, f"is longer than {MAX_PATH_LENGTH} characters", reason="too_long")
    if candidate.isascii() and candidate.isprintable():
        return  # no NUL, control, layout, surrogate or invisible character can be present
    if "\x00" in candidate:
        raise fail("path", raw, "contains a NUL character", reason="nul_char")
    if _SURROGATE_RE.search(candidate) is not None:
        raise fail("path", raw, "contains a lone surrogate", reason="invalid_unicode")
    if _LAYOUT_RE.search(candidate) is not None or has_invisible(candidate):
        raise fail(
            "path", raw, "contains a control or invisible character", reason="invisible_char"
        )


def _win32_component(component: str) -> str:
    """How Windows reads one component: NTFS stream suffix and trailing dots/spaces dropped.

    ``..::$INDEX_ALLOCATION`` names the parent directory itself, so everything from the
    first ``:`` is cut. A component made only of dots and spaces with at least two dots is
    read as ``..`` (so ``.. `` and ``...`` count as a step up); this over-approximates
    Windows, which is the safe direction for a containment check.
    """
    component = component.partition(":")[0]
    if component in (".", ".."):
        return component
    stripped = component.rstrip(" .")
    if stripped:
        return stripped
    return ".." if component.count(".") >= 2 else "."


def _resolve(candidate: str, raw: str, *, backslash: bool, win32: bool = False) -> str:
    """Resolve ``.``, ``..`` and repeated separators lexically in an absolute path."""
    _check(candidate, raw)
    if backslash:
        candidate = candidate.replace("\\", "/")
    if not candidate.startswith("/"):
        raise fail("path", raw, "is not absolute", reason="relative_path")
    if not win32 and _ALREADY_CANONICAL_RE.search(candidate) is None:
        return candidate
    parts: list[str] = []
    for component in candidate.split("/"):
        if win32:
            component = _win32_component(component)
        if component in ("", "."):
            continue
        if component == "..":
            if parts:
                parts.pop()
            continue
        parts.append(component)
    return "/" + "/".join(parts)


def canonical_path(raw: str) -> str:
    """The lexically normalised absolute form of a POSIX-style path.

    NFKC first (fullwidth U+FF0E, U+FF0F become ``./``), then ``\\`` is read as a separator,
    repeated separators collapse and ``.``/``..`` are resolved (``/..`` stays ``/``).
    Raises :class:`~ztgate.errors.CanonicalizationError` for a non-string, an empty or
    relative path, NUL, control or invisible characters, or more than
    :data:`MAX_PATH_LENGTH` characters. Percent-escapes are left alone here; see
    :func:`path_interpretations`.
    """
    if not isinstance(raw, str):
        raise type_error("path", raw)
    folded = normalize(raw)
    if folded is not raw:
        _check(raw, raw)  # hidden characters are refused before NFKC can fold them
    return _resolve(folded, raw, backslash=True)


def _utf8_lenient(data: bytes) -> Iterator[tuple[str, int, int]]:
    """Decode bytes as UTF-8 the way a careless decoder would.

    Overlong forms are accepted (``C0 AE`` is ``.``, ``E0 80 AF`` is ``/``), as are the
    obsolete five- and six-byte forms; anything undecodable becomes U+FFFD. Yields each
    character with the byte span it came from.
    """
    i, n = 0, len(data)
    while i < n:
        lead = data[i]
        if lead < 0x80:
            yield chr(lead), i, i + 1
            i += 1
            continue
        if 0xC0 <= lead <= 0xDF:
            need, cp = 1, lead & 0x1F
        elif 0xE0 <= lead <= 0xEF:
            need, cp = 2, lead & 0x0F
        elif 0xF0 <= lead <= 0xF7:
            need, cp = 3, lead & 0x07
        elif 0xF8 <= lead <= 0xFB:
            need, cp = 4, lead & 0x03
        elif 0xFC <= lead <= 0xFD:
            need, cp = 5, lead & 0x01
        else:
            yield "\ufffd", i, i + 1
            i += 1
            continue
        j = i + 1
        while j < n and j - i - 1 < need and 0x80 <= data[j] <= 0xBF:
            cp = (cp << 6) | (data[j] & 0x3F)
            j += 1
        if j - i - 1 < need or cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
            yield "\ufffd", i, j
        else:
            yield chr(cp), i, j
        i = j


def _percent_decode(text: str, *, keep_separators: bool, lenient: bool = True) -> str:
    """Decode ``%XX`` runs and ``%uXXXX`` escapes once.

    With ``keep_separators`` an escape that decodes to ``/`` or ``\\`` stays encoded: the
    reading of a tool that decodes dots but refuses encoded slashes (as URL path handling
    in many servers does). ``lenient`` reads the bytes as a careless decoder does
    (overlong ``C0 AE`` is ``.``); without it, bytes that are not valid UTF-8 stay opaque
    (U+FFFD), the reading of a tool that passes raw bytes to the file system, for which
    ``C0 AE`` is an ordinary name and not a dot.
    """

    def replace(match: re.Match[str]) -> str:
        escaped = match.group()
        if escaped[1] in "uU":
            cp = int(escaped[2:], 16)
            ch = "\ufffd" if 0xD800 <= cp <= 0xDFFF else chr(cp)
            return escaped if keep_separators and ch in _SEPARATORS else ch
        data = bytes.fromhex(escaped.replace("%", ""))
        if not lenient:
            strict = data.decode("utf-8", errors="replace")
            if keep_separators and any(ch in _SEPARATORS for ch in strict):
                return escaped
            return strict
        out: list[str] = []
        for ch, start, end in _utf8_lenient(data):
            if keep_separators and ch in _SEPARATORS:
                out.append(escaped[start * 3 : end * 3])
            else:
                out.append(ch)
        return "".join(out)

    if "%" not in text:
        return text
    return _ESCAPE_RE.sub(replace, text)


def _spellings(raw: str) -> list[str]:
    """Every spelling of ``raw`` a tool might end up with, before path resolution.

    The closure of ``raw`` under NFKC, full percent-decoding and percent-decoding that
    keeps separators encoded, for up to :data:`_DECODE_ROUNDS` rounds. A spelling that
    still changes after the last round is refused: its meaning cannot be pinned down.
    """
    seen: dict[str, None] = {raw: None}
    frontier = [raw]
    folded = normalize(raw)
    if folded not in seen:
        seen[folded] = None
        frontier.append(folded)
    for _ in range(_DECODE_ROUNDS):
        fresh: list[str] = []
        for spelling in frontier:
            if "%" not in spelling:
                continue
            for keep in (False, True):
                for lenient in (True, False):
                    decoded = _percent_decode(spelling, keep_separators=keep, lenient=lenient)
                    for variant in (decoded, normalize(decoded)):
                        if variant not in seen:
                            seen[variant] = None
                            fresh.append(variant)
        if len(seen) > _MAX_SPELLINGS:
            raise fail("path", raw, "has too many decodings to analyse", reason="too_ambiguous")
        frontier = fresh
        if not frontier:
            break
    for spelling in frontier:
        if _percent_decode(spelling, keep_separators=False) != spelling:
            raise fail(
                "path",
                raw,
                f"is still percent-encoded after {_DECODE_ROUNDS} rounds of decoding",
                reason="too_deeply_encoded",
            )
    return list(seen)


def path_interpretations(raw: str) -> tuple[str, ...]:
    """Every canonical path an unknown downstream tool might read ``raw`` as.

    The first element is :func:`canonical_path` of ``raw``. The others come from each
    spelling (raw, NFKC, percent-decoded once and repeatedly to a fixed point, with overlong
    UTF-8 and ``%uXXXX`` decoded, with and without encoded separators decoded) resolved
    with ``\\`` as a separator, without it, and the Windows way (trailing dots and spaces
    and NTFS stream suffixes dropped). Raises
    :class:`~ztgate.errors.CanonicalizationError` if any reading is not a valid absolute
    path. Results for short inputs are memoised (errors are not kept).
    """
    if isinstance(raw, str) and len(raw) <= _MEMO_MAX_INPUT:
        return _interpretations_memo(raw)
    return _interpretations(raw)


@functools.lru_cache(maxsize=4096)
def _interpretations_memo(raw: str) -> tuple[str, ...]:
    return _interpretations(raw)


def _interpretations(raw: str) -> tuple[str, ...]:
    primary = canonical_path(raw)
    if raw.isascii() and "%" not in raw and "\\" not in raw:
        # The only spelling is ``raw`` itself and the backslash reading adds nothing.
        if _WIN32_TRAILING_RE.search(raw) is None:
            return (primary,)
        windows = _resolve(raw, raw, backslash=True, win32=True)
        return (primary,) if windows == primary else (primary, windows)
    found: dict[str, None] = {primary: None}
    for spelling in _spellings(raw):
        for backslash, win32 in ((False, False), (True, False), (True, True)):
            found.setdefault(_resolve(spelling, raw, backslash=backslash, win32=win32), None)
    return tuple(found)


@functools.lru_cache(maxsize=1024)
def _canonical_roots(roots: tuple[str, ...]) -> tuple[str, ...]:
    """Each root canonical and ending in ``/``, so that a prefix test respects components."""
    parsed: list[str] = []
    for root in roots:
        if not isinstance(root, str):
            raise ValueError(f"path root must be a string, not `{type(root).__name__}`")
        try:
            canonical = canonical_path(root)
        except CanonicalizationError as exc:
            raise ValueError(f"invalid path root: {exc}") from exc
        parsed.append(canonical if canonical == "/" else canonical + "/")
    return tuple(parsed)


def is_under(raw: str, roots: Sequence[str]) -> bool:
    """Whether every reading of ``raw`` is one of ``roots`` or below one of them.

    Comparison is by whole components, so ``/database`` is not under ``/data``. Roots are
    canonicalised with :func:`canonical_path`; a root that is not a valid absolute path is
    a :class:`ValueError` (a policy-load error, not a runtime deny). No roots means no
    containment: the answer is ``False``. Raises
    :class:`~ztgate.errors.CanonicalizationError` when ``raw`` cannot be canonicalised.
    Symbolic links are not followed (see the module documentation).
    """
    if isinstance(roots, str):
        raise ValueError("path roots must be a sequence of paths, not a single string")
    try:
        canonical_roots = _canonical_roots(tuple(roots))
    except TypeError:
        raise ValueError("path roots must be strings") from None
    interpretations = path_interpretations(raw)
    if not canonical_roots:
        return False
    for interpretation in interpretations:
        # "/data/x" + "/" starts with "/data/"; "/database/" does not.
        if not (interpretation + "/").startswith(canonical_roots):
            return False
    return True
