"""Prompt-injection detection: rules and the model, over the text and what it decodes to.

The score of a string is the model's probability for its most suspicious window, raised
to ``RULE_SCORE`` (see :mod:`ztgate.guard.injection.rules`) when a rule matches, over the
text itself and every layer the decoders recovered from it (base64, entities, tag
characters ...). A hidden layer is
scored like visible text, so encoding an attack does not lower its score.

The model alone needs some evidence before it may speak: text with fewer than
``MIN_MODEL_LETTERS`` letters, in any script (a key name such as ``record_id``, an id,
"yes please"), gets model probability 0, and only the rules can flag it. A character
n-gram model has nothing to go on in a couple of words, and those strings are exactly
the tool arguments and JSON keys that pass through every call, where a false positive
costs an approval request or a tainted session each time. An instruction needs words;
the rules still see every string whatever its length. Measured cost: on the
neuralchemy test split recall goes from 93.3% to 90.8% (14 fragments of under ten
letters, such as character-by-character obfuscations cut short); s-labs is unchanged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from itertools import islice

from ztgate.guard.decoders import Decoded, decode_layers
from ztgate.guard.fold import fold
from ztgate.guard.injection.model import InjectionModel, default_model
from ztgate.guard.injection.rules import RULE_SCORE, RuleHit, match_rules
from ztgate.guard.view import build_view


@dataclass(frozen=True, slots=True)
class InjectionAssessment:
    """Why a string scored what it did: the layer, the rule hits and the model's view."""

    score: float
    model_probability: float
    rules: tuple[RuleHit, ...]
    layer: str  # "text" or the decoder that revealed the scored content
    window: tuple[int, int]  # offsets in the folded text of the deciding layer


MIN_MODEL_LETTERS = 10
_LETTER = re.compile(r"[^\W\d_]")


def has_model_evidence(folded: str) -> bool:
    """True if ``folded`` has at least ``MIN_MODEL_LETTERS`` letters for the model to judge."""
    found = islice(_LETTER.finditer(folded), MIN_MODEL_LETTERS)
    return len(list(found)) >= MIN_MODEL_LETTERS


def prepare(text: str) -> str:
    """The folded form of raw text, exactly as training saw it."""
    return fold(build_view(text).text)


def assess_folded(folded: str, layer: str, model: InjectionModel) -> InjectionAssessment:
    """Score one already-folded string with the model and the rules."""
    window = model.score(folded)
    probability = window.probability if has_model_evidence(folded) else 0.0
    hits = tuple(match_rules(folded))
    rule_score = RULE_SCORE if hits else 0.0
    return InjectionAssessment(
        score=max(probability, rule_score),
        model_probability=probability,
        rules=hits,
        layer=layer,
        window=(window.window_start, window.window_end),
    )


def assess(
    view_text: str, layers: list[Decoded], model: InjectionModel | None = None
) -> InjectionAssessment:
    """The most suspicious of ``view_text`` and its decoded ``layers``."""
    active = model or default_model()
    best = assess_folded(fold(view_text), "text", active)
    for layer in layers:
        candidate = assess_folded(fold(layer.text), layer.kind, active)
        if candidate.score > best.score:
            best = candidate
    return best


def injection_score(text: str, model: InjectionModel | None = None) -> float:
    """The injection score of raw text in ``[0, 1]`` (what ``guard eval`` measures)."""
    view = build_view(text)
    return assess(view.text, decode_layers(view.text, view.tag_text), model).score
