"""The small JOSE core: strict compact JWS parsing, signing and verification.

Only what ztgate needs, on top of pyca/cryptography: compact serialisation, EdDSA
(Ed25519), ES256 and (for external issuers and clients only) RS256; JWK import/export
for those key types; RFC 7638 thumbprints. Ed25519 signatures are checked with
libsodium (through PyNaCl): it verifies in about half the time of the OpenSSL 3 build
``cryptography`` ships, and uncached verification is on the hot path of every first
call with a fresh token. libsodium's check is also the stricter one (it refuses
non-canonical encodings and small-order points), so nothing OpenSSL rejects passes.
Parsing is strict on purpose: base64url without padding, JSON objects only, duplicate
member names refused, header members limited to what we understand. Every failure
raises :class:`RejectedError` with a precise reason code.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from nacl.bindings import crypto_sign_open
from nacl.exceptions import CryptoError

from ztgate.errors import RejectedError

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey

SIGNING_ALGORITHMS = ("EdDSA", "ES256")
# RFC 9864 names Ed25519 by the fully specified identifier "Ed25519" and deprecates the
# polymorphic "EdDSA"; both are accepted for Ed25519 keys, "EdDSA" is still what we emit
# because most verifiers in the field only know that one.
ACCESS_TOKEN_ALGORITHMS = ("EdDSA", "Ed25519", "ES256")
ALL_ALGORITHMS = ("EdDSA", "Ed25519", "ES256", "RS256")


def normalize_alg(alg: str) -> str:
    """Map alias identifiers to the one the key registry uses (``Ed25519`` -> ``EdDSA``)."""
    return "EdDSA" if alg == "Ed25519" else alg


MIN_RSA_BITS = 2048
_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_ALLOWED_HEADER_MEMBERS = frozenset({"alg", "typ", "kid", "cty"})


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict base64url: no padding, no other alphabet, no impossible lengths."""
    if not _B64URL.match(text) or len(text) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except binascii.Error as error:  # pragma: no cover - regex already screens input
        raise ValueError("not base64url") from error


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate member `{key}`")
        out[key] = value
    return out


_DECODER = json.JSONDecoder(object_pairs_hook=_no_duplicates)


