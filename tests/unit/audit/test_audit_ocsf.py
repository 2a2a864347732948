"""OCSF output validates: API Activity against a JSON Schema derived from the OCSF
definitions, Detection Finding against that schema and against ``py-ocsf-models``."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator
from py_ocsf_models.events.findings.detection_finding import DetectionFinding

from tests.unit.audit.helpers import T0, decision
from ztgate.audit.chain import build_record
from ztgate.audit.events import LifecycleEvent, LifecycleKind
from ztgate.audit.ocsf import to_ocsf

SCHEMAS = Path(__file__).parents[2] / "vectors" / "audit" / "ocsf"
API = Draft202012Validator(json.loads((SCHEMAS / "api_activity.schema.json").read_text()))
FINDING = Draft202012Validator(json.loads((SCHEMAS / "detection_finding.schema.json").read_text()))


def _ocsf(event: Any) -> list[dict[str, Any]]:
    record = build_record(7, "0" * 64, event, T0)
    return to_ocsf(json.loads(record.record), record.hash)


def _valid(validator: Draft202012Validator, event: dict[str, Any]) -> None:
    errors = sorted(validator.iter_errors(event), key=str)
    assert not errors, [e.message for e in errors]
    assert event["type_uid"] == event["class_uid"] * 100 + event["activity_id"]


def test_decision_is_a_valid_api_activity_with_ai_agent() -> None:
    from dataclasses import replace

    event = replace(decision(3, effect="deny"), acting_for="alice", session_id="s-1",
                    server="db-mcp", source_ip="10.1.2.3")  # fmt: skip
    (api,) = _ocsf(event)
    _valid(API, api)
    assert api["ai_agent"] == {"uid": "agent-a", "name": "agent-a"}
    assert api["actor"]["user"]["uid"] == "alice"
    assert api["api"]["operation"] == "db.query"
    assert api["src_endpoint"] == {"ip": "10.1.2.3"}
    assert (api["action_id"], api["disposition_id"], api["status_id"]) == (2, 2, 2)
    assert api["metadata"]["profiles"] == ["ai_operation", "security_control"]
    assert api["unmapped"]["ztgate"]["rule_ids"] == ["r1"]


@pytest.mark.parametrize("effect", ["allow", "deny", "approval_required"])
def test_every_effect_maps_validly(effect: str) -> None:
    (api,) = _ocsf(decision(1, effect=effect))
    _valid(API, api)


def test_findings_become_valid_detection_findings() -> None:
    from dataclasses import replace

    findings = (
        {"scanner": "secrets", "rule": "aws_access_key", "severity": "high", "path": "args.key"},
        {"scanner": "injection", "severity": "bogus"},
    )
    api, first, second = _ocsf(replace(decision(2), findings=findings))
    _valid(API, api)
    for finding in (first, second):
        _valid(FINDING, finding)
        model = DetectionFinding.model_validate(finding)
        assert model.finding_info.uid == finding["finding_info"]["uid"]
        assert int(model.class_uid) == 2004
    assert first["severity_id"] == 4
    assert second["severity_id"] == 99
    assert first["resources"][0]["uid"] == "agent-a"


@pytest.mark.parametrize("kind", list(LifecycleKind))
def test_lifecycle_events_map_validly(kind: LifecycleKind) -> None:
    event = LifecycleEvent(kind, "ops", "agent-x", T0, {"title": "spike", "severity": "high"})
    (out,) = _ocsf(event)
    if kind is LifecycleKind.ANOMALY_DETECTED:
        _valid(FINDING, out)
        DetectionFinding.model_validate(out)
        assert out["finding_info"]["title"] == "spike"
    else:
        _valid(API, out)
        assert out["api"]["operation"] == kind.value


def test_schema_rejects_broken_events() -> None:
    (api,) = _ocsf(decision(1))
    for mutate in (
        lambda e: e.pop("api"),
        lambda e: e["api"].pop("operation"),
        lambda e: e.update(actor={}),
        lambda e: e.update(src_endpoint={}),
        lambda e: e["ai_agent"].pop("uid"),
        lambda e: e.update(class_uid=6001),
        lambda e: e.update(invented_field=1),
        lambda e: e["metadata"].pop("version"),
    ):
        broken = json.loads(json.dumps(api))
        mutate(broken)
        assert list(API.iter_errors(broken)), broken
