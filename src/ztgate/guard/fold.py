r"""Folding for detection: the text an injection detector compares, not the text it returns.

After canonicalisation (NFKC, invisible characters removed) attackers still have
look-alike letters from other scripts (Cyrillic ``\u0430`` for Latin ``a``), case games
(``IgNoRe``) and spacing. Folding maps confusable letters to their Latin look-alikes,
lowercases, and collapses whitespace, so ``\u0406gn\u043ere   \u03a1REVIOUS`` and
``ignore previous`` produce the same features. The result is never shown or returned: only compared.
"""

from __future__ import annotations

# Letters from Cyrillic, Greek, Armenian and IPA that render like Latin letters. Only
# lowercase targets are needed because folding lowercases first.
_CONFUSABLES = {
    "\u0430": "a", "\u0432": "b", "\u0435": "e", "\u0451": "e", "\u043a": "k", "\u043c": "m",
    "\u043d": "h", "\u043e": "o", "\u0440": "p", "\u0441": "c", "\u0442": "t", "\u0443": "y",
    "\u0445": "x", "\u0455": "s", "\u0456": "i", "\u0457": "i", "\u0458": "j", "\u0501": "d",
    "\u04cf": "l", "\u04bb": "h", "\u051b": "q", "\u051d": "w", "\u044c": "b", "\u0251": "a",
    "\u0261": "g", "\u0269": "i", "\u026a": "i", "\u029f": "l", "\u0274": "n", "\u0280": "r",
    "\ua731": "s", "\u1d00": "a", "\u0299": "b", "\u1d04": "c", "\u1d05": "d", "\u1d07": "e",
    "\u1d0b": "k", "\u1d0d": "m", "\u1d0f": "o", "\u1d18": "p", "\u1d1b": "t", "\u1d1c": "u",
    "\u1d20": "v", "\u1d21": "w", "\u1d22": "z", "\u03b1": "a", "\u03b2": "b", "\u03b3": "y",
    "\u03b5": "e", "\u03b7": "n", "\u03b9": "i", "\u03ba": "k", "\u03bd": "v", "\u03bf": "o",
    "\u03c1": "p", "\u03c4": "t", "\u03c5": "u", "\u03c7": "x", "\u03c9": "w", "\u03c2": "c",
    "\u03f2": "c", "\u03f3": "j", "\u0585": "o", "\u057d": "u", "\u0581": "g", "\u0570": "h",
    "\u0578": "n", "\u0580": "r", "\u0566": "q", "\u0131": "i", "\u0237": "j", "\u2113": "l",
}  # fmt: skip
_TABLE = str.maketrans(_CONFUSABLES)


def fold(text: str) -> str:
    """Lowercase, map confusable letters to Latin, and collapse runs of whitespace."""
    lowered = text.lower()
    if not lowered.isascii():
        lowered = lowered.translate(_TABLE)
    return " ".join(lowered.split())
