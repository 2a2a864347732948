"""Property tests for path canonicalisation: containment can never be talked around."""

from __future__ import annotations

import posixpath
import unicodedata
from urllib.parse import unquote

from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.core.canon.path import canonical_path, is_under, path_interpretations
from ztgate.errors import CanonicalizationError

# Pieces an attacker combines to walk out of a directory.
HOSTILE_PIECES = [
    "data",
    "a",
    "b",
    "etc",
    "..",
    ".",
    "",
    "%2e",
    "%2E",
    "%2e%2e",
    "%2f",
    "%2F",
    "%5c",
    "\\",
    "\uff0e",
    "\uff0e\uff0e",
    "\uff0f",
    "\uff3c",
    "%252e",
    "%252f",
    "%25252e%25252e",
    "%c0%ae",
    "%c0%af",
    "%ef%bc%8e",
    "\u2025",
    "..%2f",
    "%2e.",
    ". ",
    ".. ",
    "...",
    "%u002e",
]

hostile_paths = st.lists(st.sampled_from(HOSTILE_PIECES), min_size=1, max_size=10).map(
    lambda pieces: "/" + "/".join(pieces)
)


def _overlong(text: str) -> str:
    # The overlong spellings in HOSTILE_PIECES, decoded by hand.
    return text.replace("%c0%ae", ".").replace("%c0%af", "/").replace("%u002e", ".")


def _simple_readings(raw: str) -> list[str]:
    """An independent, deliberately naive model of what tools do with a path."""
    spellings = {raw}
    current = raw
    for _ in range(4):
        current = unquote(_overlong(current), errors="replace")
        spellings.add(current)
    spellings |= {unicodedata.normalize("NFKC", s) for s in spellings}
    spellings |= {unquote(_overlong(s), errors="replace") for s in spellings}
    readings = []
    for spelling in spellings:
        for variant in (spelling, spelling.replace("\\", "/")):
            # POSIX keeps a leading "//" in normpath; collapse it the way the kernel does.
            resolved = posixpath.normpath("/" + variant.lstrip("/"))
            readings.append(resolved)
    return readings


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root + "/")


@settings(max_examples=600)
@given(hostile_paths)
def test_contained_means_contained_for_every_simple_reading(raw: str) -> None:
    try:
        contained = is_under(raw, ["/data"])
    except CanonicalizationError:
        return  # refused: callers deny
    if contained:
        for reading in _simple_readings(raw):
            assert _inside(reading, "/data"), (raw, reading)


@given(hostile_paths)
def test_interpretations_are_canonical_fixed_points(raw: str) -> None:
    try:
        readings = path_interpretations(raw)
    except CanonicalizationError:
        return
    assert readings[0] == canonical_path(raw)
    for reading in readings:
        assert reading.startswith("/")
        assert "//" not in reading
        assert "/./" not in reading + "/"
        assert "/../" not in reading + "/"


safe_names = st.text(
    alphabet=st.characters(whitelist_categories=("Ll", "Lu", "Nd"), max_codepoint=0x2FF),
    min_size=1,
    max_size=8,
)


@given(st.lists(safe_names, max_size=6))
def test_plain_paths_below_the_root_are_contained(names: list[str]) -> None:
    raw = "/data/" + "/".join(names)
    assert is_under(raw, ["/data"]) is True
    assert is_under(raw, ["/database"]) is False


@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_canonicalization_error(raw: str) -> None:
    try:
        first = canonical_path(raw)
    except CanonicalizationError:
        pass
    else:
        assert canonical_path(first) == first
    try:
        result = is_under(raw, ["/data"])
    except CanonicalizationError:
        return
    assert isinstance(result, bool)


@given(st.text(alphabet="/.\\%2eEfF5cC\uff0e\uff0f", max_size=40))
def test_dot_and_slash_soup_only_raises_canonicalization_error(raw: str) -> None:
    try:
        readings = path_interpretations(raw)
    except CanonicalizationError:
        return
    for reading in readings:
        # Each reading is already resolved: reading it again finds it unchanged.
        assert reading in path_interpretations(reading)


@given(st.text(alphabet="/.ab", max_size=30).map(lambda s: "/" + s))
def test_plain_ascii_paths_resolve_like_posix_normpath(raw: str) -> None:
    expected = posixpath.normpath(raw)
    if expected.startswith("//"):
        expected = "/" + expected.lstrip("/")  # POSIX keeps a leading "//"; we collapse it
    assert canonical_path(raw) == expected
