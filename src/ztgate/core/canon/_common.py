"""Helpers shared by the canonicalisers: error construction that never echoes much input."""

from __future__ import annotations

from ztgate.errors import CanonicalizationError

#: Longest slice of untrusted input quoted in an error message.
EXCERPT_CHARS = 80


def excerpt(unverified_text: str) -> str:
    """A short, printable rendering of untrusted input for an error message.

    Non-printable characters (controls, invisible format characters, lone surrogates) are
    shown as ``\\u{...}`` escapes so that an error message can never itself smuggle hidden
    text into a log, and the result is cut at :data:`EXCERPT_CHARS` characters.
    """
    head = unverified_text[:EXCERPT_CHARS]
    shown = "".join(ch if ch.isprintable() and ch != "`" else f"\\u{{{ord(ch):x}}}" for ch in head)
    if len(unverified_text) > EXCERPT_CHARS:
        shown += "..."
    return shown


def fail(what: str, unverified_text: str, problem: str, *, reason: str) -> CanonicalizationError:
    """Build the error for ``what`` (``"path"``, ``"url"`` ...) quoting the input safely."""
    return CanonicalizationError(f"{what} `{excerpt(unverified_text)}` {problem}", reason=reason)


def type_error(what: str, value: object) -> CanonicalizationError:
    """Build the error for a value that is not a string at all."""
    return CanonicalizationError(
        f"{what} must be a string, not `{type(value).__name__}`", reason="not_a_string"
    )
