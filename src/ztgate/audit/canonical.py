"""The one canonical byte encoding that audit hashes and signatures are computed over.

A hash chain is only as good as the agreement on what bytes were hashed. ztgate uses JSON
with keys sorted, no insignificant whitespace, every non-ASCII character escaped as
``\\uXXXX`` (so the bytes are pure ASCII and therefore identical in every UTF-8 reader),
integers as integers, finite floats in Python's shortest round-trip form, and NaN and
infinities refused. Parsing a canonical document and encoding it again gives the same
bytes, which is what lets an offline verifier recompute every hash from an export.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
from collections.abc import Mapping
from datetime import date, datetime
from enum import Enum
from typing import Any

from ztgate.errors import AuditError

_ENCODER = json.JSONEncoder(
    sort_keys=True, separators=(",", ":"), ensure_ascii=True, allow_nan=False
)


def canonical_bytes(value: Any) -> bytes:
    """Encode a JSON-ready value canonically; raises :class:`AuditError` otherwise."""
    try:
        return _ENCODER.encode(value).encode("ascii")
    except (TypeError, ValueError) as error:
        raise AuditError(f"value is not canonically encodable: {error}") from error


def canonical_text(value: Any) -> str:
    return canonical_bytes(value).decode("ascii")


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def is_canonical(unverified_text: str) -> bool:
    """True when ``unverified_text`` parses and re-encodes to exactly the same string."""
    try:
        parsed = json.loads(unverified_text, parse_constant=_refuse_constant)
        return canonical_text(parsed) == unverified_text
    except (ValueError, AuditError):
        return False


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"`{name}` is not allowed in canonical JSON")


def parse_canonical(unverified_text: str) -> Any:
    """Parse JSON refusing NaN/Infinity; raises ``ValueError`` on bad input."""
    return json.loads(unverified_text, parse_constant=_refuse_constant)


def to_jsonable(value: Any, _depth: int = 0) -> Any:
    """Turn arbitrary tool-call arguments into a JSON-ready value, deterministically.

    Agents pass whatever their framework produces; the audit log must never fail because
    an argument is a tuple, a datetime or bytes. Unknown types become their ``str()`` (it
    is redacted like any other string afterwards). Non-finite floats become strings so
    that the canonical encoder never has to refuse a record on the hot path.
    """
    if _depth > 64:
        return "[too deep]"
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)
    if isinstance(value, Enum):
        return to_jsonable(value.value, _depth + 1)
    if isinstance(value, Mapping):
        return {str(k): to_jsonable(v, _depth + 1) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        items = [to_jsonable(v, _depth + 1) for v in value]
        if isinstance(value, set | frozenset):
            items.sort(key=canonical_text)
        return items
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode("ascii")}
    return str(value)
