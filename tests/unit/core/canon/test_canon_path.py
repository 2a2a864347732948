"""Known-answer and behaviour tests for ztgate.core.canon.path."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ztgate.core.canon import path as canon_path
from ztgate.core.canon.path import (
    MAX_PATH_LENGTH,
    canonical_path,
    is_under,
    path_interpretations,
)
from ztgate.errors import CanonicalizationError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "vectors" / "canon" / "paths.json").read_text("utf-8")
)


def _ids(cases: list[dict[str, Any]]) -> list[str]:
    return [ascii(c["input"])[:48] for c in cases]


@pytest.mark.parametrize("case", VECTORS["canonical_path"], ids=_ids(VECTORS["canonical_path"]))
def test_canonical_path_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(CanonicalizationError) as info:
            canonical_path(case["input"])
        assert info.value.reason == case["error"]
    else:
        assert canonical_path(case["input"]) == case["expected"]
        # A canonical path is a fixed point.
        assert canonical_path(case["expected"]) == case["expected"]


@pytest.mark.parametrize("case", VECTORS["is_under"], ids=_ids(VECTORS["is_under"]))
def test_is_under_vectors(case: dict[str, Any]) -> None:
    if "error" in case:
        with pytest.raises(CanonicalizationError) as info:
            is_under(case["input"], case["roots"])
        assert info.value.reason == case["error"]
    else:
        assert is_under(case["input"], case["roots"]) is case["expected"]


@pytest.mark.parametrize(
    "case", VECTORS["path_interpretations"], ids=_ids(VECTORS["path_interpretations"])
)
def test_path_interpretations_vectors(case: dict[str, Any]) -> None:
    assert path_interpretations(case["input"]) == tuple(case["expected"])


@pytest.mark.parametrize("roots", VECTORS["invalid_roots"])
def test_invalid_roots_are_value_errors(roots: list[str]) -> None:
    with pytest.raises(ValueError, match="invalid path root"):
        is_under("/data/x", roots)


def test_single_string_roots_are_refused() -> None:
    # A str is a Sequence[str]; iterating it would check against "/", "d", "a" ...
    with pytest.raises(ValueError, match="not a single string"):
        is_under("/data/x", "/data")


def test_non_string_root_is_refused() -> None:
    with pytest.raises(ValueError, match="must be a string"):
        is_under("/data/x", [1])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="must be strings"):
        is_under("/data/x", [["/data"]])  # type: ignore[list-item]


@pytest.mark.parametrize("value", [None, 7, b"/data", Path("/data")])
def test_non_string_paths_are_errors(value: object) -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_path(value)  # type: ignore[arg-type]
    assert info.value.reason == "not_a_string"
    with pytest.raises(CanonicalizationError):
        is_under(value, ["/data"])  # type: ignore[arg-type]


def test_first_interpretation_is_the_canonical_path() -> None:
    raw = "/data/%2e%2e/x\\y"
    assert path_interpretations(raw)[0] == canonical_path(raw)


def test_length_limit_is_exact() -> None:
    assert canonical_path("/" + "a" * (MAX_PATH_LENGTH - 1)) == "/" + "a" * (MAX_PATH_LENGTH - 1)
    with pytest.raises(CanonicalizationError):
        canonical_path("/" + "a" * MAX_PATH_LENGTH)


def test_too_many_decodings_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # Every decoding round can multiply the spellings; past the bound the input is refused
    # instead of analysed at growing cost. This input has 11 spellings; lower the bound.
    hostile = "/d/\uff05\uff12\uff15\uff05\uff13\uff12\uff05\uff13\uff15%32%35%32%66%2f"
    assert len(path_interpretations(hostile)) > 1
    monkeypatch.setattr(canon_path, "_MAX_SPELLINGS", 4)
    canon_path._interpretations_memo.cache_clear()  # the first answer was memoised
    with pytest.raises(CanonicalizationError) as info:
        path_interpretations(hostile)
    assert info.value.reason == "too_ambiguous"


def test_memoised_answers_match_fresh_ones() -> None:
    raw = "/data/%2e%2e/etc"
    first = path_interpretations(raw)
    canon_path._interpretations_memo.cache_clear()
    assert path_interpretations(raw) == first
    assert canon_path._interpretations(raw) == first
    long_raw = "/data/" + "a" * 2000 + "/%2e%2e/x"  # too long to memoise, same rules
    assert path_interpretations(long_raw) == (long_raw, "/data/x")


def test_still_encoded_after_four_rounds_is_refused() -> None:
    assert is_under("/data/%2525252e", ["/data"])  # four layers: decodes to "/data/."
    with pytest.raises(CanonicalizationError) as info:
        is_under("/data/%252525252e", ["/data"])  # five layers
    assert info.value.reason == "too_deeply_encoded"


def test_error_message_quotes_input_briefly() -> None:
    with pytest.raises(CanonicalizationError) as info:
        canonical_path("relative/" + "x" * 300)
    message = str(info.value)
    assert message.startswith("path `relative/")
    assert message.endswith("is not absolute")
    assert len(message) < 150
