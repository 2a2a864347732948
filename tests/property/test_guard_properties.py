"""Property tests for the guard scanners: no input makes them raise, run past their
bounds, lose a redaction, or change their verdict under invisible disguises."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import re2
from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.guard import commands, decoders, network, pii, secrets
from ztgate.guard._regex import Pattern
from ztgate.guard.commands import scan_command
from ztgate.guard.content import Limits, walk
from ztgate.guard.decoders import MAX_BLOBS, MAX_DECODED, decode_layers
from ztgate.guard.findings import FindingType
from ztgate.guard.injection import rules
from ztgate.guard.injection.detector import prepare
from ztgate.guard.injection.model import default_model
from ztgate.guard.policy import GuardPolicy, apply
from ztgate.guard.scan import Profile, scan
from ztgate.guard.view import build_view

CAP = Limits(max_chars=20_000, max_depth=16, max_nodes=2_000)
GENEROUS = settings(max_examples=60, deadline=timedelta(seconds=10))

# Characters that exercise every scanner: digits and separators (cards, phones, IBANs),
# base64 and hex alphabets, shell operators, path and URL syntax, quotes, invisible and
# bidi characters, tag characters, fullwidth and Cyrillic look-alikes.
ADVERSARIAL = st.sampled_from(
    [
        *"0123456789 -./\\:;|&$()`'\"%=+_@#~<>{}[]\nAaZzxXeEyJ",
        "\u200b",
        "\u202e",
        "\ufeff",
        "\U000e0041",
        "\uff0e",
        "\u0430",
        "\u00ad",
        "&#",
        "%2e",
    ]
)
adversarial_text = st.lists(ADVERSARIAL, max_size=400).map("".join)
# Lone surrogates included: JSON escapes ("\\ud800") produce them in real input.
any_text = st.text(st.characters(exclude_categories=()), max_size=400)
repeated = st.builds(
    lambda unit, n: unit * n,
    st.sampled_from(["a", "A1", "%41", "../", "&#65;", "\\x41", "eyJ", "4", "9 ", "$(", "|sh"]),
    st.integers(min_value=1, max_value=5_000),
)

JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | any_text,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(any_text, children, max_size=5)
    ),
    max_leaves=30,
)


def _check_result(content: Any, profile: Profile) -> None:
    result = scan(content, profile, limits=CAP)
    assert 0.0 <= result.injection_score <= 1.0
    leaves = {leaf.path: leaf.text for leaf in walk(content, CAP).leaves}
    for finding in result.findings:
        assert 0.0 <= finding.confidence <= 1.0
        if finding.span is not None and finding.path in leaves:
            assert 0 <= finding.span.start <= finding.span.end <= len(leaves[finding.path])


@GENEROUS
@given(st.one_of(any_text, adversarial_text, repeated), st.sampled_from(list(Profile)))
def test_no_scanner_raises_on_any_text(text: str, profile: Profile) -> None:
    _check_result(text, profile)


@GENEROUS
@given(JSONISH, st.sampled_from(list(Profile)))
def test_no_scanner_raises_on_any_json(content: Any, profile: Profile) -> None:
    _check_result(content, profile)


@GENEROUS
@given(st.one_of(adversarial_text, repeated))
def test_decoding_work_is_bounded(text: str) -> None:
    layers = decode_layers(text)
    assert len(layers) <= MAX_BLOBS
    assert sum(len(layer.text) for layer in layers) <= MAX_DECODED


@GENEROUS
@given(st.integers(min_value=1, max_value=5), repeated)
def test_content_beyond_the_cap_is_reported_and_not_scanned(copies: int, text: str) -> None:
    content = [text] * copies
    walked = walk(content, CAP)
    assert sum(len(leaf.text) for leaf in walked.leaves) <= CAP.max_chars
    total = len(text) * copies
    assert bool(walked.exceeded) == (total > CAP.max_chars)
    result = scan(content, Profile.TOOL_OUTPUT, limits=CAP)
    assert bool(result.of_type(FindingType.LIMIT_EXCEEDED)) == (total > CAP.max_chars)


@GENEROUS
@given(st.one_of(any_text, adversarial_text))
def test_command_parser_never_raises(text: str) -> None:
    for finding in scan_command(text):
        assert finding.type is FindingType.DANGEROUS_COMMAND


@GENEROUS
@given(
    any_text,
    any_text,
    st.sampled_from(["4111 1111 1111 1111", "ann@example.org", "AKIAIOSFODNN7EXAMPLE"]),
)
def test_redaction_never_leaks_an_inserted_value(before: str, after: str, value: str) -> None:
    text = f"{before} {value} {after}"
    redacted = scan(text, Profile.TOOL_OUTPUT, limits=CAP).redacted_text
    assert redacted is not None
    assert value not in redacted


@GENEROUS
@given(any_text, st.lists(st.integers(min_value=0, max_value=400), max_size=20))
def test_invisible_characters_do_not_change_the_model_score(
    text: str, positions: list[int]
) -> None:
    disguised = list(text)
    for position in sorted(positions, reverse=True):
        disguised.insert(min(position, len(disguised)), "\u200b")
    model = default_model()
    plain = model.score(prepare(text)).probability
    assert abs(model.score(prepare("".join(disguised))).probability - plain) < 1e-9


@GENEROUS
@given(any_text)
def test_view_offsets_point_into_the_original(text: str) -> None:
    view = build_view(text)
    if view.offsets is not None:
        assert len(view.offsets) == len(view.text)
        assert all(0 <= i < len(text) for i in view.offsets)
        assert list(view.offsets) == sorted(view.offsets)


@GENEROUS
@given(JSONISH)
def test_an_empty_guard_policy_still_denies_unscanned_content(content: Any) -> None:
    result = scan(content, Profile.TOOL_OUTPUT, limits=Limits(max_chars=5))
    verdict = apply(GuardPolicy(()), "tool", "outputs", result)
    assert verdict.denied == bool(result.exceeded)


def test_every_untrusted_text_pattern_is_linear_time() -> None:
    """Scanners match untrusted text only with RE2 (no backtracking) patterns."""
    patterns = [
        secrets._COMBINED,
        secrets._CANDIDATE,
        pii._COMBINED,
        network._URL,
        network._PATHISH,
        network._TRAVERSAL,
        decoders._BASE64,
        decoders._HEX,
        decoders._ESCAPE_RUN,
        rules._COMBINED,
        commands._SUBSTITUTION,
        commands._FORK_BOMB,
        commands._INTERESTING,
        pii._DATE,
        decoders._ENTITY,
        decoders._PERCENT,
        decoders._ESCAPE,
        network._SENSITIVE_NAMES,
    ]
    compiled = [p.wrapped if isinstance(p, Pattern) else p for p in patterns]
    assert all(type(p) is type(re2.compile("x")) for p in compiled)


# Each detector on its own (not only behind scan(), whose view replaces lone surrogates):
# text with lone surrogates, which RE2's UTF-8 input cannot hold, must not make one raise.
_DETECTORS = (
    secrets.scan_secrets,
    pii.scan_pii,
    network.scan_urls,
    network.scan_paths,
    network.scan_address,
    decoders.decode_layers,
    scan_command,
)
surrogate_text = st.lists(
    st.one_of(
        st.sampled_from(["\ud800", "\udfff", "\udc80"]),
        st.sampled_from(["rm -rf /", "http://169.254.169.254/", "4111 1111 1111 1111"]),
        st.sampled_from(["ann@example.org", "../../etc/passwd", "AKIAIOSFODNN7EXAMPLE", " "]),
    ),
    min_size=1,
    max_size=12,
).map("".join)


@GENEROUS
@given(surrogate_text, st.sampled_from(_DETECTORS))
def test_detectors_never_raise_on_lone_surrogates(text: str, detector: Any) -> None:
    found = detector(text)
    assert isinstance(found, list)
    for item in found:  # findings locate text inside the input; decoded layers are text
        span = getattr(item, "span", None)
        assert span is None or 0 <= span.start <= span.end <= len(text)


# Digits, separators and capitals: what phone, IBAN and card patterns are made of, so the
# text around a card is likely to be matched together with it.
NUMBERISH = st.text(alphabet="0123456789 -.+()ABGZ", max_size=30)
CARDS = st.sampled_from(
    ["4111 1111 1111 1111", "5555 5555 5555 4444", "4012888888881881", "378282246310005"]
)


@GENEROUS
@given(NUMBERISH, NUMBERISH, CARDS)
def test_a_card_is_found_whatever_numbers_surround_it(before: str, after: str, card: str) -> None:
    """A valid card set off by spaces is redacted whole, however much number-like text
    surrounds it: a match that validates as nothing (a bad IBAN, an over-long phone) or as
    a phone ending inside the card must not hide it, and where the groups of a run could
    form two cards the redaction covers both."""
    text = f"{before} {card} {after}"
    at = len(before) + 1
    redactions = [f.redaction for f in pii.scan_pii(text) if f.redaction is not None]
    assert any(r.start <= at and at + len(card) <= r.end for r in redactions), text


IBANS = st.sampled_from(["GB82 WEST 1234 5698 7654 32", "DE89370400440532013000"])
IBANISH = st.text(alphabet="0123456789 ABGWZ-.", max_size=30)


@GENEROUS
@given(IBANISH, IBANISH, IBANS)
def test_an_iban_is_redacted_whatever_groups_surround_it(
    before: str, after: str, iban: str
) -> None:
    """Groups after an IBAN ride along in its pattern and groups before it can start a
    failed match; the country's length and the rescan keep either from hiding it."""
    text = f"{before} {iban} {after}"
    redacted = scan(text, Profile.TOOL_OUTPUT, limits=CAP).redacted_text
    assert redacted is not None
    assert iban not in redacted, text