def _json_object(segment: str, what: str) -> dict[str, Any]:
    try:
        value = _DECODER.decode(b64url_decode(segment).decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise RejectedError(
            "malformed", f"{what} is not a base64url JSON object: {error}"
        ) from error
    if not isinstance(value, dict):
        raise RejectedError("malformed", f"{what} is not a JSON object")
    return value


@dataclass(frozen=True, slots=True)
class ParsedJWS:
    """A compact JWS split and decoded, signature NOT yet checked."""

    header: dict[str, Any]
    payload: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(unverified_token: object, *, max_bytes: int) -> ParsedJWS:
    """Split and decode a compact JWS; size, shape and header members are checked here."""
    if not isinstance(unverified_token, str):
        raise RejectedError("malformed", "token is not a string")
    if len(unverified_token) > max_bytes:
        raise RejectedError(
            "token_too_large", f"token is {len(unverified_token)} bytes, limit {max_bytes}"
        )
    parts = unverified_token.split(".")
    if len(parts) != 3:
        raise RejectedError("malformed", f"token has {len(parts)} segments, expected 3")
    header = _json_object(parts[0], "header")
    payload = _json_object(parts[1], "payload")
    try:
        signature = b64url_decode(parts[2])
    except ValueError as error:
        raise RejectedError("malformed", "signature is not base64url") from error
    alg = header.get("alg")
    if not isinstance(alg, str):
        raise RejectedError("malformed", "header has no string `alg`")
    extra = set(header) - _ALLOWED_HEADER_MEMBERS
    if extra:
        raise RejectedError(
            "header_unsupported", f"header members {sorted(extra)} are not accepted"
        )
    return ParsedJWS(header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature)


def verify_ed25519(public: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    """RFC 8032 verification with libsodium's strict check; never raises on bad input."""
    if len(signature) != 64:
        return False
    try:
        crypto_sign_open(signature + data, public.public_bytes_raw())
    except (CryptoError, ValueError, TypeError):
        return False
    return True


def verify_signature(parsed: ParsedJWS, alg: str, key: PublicKey) -> bool:
    """True if the signature is valid for ``alg`` with ``key``; never raises on bad input."""
    data, sig = parsed.signing_input, parsed.signature
    alg = normalize_alg(alg)
    try:
        if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PublicKey):
            return verify_ed25519(key, sig, data)
        if alg == "ES256" and isinstance(key, ec.EllipticCurvePublicKey):
            if not isinstance(key.curve, ec.SECP256R1) or len(sig) != 64:
                return False
            der = encode_dss_signature(
                int.from_bytes(sig[:32], "big"), int.from_bytes(sig[32:], "big")
            )
            key.verify(der, data, ec.ECDSA(hashes.SHA256()))
            return True
        if alg == "RS256" and isinstance(key, rsa.RSAPublicKey):
            if key.key_size < MIN_RSA_BITS:
                return False
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
            return True
    except (InvalidSignature, ValueError):
        return False
    return False


def sign_compact(
    header: Mapping[str, Any], payload: Mapping[str, Any], alg: str, key: PrivateKey
) -> str:
    """Serialise and sign; ``header`` must already name ``alg``."""
    head = b64url_encode(json.dumps(dict(header), separators=(",", ":")).encode())
    body = b64url_encode(json.dumps(dict(payload), separators=(",", ":")).encode())
    data = f"{head}.{body}".encode("ascii")
    if alg == "EdDSA" and isinstance(key, ed25519.Ed25519PrivateKey):
        sig = key.sign(data)
    elif alg == "ES256" and isinstance(key, ec.EllipticCurvePrivateKey):
        r, s = decode_dss_signature(key.sign(data, ec.ECDSA(hashes.SHA256())))
        sig = r.to_bytes(32, "big") + s.to_bytes(32, "big")
    else:
        raise ValueError(f"cannot sign `{alg}` with {type(key).__name__}")
    return f"{head}.{body}.{b64url_encode(sig)}"


def generate_private_key(alg: str) -> PrivateKey:
    if alg == "EdDSA":
        return ed25519.Ed25519PrivateKey.generate()
    if alg == "ES256":
        return ec.generate_private_key(ec.SECP256R1())
    raise ValueError(f"unsupported signing algorithm `{alg}`")


def private_key_to_pem(key: PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def private_key_from_pem(pem: bytes) -> PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey):
        raise ValueError("signing key must be Ed25519 or EC P-256")
    return key


def public_jwk(key: PublicKey) -> dict[str, Any]:
    """The public JWK members of ``key`` (no ``kid``/``alg``/``use``)."""
    if isinstance(key, ed25519.Ed25519PublicKey):
        raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return {"kty": "OKP", "crv": "Ed25519", "x": b64url_encode(raw)}
    if isinstance(key, ec.EllipticCurvePublicKey):
        numbers = key.public_numbers()
        return {
            "kty": "EC",
            "crv": "P-256",
            "x": b64url_encode(numbers.x.to_bytes(32, "big")),
            "y": b64url_encode(numbers.y.to_bytes(32, "big")),
        }
    numbers_rsa = key.public_numbers()
    return {
        "kty": "RSA",
        "n": b64url_encode(numbers_rsa.n.to_bytes((numbers_rsa.n.bit_length() + 7) // 8, "big")),
        "e": b64url_encode(numbers_rsa.e.to_bytes((numbers_rsa.e.bit_length() + 7) // 8, "big")),
    }


def thumbprint(jwk: Mapping[str, Any]) -> str:
    """RFC 7638 JWK thumbprint (SHA-256, base64url): a stable, content-derived ``kid``."""
    members = {"OKP": ("crv", "kty", "x"), "EC": ("crv", "kty", "x", "y"), "RSA": ("e", "kty", "n")}
    required = members.get(str(jwk.get("kty")))
    if required is None:
        raise ValueError(f"unsupported key type `{jwk.get('kty')}`")
    canonical = json.dumps({k: jwk[k] for k in required}, separators=(",", ":"), sort_keys=True)
    return b64url_encode(hashlib.sha256(canonical.encode()).digest())


def algorithm_for_jwk(jwk: Mapping[str, Any]) -> str:
    kty, crv = jwk.get("kty"), jwk.get("crv")
    if kty == "OKP" and crv == "Ed25519":
        return "EdDSA"
    if kty == "EC" and crv == "P-256":
        return "ES256"
    if kty == "RSA":
        return "RS256"
    raise ValueError(f"unsupported key type `{kty}`/`{crv}`")


def public_key_from_jwk(jwk: Mapping[str, Any]) -> tuple[str, PublicKey]:
    """Import a public JWK; returns the one algorithm it may be used with.

    Private members are refused so that a private key is never stored by mistake.
    """
    if any(member in jwk for member in ("d", "p", "q", "dp", "dq", "qi", "k")):
        raise ValueError("JWK contains private or symmetric key material")
    alg = algorithm_for_jwk(jwk)
    declared = jwk.get("alg")
    if declared is not None and declared != alg:
        raise ValueError(f"JWK `alg` `{declared}` does not match its key type")
    try:
        if alg == "EdDSA":
            raw = b64url_decode(str(jwk["x"]))
            return alg, ed25519.Ed25519PublicKey.from_public_bytes(raw)
        if alg == "ES256":
            x = int.from_bytes(b64url_decode(str(jwk["x"])), "big")
            y = int.from_bytes(b64url_decode(str(jwk["y"])), "big")
            return alg, ec.EllipticCurvePublicNumbers(x, y, ec.SECP256R1()).public_key()
        n = int.from_bytes(b64url_decode(str(jwk["n"])), "big")
        e = int.from_bytes(b64url_decode(str(jwk["e"])), "big")
        key = rsa.RSAPublicNumbers(e, n).public_key()
    except (KeyError, ValueError, TypeError) as error:
        raise ValueError(f"invalid `{alg}` JWK: {error}") from error
    if key.key_size < MIN_RSA_BITS:
        raise ValueError(f"RSA key of {key.key_size} bits is below {MIN_RSA_BITS}")
    return alg, key
