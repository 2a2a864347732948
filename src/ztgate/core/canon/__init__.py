"""Input canonicalisation: the one place that decides what a string, path, URL or e-mail
address *means* before policy compares it or a scanner inspects it.

Every public function is pure and either returns a canonical form or raises
:class:`~ztgate.errors.CanonicalizationError`, which callers treat as a failed check.
Two components that canonicalise the same input differently are how filters get bypassed;
importing from here is how ztgate avoids that.
"""

from __future__ import annotations

from ztgate.core.canon.email import MAX_LOCAL_LENGTH, EmailAddress, parse_email
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
    warm_up,
)
from ztgate.core.canon.url import (
    DEFAULT_PORTS,
    METADATA_ADDRESSES,
    METADATA_HOSTNAMES,
    AddressClass,
    CanonicalURL,
    HostPatterns,
    canonical_domain,
    canonical_host,
    classify_address,
    host_matches,
    is_forbidden_destination,
    is_local_hostname,
    parse_url,
)
from ztgate.errors import CanonicalizationError

__all__ = [
    "DEFAULT_PORTS",
    "INVISIBLE_CATEGORIES",
    "MAX_LOCAL_LENGTH",
    "MAX_PATH_LENGTH",
    "METADATA_ADDRESSES",
    "METADATA_HOSTNAMES",
    "AddressClass",
    "CanonicalURL",
    "CanonicalizationError",
    "EmailAddress",
    "HostPatterns",
    "InvisibleChar",
    "canonical_domain",
    "canonical_host",
    "canonical_path",
    "canonical_string",
    "classify_address",
    "decode_tag_characters",
    "find_invisible",
    "has_invisible",
    "host_matches",
    "is_forbidden_destination",
    "is_local_hostname",
    "is_under",
    "normalize",
    "parse_email",
    "parse_url",
    "path_interpretations",
    "strip_invisible",
    "warm_up",
]
