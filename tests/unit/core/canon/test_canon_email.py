"""Known-answer tests for ztgate.core.canon.email."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ztgate.core.canon.email import EmailAddress, parse_email
from ztgate.errors import CanonicalizationError

VECTORS: dict[str, Any] = json.loads(
    (Path(__file__).parents[3] / "vectors" / "canon" / "emails.json").read_text("utf-8")
)


@pytest.mark.parametrize("case", VECTORS["valid"], ids=[ascii(c[0])[:40] for c in VECTORS["valid"]])
def test_valid_addresses(case: list[str]) -> None:
    raw, local, domain = case
    address = parse_email(raw)
    assert address == EmailAddress(local, domain)
    assert parse_email(str(address)) == address


@pytest.mark.parametrize(
    "case", VECTORS["invalid"], ids=[ascii(c[0])[:40] for c in VECTORS["invalid"]]
)
def test_invalid_addresses(case: list[str]) -> None:
    with pytest.raises(CanonicalizationError) as info:
        parse_email(case[0])
    assert info.value.reason == case[1]


@pytest.mark.parametrize("value", [None, 1, b"a@example.com"])
def test_non_strings_are_errors(value: object) -> None:
    with pytest.raises(CanonicalizationError) as info:
        parse_email(value)  # type: ignore[arg-type]
    assert info.value.reason == "not_a_string"
