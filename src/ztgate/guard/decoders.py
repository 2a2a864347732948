"""Undo the encodings attackers use to hide text from filters: base64, hex, HTML
entities, percent-encoding, backslash escapes and Unicode tag characters.

Each decoder finds candidate regions with a linear RE2 pattern, decodes them, and keeps
only results that read like text (binary data and hashes are left alone). Decoding is
bounded: at most :data:`MAX_BLOBS` regions and :data:`MAX_DECODED` characters per scan,
and one level of nesting (base64 inside HTML entities, say), so a hostile input cannot
make the scanner do unbounded work.
"""

from __future__ import annotations

import base64
import binascii
import html
import urllib.parse
from dataclasses import dataclass

from ztgate.guard._regex import Pattern, Spans
from ztgate.guard.findings import Span

MAX_BLOBS = 32
MAX_DECODED = 65536
MAX_DEPTH = 2

_BASE64 = Pattern(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = Pattern(r"(?:[0-9A-Fa-f]{2}){12,}")
_ENTITY = Pattern(r"&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});")
_PERCENT = Pattern(r"%[0-9A-Fa-f]{2}")
_ESCAPE = Pattern(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})")
_ESCAPE_RUN = Pattern(r"(?:\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})|[\x20-\x5b\x5d-\x7e])+")


@dataclass(frozen=True, slots=True)
class Decoded:
    """Text recovered from an encoded region ``span`` of the scanned (view) string."""

    kind: str
    span: Span
    text: str


def _text_like(raw: bytes) -> str | None:
    """Decode bytes as UTF-8 text if they read like text, else ``None``."""
    if len(raw) < 8:
        return None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return None
    printable = sum(1 for ch in text if ch.isprintable() or ch in "\t\n\r")
    letters = sum(1 for ch in text if ch.isalpha() or ch == " ")
    if printable / len(text) < 0.95 or letters / len(text) < 0.6:
        return None
    return text


def _base64(token: str) -> str | None:
    body = token.rstrip("=")
    if len(body) % 4 == 1:
        return None
    standard = body.replace("-", "+").replace("_", "/")
    try:
        raw = base64.b64decode(standard + "=" * (-len(standard) % 4), validate=True)
    except (binascii.Error, ValueError):
        return None
    return _text_like(raw)


def _unescape(run: str, escapes: list[Spans]) -> str:
    """``run`` with every ``\\xNN``/``\\uNNNN`` escape at ``escapes`` replaced by its
    character (a lone surrogate becomes U+FFFD: it is not text)."""
    pieces: list[str] = []
    cursor = 0
    for spans in escapes:
        start, end = spans[0]
        code = int(run[start + 2 : end], 16)
        pieces.append(run[cursor:start])
        pieces.append("\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code))
        cursor = end
    pieces.append(run[cursor:])
    return "".join(pieces)


_SHORTEST_BLOB = 16


def may_decode(text: str) -> bool:
    """A necessary condition for :func:`decode_layers` to find an encoded region (tag
    characters aside), in a few string operations: ``False`` proves there is none.

    Entities need ``&#``, percent-encoding ``%``, escapes a backslash; base64 and hex need
    a run of 16 characters from ``[A-Za-z0-9+/_-]``, which holds no whitespace and so sits
    inside one whitespace-separated word. A property test checks this against the decoder.
    """
    if "&#" in text or "%" in text or "\\" in text:
        return True
    return len(text) >= _SHORTEST_BLOB and max(map(len, text.split()), default=0) >= _SHORTEST_BLOB


def _decode_once(text: str) -> list[Decoded]:
    found: list[Decoded] = []
    # Hex runs are a subset of the base64 alphabet, so one pass finds both.
    for spans in _BASE64.all_spans(text):
        start, end = spans[0]
        token = text[start:end]
        if token.isalpha() or token.isdigit():
            continue  # long words and numbers are not base64 worth decoding
        if _HEX.fullmatch(token):
            kind, decoded = "hex", _text_like(bytes.fromhex(token))
        else:
            kind, decoded = "base64", _base64(token)
        if decoded is not None:
            found.append(Decoded(kind, Span(start, end), decoded))
        if len(found) >= MAX_BLOBS:
            return found
    if "&#" in text and _ENTITY.count(text) >= 4:
        found.append(Decoded("html_entities", Span(0, len(text)), html.unescape(text)))
    if "%" in text:
        percents = [text[s + 1 : e] for (s, e), *_ in _PERCENT.all_spans(text)]
        if len(percents) >= 3:
            decoded = urllib.parse.unquote(text)
            letters = sum(1 for esc in percents if chr(int(esc, 16)).isalnum())
            if letters >= 3:
                found.append(Decoded("url_encoding", Span(0, len(text)), decoded))
    if "\\" in text and _ESCAPE.count(text) >= 4:
        for spans in _ESCAPE_RUN.all_spans(text):
            start, end = spans[0]
            run = text[start:end]
            escapes = _ESCAPE.all_spans(run)
            if len(escapes) < 4:
                continue
            found.append(Decoded("escapes", Span(start, end), _unescape(run, escapes)))
    return found[:MAX_BLOBS]


def decode_layers(text: str, tag_text: str = "") -> list[Decoded]:
    """Every decodable region of ``text`` (and of what it decodes to, one level down).

    ``tag_text`` is text recovered from Unicode tag characters by the view; it is reported
    as its own layer spanning the whole string. Spans of nested layers point at the
    outer region they came from.
    """
    layers: list[Decoded] = []
    if tag_text:
        layers.append(Decoded("tag_characters", Span(0, len(text)), tag_text))
    budget = MAX_DECODED
    frontier = [(Span(0, len(text)), text, True)]
    for _depth in range(MAX_DEPTH):
        next_frontier: list[tuple[Span, str, bool]] = []
        for outer, chunk, top in frontier:
            for item in _decode_once(chunk):
                if budget <= 0 or len(layers) >= MAX_BLOBS:
                    return layers
                decoded_text = item.text[:budget]
                budget -= len(decoded_text)
                span = item.span if top else outer
                layers.append(Decoded(item.kind, span, decoded_text))
                next_frontier.append((span, decoded_text, False))
        frontier = next_frontier
    return layers
