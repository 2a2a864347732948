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
from typing import Any

import re2

from ztgate.guard.findings import Span

MAX_BLOBS = 32
MAX_DECODED = 65536
MAX_DEPTH = 2

_BASE64 = re2.compile(r"[A-Za-z0-9+/_-]{16,}={0,2}")
_HEX = re2.compile(r"(?:[0-9A-Fa-f]{2}){12,}")
_ENTITY = re2.compile(r"&#(?:[0-9]{1,7}|[xX][0-9A-Fa-f]{1,6});")
_PERCENT = re2.compile(r"%[0-9A-Fa-f]{2}")
_ESCAPE = re2.compile(r"\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})")
_ESCAPE_RUN = re2.compile(r"(?:\\(?:x[0-9A-Fa-f]{2}|u[0-9A-Fa-f]{4})|[\x20-\x5b\x5d-\x7e])+")


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


def _unescape(match: Any) -> str:
    code = int(match.group()[2:], 16)
    return "\ufffd" if 0xD800 <= code <= 0xDFFF else chr(code)


def _decode_once(text: str) -> list[Decoded]:
    found: list[Decoded] = []
    # Hex runs are a subset of the base64 alphabet, so one pass finds both.
    for match in _BASE64.finditer(text):
        token = match.group()
        if token.isalpha() or token.isdigit():
            continue  # long words and numbers are not base64 worth decoding
        hex_run = _HEX.fullmatch(token)
        if hex_run is not None:
            kind, decoded = "hex", _text_like(bytes.fromhex(token))
        else:
            kind, decoded = "base64", _base64(token)
        if decoded is not None:
            found.append(Decoded(kind, Span(*match.span()), decoded))
        if len(found) >= MAX_BLOBS:
            return found
    if "&#" in text:
        entities = _ENTITY.findall(text)
        if len(entities) >= 4:
            found.append(Decoded("html_entities", Span(0, len(text)), html.unescape(text)))
    if "%" in text and len(_PERCENT.findall(text)) >= 3:
        decoded = urllib.parse.unquote(text)
        letters = sum(1 for esc in _PERCENT.findall(text) if chr(int(esc[1:], 16)).isalnum())
        if letters >= 3:
            found.append(Decoded("url_encoding", Span(0, len(text)), decoded))
    if "\\" in text and len(_ESCAPE.findall(text)) >= 4:
        for match in _ESCAPE_RUN.finditer(text):
            run = match.group()
            if len(_ESCAPE.findall(run)) < 4:
                continue
            decoded = _ESCAPE.sub(_unescape, run)
            found.append(Decoded("escapes", Span(*match.span()), decoded))
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
