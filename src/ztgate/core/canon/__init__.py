"""Input canonicalisation: the one place that decides what a string, path, URL or e-mail
address *means* before policy compares it or a scanner inspects it.

Every public function is pure and either returns a canonical form or raises
:class:`~ztgate.errors.CanonicalizationError`, which callers treat as a failed check.
Two components that canonicalise the same input differently are how filters get bypassed;
importing from here is how ztgate avoids that.
"""

from __future__ import annotations

from ztgate.core.canon.path import (
    MAX_PATH_LENGTH,
    canonical_path,
    is_under,
    path_interpretations,
)
from ztgate.core.canon.text import (
    INVISIBLE_CATEGORIES,
    InvisibleChar,
    canonical_string,
    decode_tag_characters,
    find_invisible,
    has_invisible,
    normalize,
    strip_invisible,
)
from ztgate.errors import CanonicalizationError

__all__ = [
    "INVISIBLE_CATEGORIES",
    "MAX_PATH_LENGTH",
    "CanonicalizationError",
    "InvisibleChar",
    "canonical_path",
    "canonical_string",
    "decode_tag_characters",
    "find_invisible",
    "has_invisible",
    "is_under",
    "normalize",
    "path_interpretations",
    "strip_invisible",
]
