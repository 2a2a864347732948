"""The cheap secret prefilter must let through every string the full scan could match."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.audit.redact import _BUILTIN_RE, _might_contain_secret

# The prefilter's specification: the regex it replaced, with its case-insensitive group.
REFERENCE = re.compile(
    r"AKIA|ASIA|gh|github_pat_|xox|k_live_|k_test_|sk-|AIza|eyJ|-----BEGIN|://"
    r"|(?i:bearer|pass|pwd|secret|key|token)"
)

# Pieces that build markers, their case variants and the characters IGNORECASE folds
# onto ASCII letters (Kelvin sign, long s, dotless i, dotted capital I).
pieces = st.sampled_from(
    ["AKIA", "ASIA", "g", "h", "xox", "k_live_", "sk-", "AIza", "eyJ", "-----BEGIN", ":/", "/",
     "BeArEr", "pa", "ss", "PWD", "secr", "ET", "key", "KEY", "\u212aey", "pa\u017f\u017f",
     "to", "ken", "TOKEN", "\u0131", "\u0130", "\u00df", " ", "=", "x", "Z"]
)  # fmt: skip
texts = st.lists(pieces, max_size=12).map("".join) | st.text(max_size=40)


@settings(max_examples=600)
@given(texts)
def test_prefilter_lets_through_everything_its_reference_did(text: str) -> None:
    # casefold() may also fire where the reference did not ("pa\u00df" folds to "pass"):
    # that only costs a full scan, never a missed secret.
    if len(text) >= 8 and REFERENCE.search(text) is not None:
        assert _might_contain_secret(text)


@settings(max_examples=300)
@given(texts)
def test_nothing_the_full_scan_matches_is_skipped(text: str) -> None:
    if _BUILTIN_RE.search(text) is not None:
        assert _might_contain_secret(text)


def test_folded_characters_still_reach_the_full_scan() -> None:
    for text in (
        "Authorization: BEARER abcdefghijklmnop",
        "pa\u017f\u017fword=hunter22",
        "\u212aEY=abcdefgh",
    ):
        assert _might_contain_secret(text), text
