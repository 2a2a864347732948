from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from hypothesis import given
from hypothesis import strategies as st

from ztgate.errors import RejectedError
from ztgate.identity import _jose

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "identity" / "jose_known_answers.json").read_text()
)


def test_rfc8037_ed25519_known_answer() -> None:
    v = VECTORS["rfc8037_a4"]
    private = ed25519.Ed25519PrivateKey.from_private_bytes(_jose.b64url_decode(v["d"]))
    jwk = _jose.public_jwk(private.public_key())
    assert jwk["x"] == v["x"]
    assert _jose.thumbprint(jwk) == v["thumbprint"]
    head, body, sig = v["jws"].split(".")
    parsed = _jose.ParsedJWS(
        {"alg": "EdDSA"}, {}, f"{head}.{body}".encode(), _jose.b64url_decode(sig)
    )
    alg, public = _jose.public_key_from_jwk(jwk)
    assert alg == "EdDSA"
    assert _jose.verify_signature(parsed, "EdDSA", public)
    assert private.sign(parsed.signing_input) == parsed.signature  # Ed25519 is deterministic
    assert not _jose.verify_signature(parsed, "ES256", public)


@pytest.mark.parametrize("case", VECTORS["base64url"], ids=lambda c: repr(c["input"]))
def test_strict_base64url(case: dict[str, object]) -> None:
    if case["valid"]:
        assert _jose.b64url_decode(str(case["input"])).hex() == case["hex"]
    else:
        with pytest.raises(ValueError, match="base64url"):
            _jose.b64url_decode(str(case["input"]))


@given(st.binary(max_size=200))
def test_base64url_round_trip(data: bytes) -> None:
    assert _jose.b64url_decode(_jose.b64url_encode(data)) == data


@pytest.mark.parametrize("alg", ["EdDSA", "ES256"])
@given(
    payload=st.dictionaries(st.text(max_size=8), st.integers() | st.text(max_size=20), max_size=5)
)
def test_sign_then_verify_round_trip(alg: str, payload: dict[str, object]) -> None:
    key = _jose.generate_private_key(alg)
    token = _jose.sign_compact({"alg": alg, "typ": "at+jwt"}, payload, alg, key)
    parsed = _jose.parse_compact(token, max_bytes=100_000)
    assert parsed.payload == payload
    assert _jose.verify_signature(parsed, alg, key.public_key())
    other = _jose.generate_private_key(alg)
    assert not _jose.verify_signature(parsed, alg, other.public_key())


def test_es256_signature_shape_is_checked() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    token = _jose.sign_compact({"alg": "ES256"}, {"a": 1}, "ES256", key)
    parsed = _jose.parse_compact(token, max_bytes=10_000)
    assert len(parsed.signature) == 64
    short = _jose.ParsedJWS(
        parsed.header, parsed.payload, parsed.signing_input, parsed.signature[:63]
    )
    assert not _jose.verify_signature(short, "ES256", key.public_key())
    p384 = ec.generate_private_key(ec.SECP384R1())
    assert not _jose.verify_signature(parsed, "ES256", p384.public_key())


def test_es256_jwk_round_trip() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    jwk = _jose.public_jwk(key.public_key())
    alg, public = _jose.public_key_from_jwk(jwk)
    assert alg == "ES256"
    assert _jose.public_jwk(public) == jwk
    with pytest.raises(ValueError, match="does not match"):
        _jose.public_key_from_jwk({**jwk, "alg": "EdDSA"})


@pytest.mark.parametrize(
    ("token", "reason"),
    [
        ("a.b", "malformed"),
        ("a.b.c.d", "malformed"),
        ("e30.e30.", "malformed"),  # header {} has no alg
        ("eyJhbGciOjF9.e30.", "malformed"),  # alg is a number
        ("W10.e30.", "malformed"),  # header is an array
    ],
)
def test_parse_rejects_shapes(token: str, reason: str) -> None:
    with pytest.raises(RejectedError) as caught:
        _jose.parse_compact(token, max_bytes=1000)
    assert caught.value.reason == reason


def test_parse_size_cap_applies_before_decoding() -> None:
    with pytest.raises(RejectedError) as caught:
        _jose.parse_compact("x" * 1001, max_bytes=1000)
    assert caught.value.reason == "token_too_large"


# The order of the Ed25519 base point: a signature's S must be reduced below it.
_ED25519_L = 2**252 + 27742317777372353535851937790883648493


def _openssl_accepts(public: ed25519.Ed25519PublicKey, signature: bytes, data: bytes) -> bool:
    try:
        public.verify(signature, data)
    except InvalidSignature:
        return False
    return True


def test_ed25519_rejects_malleated_and_misshapen_signatures() -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key()
    data = b"header.payload"
    signature = private.sign(data)
    assert _jose.verify_ed25519(public, signature, data)
    s = int.from_bytes(signature[32:], "little")
    malleated = signature[:32] + (s + _ED25519_L).to_bytes(32, "little")
    assert not _jose.verify_ed25519(public, malleated, data)
    assert not _openssl_accepts(public, malleated, data)
    for bad in (b"", signature[:63], signature + b"\x00", bytes(64)):
        assert not _jose.verify_ed25519(public, bad, data)
    other = ed25519.Ed25519PrivateKey.generate().public_key()
    assert not _jose.verify_ed25519(other, signature, data)


@given(
    data=st.binary(max_size=300),
    flip=st.one_of(st.none(), st.integers(min_value=0)),
    in_signature=st.booleans(),
)
def test_ed25519_libsodium_never_accepts_what_openssl_refuses(
    data: bytes, flip: int | None, in_signature: bool
) -> None:
    """ztgate verifies with libsodium; it must be at least as strict as OpenSSL."""
    private = ed25519.Ed25519PrivateKey.generate()
    public = private.public_key()
    signature = bytearray(private.sign(data))
    message = bytearray(data)
    if flip is not None:
        target = signature if in_signature or not message else message
        bit = flip % (8 * len(target))
        target[bit // 8] ^= 1 << (bit % 8)
    ours = _jose.verify_ed25519(public, bytes(signature), bytes(message))
    assert ours == (flip is None)
    if ours:
        assert _openssl_accepts(public, bytes(signature), bytes(message))
