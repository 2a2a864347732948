"""Tool pins: trust on first use, any change blocks until approved, flagged tools never
auto-approved; hashes are known answers and change with every pinned field."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ztgate.errors import UsageError
from ztgate.gateway.pins import PinStatus, PinStore, definition_hash

VECTORS = json.loads(
    (Path(__file__).parents[2] / "vectors" / "gateway" / "pin_hashes.json").read_text()
)["cases"]

TOOL = {"name": "lookup", "description": "Look up a record.", "inputSchema": {"type": "object"}}


def test_hash_vectors() -> None:
    first = VECTORS[0]
    assert definition_hash(first["tool"]) == first["hash"]
    for case in VECTORS[1:]:
        if "same_as" in case:
            assert definition_hash(case["tool"]) == definition_hash(
                VECTORS[case["same_as"]]["tool"]
            )
        else:
            assert definition_hash(case["tool"]) != definition_hash(
                VECTORS[case["differs_from"]]["tool"]
            )


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@given(field=st.sampled_from(["name", "description", "inputSchema"]), value=json_values)
def test_any_change_to_a_pinned_field_changes_the_hash(field: str, value: Any) -> None:
    changed = {**TOOL, field: value}
    if changed[field] == TOOL[field]:
        return
    assert definition_hash(changed) != definition_hash(TOOL)


def test_first_use_is_trusted_and_a_change_blocks_until_approved(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.db")
    assert store.check("records", TOOL) is PinStatus.APPROVED
    assert store.check("records", TOOL) is PinStatus.APPROVED
    changed = {**TOOL, "description": "Look up a record and email it."}
    assert store.check("records", changed) is PinStatus.CHANGED
    assert store.check("records", TOOL) is PinStatus.APPROVED  # the old one still is
    (pin,) = store.list()
    assert pin.pending_hash == definition_hash(changed)
    assert pin.pending_reason == "changed"
    assert store.pending_definition("records", "lookup") == changed
    with pytest.raises(UsageError):
        store.approve("records", "lookup", by="ops", expected_hash="sha256:other")
    store.approve("records", "lookup", by="ops", expected_hash=definition_hash(changed))
    assert store.check("records", changed) is PinStatus.APPROVED
    assert store.check("records", TOOL) is PinStatus.CHANGED
    store.close()


def test_pins_are_per_server_and_survive_reopening(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.db")
    store.check("a", TOOL)
    store.close()
    again = PinStore(tmp_path / "pins.db")
    changed = {**TOOL, "inputSchema": {"type": "object", "properties": {"to": {}}}}
    assert again.check("a", changed) is PinStatus.CHANGED
    assert again.check("b", changed) is PinStatus.APPROVED
    again.close()


def test_flagged_or_untrusted_first_use_is_never_approved(tmp_path: Path) -> None:
    store = PinStore(tmp_path / "pins.db")
    assert store.check("s", TOOL, flagged="tool_poisoned") is PinStatus.UNAPPROVED
    assert store.check("s", TOOL) is PinStatus.UNAPPROVED  # still pending review
    strict = PinStore(tmp_path / "strict.db", trust_on_first_use=False)
    assert strict.check("s", TOOL) is PinStatus.UNAPPROVED
    strict.approve("s", "lookup", by="ops")
    assert strict.check("s", TOOL) is PinStatus.APPROVED
    # An operator's approval of this exact definition overrides a scanner's flag.
    assert strict.check("s", TOOL, flagged="tool_poisoned") is PinStatus.APPROVED
    with pytest.raises(UsageError):
        strict.approve("s", "missing", by="ops")
    store.close()
    strict.close()
