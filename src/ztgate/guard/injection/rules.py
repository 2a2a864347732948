"""Fast rules for well-known prompt-injection shapes.

The model generalises; rules pin down the attacks that are so common and so unambiguous
that missing one would be embarrassing ("ignore all previous instructions", fake system
turns, "you are now DAN", requests to reveal the system prompt). They run on folded text
(lowercase, confusables mapped, whitespace collapsed) in one RE2 pass, and each rule was
checked against the benign training and validation text (a handful of hits, all on
questions that quote an attack). A rule hit flags the text whatever the model says: its
score becomes :data:`RULE_SCORE`, above any threshold the training script can choose.
"""

from __future__ import annotations

from dataclasses import dataclass

import re2

#: The injection score of text that matches a rule.
RULE_SCORE = 0.995

_INSTR = (
    r"(?:instructions?|prompts?|rules|directions|directives|guidelines|guidance|commands?|"
    r"context|programming|orders|constraints|restrictions|polic(?:y|ies))"
)


@dataclass(frozen=True, slots=True)
class Rule:
    """One named attack shape with the confidence a match deserves."""

    name: str
    pattern: str
    confidence: float


RULES: tuple[Rule, ...] = (
    Rule(
        "override_instructions",
        rf"\b(?:ignore|disregard|forget|override|bypass|skip|drop|abandon|discard|neglect)\b"
        rf"(?: (?:all|any|every|of|the|your|my|previous|prior|above|earlier|preceding|"
        rf"former|original|initial|existing|current|system|developer|safety|old|these|"
        rf"those|and|or|other)){{1,4}} {_INSTR}\b",
        0.97,
    ),
    Rule(
        "new_instructions",
        r"\b(?:new|updated|real|actual|true|revised|secret|hidden) (?:system )?"
        r"(?:instructions?|directives?|orders|task)\s?:",
        0.9,
    ),
    Rule(
        "fake_system_turn",
        r"(?:<\|?(?:im_start|im_end|system|endoftext|start_header_id)\|?>|\[/?(?:inst|system)\]|"
        r"<</?sys>>|^#{2,} ?(?:system|instruction)s?\b|\bsystem (?:override|message|notice)"
        r"\s?:)",
        0.95,
    ),
    Rule(
        "reveal_system_prompt",
        r"\b(?:reveal|print|show|display|output|repeat|leak|dump|tell me|give me|share|"
        r"expose|disclose|recite|echo)\b(?: \w+){0,3} (?:system|initial|hidden|original|"
        r"secret|internal|developer) (?:prompt|instructions|message|configuration|rules)\b",
        0.93,
    ),
    Rule(
        "jailbreak_persona",
        r"\b(?:you are now|you're now|act as|pretend to be|from now on,? you are|"
        r"you will now act as) (?:an? )?(?:dan|unrestricted|unfiltered|uncensored|jailbroken|"
        r"evil|developer mode|do anything now|stan|dude|aim)\b|\bdo anything now\b|"
        r"\b(?:developer|god|jailbreak|dan) mode (?:enabled|activated|on)\b",
        0.95,
    ),
    Rule(
        "no_restrictions",
        r"\b(?:without|free of|no|ignore|ignoring) (?:any |all )?(?:ethical |moral |safety )?"
        r"(?:restrictions|filters|limitations|guidelines|censorship|rules)\b"
        r"(?: \w+){0,4} (?:respond|answer|reply|comply|tell|provide|do)\b",
        0.85,
    ),
    Rule(
        "hide_from_user",
        r"\b(?:do not|don't|never) (?:tell|inform|alert|notify|mention (?:this )?to) "
        r"(?:the )?(?:user|human|operator|admin)",
        0.9,
    ),
    Rule(
        "addressed_to_model",
        r"\b(?:attention|note|important|instruction|message)s? (?:for|to) (?:the |any )?"
        r"(?:ai|llm|assistant|language model|agent|chatbot|model)\b(?: \w+){0,3}\s?:",
        0.9,
    ),
)

# Every rule needs at least one of these substrings of the folded text: each alternative
# of each pattern above contains one literally (override_instructions and
# reveal_system_prompt end in an instruction word, no_restrictions in a rule word,
# new_instructions and addressed_to_model in ":", fake_system_turn has "<", "[", "#" or
# ":", jailbreak_persona "now", "act as", "pretend" or "mode", hide_from_user names a
# person). Text with none of them cannot match, and the RE2 call is skipped: the binding
# releases the GIL on every call, which costs a thread switch whenever another thread
# (the audit writer, a server's workers) is busy. A property test holds the claim.
_TRIGGERS = (
    "instruction", "prompt", "rules", "directi", "guid", "command", "context", "programming",
    "orders", "constraint", "restriction", "polic", ":", "<", "[", "#", "message",
    "configuration", "now", "act as", "pretend", "mode", "filter", "limitation", "censorship",
    "user", "human", "operator", "admin",
)  # fmt: skip


def may_match_rules(folded: str) -> bool:
    """A necessary condition for :func:`match_rules` to find anything: ``False`` proves
    no rule matches, ``True`` proves nothing."""
    return any(trigger in folded for trigger in _TRIGGERS)


_COMBINED = re2.compile(
    "|".join(f"(?P<r{i}>{rule.pattern})" for i, rule in enumerate(RULES)),
    options=None,
)
_GROUP_INDEX = dict(_COMBINED.groupindex)
_TOP_GROUPS = tuple(_GROUP_INDEX[f"r{i}"] for i in range(len(RULES)))


@dataclass(frozen=True, slots=True)
class RuleHit:
    """A rule that matched, where in the folded text, and its confidence."""

    rule: str
    start: int
    end: int
    confidence: float


def match_rules(folded: str) -> list[RuleHit]:
    """Every rule match in already-folded text, in order."""
    if not may_match_rules(folded):
        return []
    hits = []
    for match in _COMBINED.finditer(folded):
        index = next(i for i, group in enumerate(_TOP_GROUPS) if match.start(group) >= 0)
        rule = RULES[index]
        hits.append(RuleHit(rule.name, match.start(), match.end(), rule.confidence))
    return hits
