"""Redaction of tool-call arguments (and any free text) before it reaches the audit log.

Operators need to see what an agent tried to do; nobody should find a credential in the
audit trail, its exports or the SIEM it feeds. A :class:`RedactionPolicy` drops or masks
argument paths chosen by the operator, always masks values under secret-looking keys, and
masks every string in which a secret detector fires. The built-in detector knows common
credential shapes; the guard package can inject a stronger one through
``secret_detector`` without this module importing it.

Paths are dotted (``headers.authorization``); ``*`` matches any key or list index
(``items.*.card``). Matching is on the key as given and on its lowercase form.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ztgate.audit.canonical import canonical_bytes, to_jsonable
from ztgate.errors import AuditError

MASK = "[redacted]"

SecretDetector = Callable[[str], bool]

# Common credential shapes. Quantifiers are bounded so a hostile argument cannot make
# the scan slow; the patterns are deliberately simple and favour masking too much.
_BUILTIN_PATTERNS: tuple[tuple[str, str], ...] = (
    ("aws_access_key", r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    ("github_token", r"\bgh[pousr]_[A-Za-z0-9]{36,255}\b"),
    ("github_pat", r"\bgithub_pat_[A-Za-z0-9_]{22,255}\b"),
    ("slack_token", r"\bxox[abposr]-[A-Za-z0-9-]{10,255}"),
    ("stripe_key", r"\b[rs]k_(?:live|test)_[A-Za-z0-9]{16,255}\b"),
    ("api_key_sk", r"\bsk-[A-Za-z0-9_-]{20,255}"),
    ("google_api_key", r"\bAIza[0-9A-Za-z_-]{35}\b"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{8,4096}\.eyJ[A-Za-z0-9_-]{8,8192}\.[A-Za-z0-9_-]{0,4096}"),
    # The whole PEM block, or everything after an unterminated header.
    (
        "private_key",
        r"-----BEGIN [A-Z ]{0,40}PRIVATE KEY-----(?s:.{0,20000}?)"
        r"(?:-----END [A-Z ]{0,40}PRIVATE KEY-----|\Z)",
    ),
    ("bearer", r"\b(?i:bearer)\s{1,10}[A-Za-z0-9._~+/=-]{12,4096}"),
    ("basic_auth_url", r"\b[A-Za-z][A-Za-z0-9+.-]{1,20}://[^/\s:@]{1,256}:[^/\s@]{1,256}@"),
    (
        "assignment",
        r"\b(?i:password|passwd|pwd|secret|api[_-]?key|access[_-]?token|auth[_-]?token"
        r"|client[_-]?secret)\s{0,5}[:=]\s{0,5}[^\s,;&]{4,512}",
    ),
)
_BUILTIN_RE = re.compile("|".join(f"(?:{p})" for _, p in _BUILTIN_PATTERNS))

# Keys whose values are always masked, whatever their type.
DEFAULT_SECRET_KEYS: frozenset[str] = frozenset(
    {
        "password",
        "passwd",
        "passphrase",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "api_key",
        "apikey",
        "x-api-key",
        "authorization",
        "proxy-authorization",
        "cookie",
        "set-cookie",
        "private_key",
        "credential",
        "credentials",
        "secret_access_key",
        "session_token",
    }
)


# Every built-in pattern contains one of these literals (the last group case-folded), so a
# string with none of them cannot match and skips the full scan: most arguments are not
# secrets, and plain substring tests keep redaction cheap (a regex alternation of these
# literals costs several times more per string). The case-insensitive group is tested
# on ``str.casefold()``, which maps every character that ``re.IGNORECASE`` treats as one
# of these letters (ASCII capitals, the Kelvin sign, the long s) to that letter.
_MARKERS_EXACT = (
    "AKIA",
    "ASIA",
    "gh",
    "github_pat_",
    "xox",
    "k_live_",
    "k_test_",
    "sk-",
    "AIza",
    "eyJ",
    "-----BEGIN",
    "://",
)
_MARKERS_FOLDED = ("bearer", "pass", "pwd", "secret", "key", "token")


def _might_contain_secret(text: str) -> bool:
    if len(text) < 8:
        return False
    for marker in _MARKERS_EXACT:
        if marker in text:
            return True
    folded = text.casefold()
    for marker in _MARKERS_FOLDED:  # noqa: SIM110 - a plain loop beats any(<genexpr>)
        if marker in folded:
            return True
    return False


def builtin_secret_detector(text: str) -> bool:
    """True when ``text`` contains a common credential shape."""
    return _might_contain_secret(text) and _BUILTIN_RE.search(text) is not None


def mask_builtin_secrets(text: str) -> str:
    """Replace every built-in credential match in ``text`` with :data:`MASK`."""
    if not _might_contain_secret(text):
        return text
    return _BUILTIN_RE.sub(MASK, text)


def _split(path: str) -> tuple[str, ...]:
    parts = tuple(p for p in path.split(".") if p)
    if not parts:
        raise ValueError(f"empty redaction path `{path}`")
    return parts


@dataclass(frozen=True, slots=True)
class RedactionPolicy:
    """What to remove from arguments before they are logged.

    ``drop`` paths are removed entirely; ``mask`` paths keep their key with the value
    replaced by :data:`MASK`. The built-in detector masks every matching span; an
    injected ``secret_detector`` (the guard package's, say) runs on top of it and masks
    the whole string when it fires. ``digest_key``, when set, turns
    the argument digest into an HMAC so that short secrets cannot be recovered from the
    digest by guessing.
    """

    drop: tuple[str, ...] = ()
    mask: tuple[str, ...] = ()
    secret_keys: frozenset[str] = DEFAULT_SECRET_KEYS
    secret_detector: SecretDetector | None = None
    digest_key: bytes | None = field(default=None, repr=False)
    _drop: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)
    _mask: tuple[tuple[str, ...], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_drop", tuple(_split(p) for p in self.drop))
        object.__setattr__(self, "_mask", tuple(_split(p) for p in self.mask))
        lowered = frozenset(k.lower() for k in self.secret_keys)
        object.__setattr__(self, "secret_keys", lowered)

    # -- public API -------------------------------------------------------------------

    def redact_args(self, args: Mapping[str, Any]) -> dict[str, Any]:
        """A JSON-ready copy of ``args`` with paths dropped/masked and secrets masked.

        One pass over the raw value: type conversion, path rules and secret masking
        happen together, because this runs on the decision hot path.
        """
        path: tuple[str, ...] | None = () if (self._drop or self._mask) else None
        out = self._walk(args if isinstance(args, Mapping) else {"value": args}, path, 0)
        assert isinstance(out, dict)
        return out

    def redact_value(self, value: Any) -> Any:
        """Mask secrets in any value (no path rules): findings, reasons, details."""
        return self._walk(value, None, 0)

    def redact_text(self, text: str) -> str:
        """Built-in spans masked first; an injected detector that fires masks the rest."""
        masked = mask_builtin_secrets(text)
        if self.secret_detector is None:
            return masked
        try:
            return MASK if self.secret_detector(masked) else masked
        except Exception:
            # An injected detector that fails must not let the text through in clear.
            return MASK

    def digest(self, args: Mapping[str, Any]) -> str:
        """Digest of the unredacted arguments over their canonical JSON encoding.

        Lets an operator prove which exact arguments were presented without the log
        holding them. ``sha256:`` by default, ``hmac-sha256:`` with a ``digest_key``.
        """
        try:
            data = canonical_bytes(args)  # fast path: already plain JSON data
        except AuditError:
            data = canonical_bytes(to_jsonable(args))
        if self.digest_key is None:
            return "sha256:" + hashlib.sha256(data).hexdigest()
        return "hmac-sha256:" + hmac.new(self.digest_key, data, hashlib.sha256).hexdigest()

    # -- internals --------------------------------------------------------------------

    def _rule_for(self, path: tuple[str, ...]) -> str | None:
        for rules, verdict in ((self._drop, "drop"), (self._mask, "mask")):
            for rule in rules:
                if _matches(rule, path):
                    return verdict
        return None

    def _walk(self, value: Any, path: tuple[str, ...] | None, depth: int) -> Any:
        if isinstance(value, str):
            return self.redact_text(value)
        if value is None or isinstance(value, bool | int):
            return value
        if depth > 64:
            return "[too deep]"
        if isinstance(value, Mapping):
            out: dict[str, Any] = {}
            for raw_key, item in value.items():
                key = raw_key if isinstance(raw_key, str) else str(to_jsonable(raw_key))
                child = None if path is None else (*path, key)
                verdict = None if child is None else self._rule_for(child)
                if verdict == "drop":
                    continue
                if verdict == "mask" or key.lower() in self.secret_keys:
                    out[key] = MASK
                    continue
                # the common leaves inline (same result as the recursive call, cheaper)
                kind = type(item)
                if kind is str:
                    out[key] = self.redact_text(item)
                elif kind is int or kind is bool or item is None:
                    out[key] = item
                else:
                    out[key] = self._walk(item, child, depth + 1)
            return out
        if isinstance(value, list | tuple):
            items = []
            for index, item in enumerate(value):
                child = None if path is None else (*path, str(index))
                verdict = None if child is None else self._rule_for(child)
                if verdict == "drop":
                    continue
                items.append(MASK if verdict == "mask" else self._walk(item, child, depth + 1))
            return items
        # floats, sets, datetimes, bytes, enums and unknown objects: convert, then mask
        # any text the conversion produced.
        plain = to_jsonable(value)
        return plain if isinstance(plain, float) else self._walk(plain, path, depth + 1)


def _matches(rule: tuple[str, ...], path: tuple[str, ...]) -> bool:
    if len(rule) != len(path):
        return False
    return all(r == "*" or r == p or r == p.lower() for r, p in zip(rule, path, strict=True))


DEFAULT_REDACTION = RedactionPolicy()


def redact_all(values: Iterable[Any], policy: RedactionPolicy = DEFAULT_REDACTION) -> list[Any]:
    return [policy.redact_value(v) for v in values]
