"""Strict e-mail address parsing for policy checks on recipients and senders.

RFC 5322 allows display names, comments, quoted local parts and folding whitespace; mail
software disagrees about all of them, and each disagreement can send a message somewhere a
policy did not approve (``"a@allowed.com"@evil.com``, ``a@allowed.com(@evil.com)``). A
policy only needs plain addresses, so only plain addresses are accepted: one ``@``, an
ASCII dot-atom local part, and a domain canonicalised exactly like a URL host.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ztgate.core.canon._common import fail, type_error
from ztgate.core.canon._host import parse_host
from ztgate.core.canon.text import has_invisible

__all__ = ["MAX_LOCAL_LENGTH", "EmailAddress", "parse_email"]

#: Longest local part (RFC 5321 section 4.5.3.1.1).
MAX_LOCAL_LENGTH: Final = 64

# Refuse absurd input before any work: 64 + 1 + 253, with room for Unicode domains.
_MAX_INPUT: Final = 1024
_ATOM_RE: Final = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+")
_LAYOUT_RE: Final = re.compile(r"[\t\n\r]")
_WHITESPACE_RE: Final = re.compile(r"\s")
_SURROGATE_RE: Final = re.compile("[\ud800-\udfff]")
# Dots as UTS #46 reads them: a domain may not end in any of these.
_DOTS: Final = (".", "\u3002", "\uff0e", "\uff61")


@dataclass(frozen=True, slots=True)
class EmailAddress:
    """A plain address: the local part as written, the domain canonical (lowercase ASCII).

    The local part keeps its case: RFC 5321 leaves its interpretation to the receiving
    domain, so ``Alice`` and ``alice`` are not assumed to be one mailbox.
    """

    local: str
    domain: str

    def __str__(self) -> str:
        return f"{self.local}@{self.domain}"


def parse_email(raw: str) -> EmailAddress:
    """Parse a plain ``local@domain`` address strictly.

    Raises :class:`~ztgate.errors.CanonicalizationError` for display names, comments,
    quoted local parts, whitespace, control or invisible characters, more or fewer than
    one ``@``, a local part that is not a dot-atom of at most 64 characters, or a domain
    that is not a valid DNS name of at most 253 characters (IP literals are refused).
    """
    if not isinstance(raw, str):
        raise type_error("e-mail address", raw)
    if not raw:
        raise fail("e-mail address", raw, "is empty", reason="empty")
    if len(raw) > _MAX_INPUT:
        raise fail("e-mail address", raw, "is too long", reason="too_long")
    if _SURROGATE_RE.search(raw) is not None:
        raise fail("e-mail address", raw, "contains a lone surrogate", reason="invalid_unicode")
    if _LAYOUT_RE.search(raw) is not None or has_invisible(raw):
        raise fail(
            "e-mail address",
            raw,
            "contains a control or invisible character",
            reason="invisible_char",
        )
    if _WHITESPACE_RE.search(raw) is not None:
        raise fail("e-mail address", raw, "contains whitespace", reason="whitespace")
    if raw.count("@") != 1:
        raise fail("e-mail address", raw, "must contain exactly one `@`", reason="bad_email")
    local, domain = raw.split("@")
    if not local or len(local) > MAX_LOCAL_LENGTH:
        raise fail(
            "e-mail address",
            raw,
            f"must have a local part of 1 to {MAX_LOCAL_LENGTH} characters",
            reason="bad_local_part",
        )
    if not all(_ATOM_RE.fullmatch(atom) for atom in local.split(".")):
        raise fail(
            "e-mail address",
            raw,
            "has a local part that is not a plain dot-atom",
            reason="bad_local_part",
        )
    # Percent-escapes belong to URLs; in an address they would only hide the real domain.
    if not domain or domain.endswith(_DOTS) or "[" in domain or "%" in domain:
        raise fail("e-mail address", raw, "has an invalid domain", reason="bad_domain")
    host = parse_host(domain, raw=raw, what="e-mail address", part="domain")
    if host.kind != "dns":
        raise fail(
            "e-mail address", raw, "has an IP address instead of a domain", reason="bad_domain"
        )
    return EmailAddress(local, host.text)
