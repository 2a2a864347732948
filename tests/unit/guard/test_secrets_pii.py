"""Known-answer vectors for the secret and PII scanners, including near-misses."""

from __future__ import annotations

from typing import Any

import pytest

from ztgate.guard._checks import iban_ok, luhn_ok, shannon_entropy, ssn_ok
from ztgate.guard.findings import FindingType
from ztgate.guard.pii import scan_pii
from ztgate.guard.secrets import scan_secrets

from ._vectors import load

SECRETS = load("secrets")
PII = load("pii")


def _found(scanner: Any, text: str) -> list[tuple[str, str]]:
    return sorted(
        (f.kind, text[f.redaction.start : f.redaction.end]) for f in scanner(text) if f.redaction
    )


@pytest.mark.parametrize("vector", SECRETS, ids=[v["id"] for v in SECRETS])
def test_secret_vectors(vector: dict[str, Any]) -> None:
    expected = sorted((e["kind"], e["value"]) for e in vector["expect"])
    assert _found(scan_secrets, vector["text"]) == expected


@pytest.mark.parametrize("vector", PII, ids=[v["id"] for v in PII])
def test_pii_vectors(vector: dict[str, Any]) -> None:
    expected = sorted((e["kind"], e["value"]) for e in vector["expect"])
    assert _found(scan_pii, vector["text"]) == expected


def test_vectors_cover_both_outcomes() -> None:
    for vectors in (SECRETS, PII):
        assert any(v["expect"] for v in vectors)
        assert sum(1 for v in vectors if not v["expect"]) >= 8


def test_findings_are_typed_and_never_echo_the_secret() -> None:
    text = "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    (finding,) = scan_secrets(text)
    assert finding.type is FindingType.SECRET
    assert finding.placeholder == "[REDACTED:aws_secret_access_key]"
    assert "wJalr" not in finding.detail
    assert "wJalr" not in str(finding.to_dict())


@pytest.mark.parametrize(
    ("number", "ok"),
    [("4111111111111111", True), ("4111111111111112", False), ("79927398713", True), ("x1", False)],
)
def test_luhn(number: str, ok: bool) -> None:
    assert luhn_ok(number) is ok


@pytest.mark.parametrize(
    ("iban", "ok"),
    [
        ("GB82WEST12345698765432", True),
        ("GB82WEST12345698765433", False),
        ("DE89370400440532013000", True),
        ("XX89370400440532013000", False),
        ("DE8937040044053201300", False),
        ("de89370400440532013000", False),
    ],
)
def test_iban(iban: str, ok: bool) -> None:
    assert iban_ok(iban) is ok


@pytest.mark.parametrize(
    ("parts", "ok"),
    [
        (("123", "45", "6789"), True),
        (("000", "45", "6789"), False),
        (("666", "45", "6789"), False),
        (("900", "45", "6789"), False),
        (("899", "45", "6789"), True),
        (("123", "00", "6789"), False),
        (("123", "45", "0000"), False),
    ],
)
def test_ssn_ranges(parts: tuple[str, str, str], ok: bool) -> None:
    assert ssn_ok(*parts) is ok


def test_entropy_orders_random_above_repetitive() -> None:
    assert shannon_entropy("aaaaaaaaaaaaaaaa") == 0.0
    assert shannon_entropy("q8Zr2LmN0pXvT4wK9sYb") > 4.0
