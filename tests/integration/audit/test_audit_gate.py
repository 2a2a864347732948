"""End to end with the real in-process Gate: every decision is one ``record_call``; the
log verifies, secrets in arguments never reach it, and the OCSF export is valid."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path

from ztgate import Gate
from ztgate.audit import open_log, verify_backend
from ztgate.audit.backends import QueryFilter, open_backend
from ztgate.audit.config import signer_for, store_url
from ztgate.audit.ocsf import to_ocsf

POLICY = Path(__file__).parents[3] / "examples" / "bench-finance" / "policy.yaml"
SECRET = "AKIAIOSFODNN7EXAMPLE"


def test_gate_decisions_are_audited_end_to_end(tmp_path: Path) -> None:
    gate = Gate.from_file(POLICY)
    log = open_log(tmp_path, durability="batched", checkpoint_interval=None)
    calls = [
        ("fin-1", "payment.send", {"amount": 50, "recipient": "vendor-a"}),
        ("fin-1", "payment.send", {"amount": 500, "recipient": "vendor-a"}),
        ("sup-1", "shell.exec", {"cmd": f"aws configure set key {SECRET}"}),
        ("nobody", "payment.send", {"amount": 1, "recipient": "vendor-b"}),
    ]
    effects = []
    for agent, tool, args in calls:
        started = time.perf_counter_ns()
        decision = gate.authorize(agent=agent, tool=tool, args=args, session="s-1")
        elapsed = (time.perf_counter_ns() - started) // 1000
        log.record_call(agent=agent, tool=tool, args=args, decision=decision,
                        request_id=str(uuid.uuid4()), session_id="s-1",
                        latency_us=elapsed)  # fmt: skip
        effects.append(decision.effect.value)
    log.close()
    assert effects == ["allow", "deny", "deny", "deny"]

    backend = open_backend(store_url(tmp_path))
    try:
        report = verify_backend(backend, [signer_for(tmp_path).public_key])
        assert report.ok, report.failure
        assert (report.records, report.sealed_seq) == (4, 4)
        records = list(backend.records())
        assert all(SECRET not in r.record for r in records)
        denied = backend.query(QueryFilter(effect="deny", tool="shell.exec"))
        event = json.loads(denied[0].record)["event"]
        assert event["rule_ids"] == ["no-shell"]
        assert event["policy_version"] == gate.policy_version
        assert event["reasons"][0]["code"] == "forbidden"
        ocsf = [e for r in records for e in to_ocsf(json.loads(r.record), r.hash)]
        assert [e["disposition"] for e in ocsf] == ["Allowed", "Blocked", "Blocked", "Blocked"]
    finally:
        backend.close()


def test_guard_findings_flow_into_the_log_and_ocsf(tmp_path: Path) -> None:
    """Real ztgate.guard findings and its secret scanner as the injected detector."""
    import pytest

    guard_secrets = pytest.importorskip("ztgate.guard.secrets")
    from jsonschema import Draft202012Validator
    from py_ocsf_models.events.findings.detection_finding import DetectionFinding

    from ztgate.audit.redact import RedactionPolicy

    token = "ghp_" + "Zq3" * 12
    text = f"deploy with token {token}"
    findings = [f.to_dict() for f in guard_secrets.scan_secrets(text)]
    assert findings, "guard should find the token"
    policy = RedactionPolicy(secret_detector=lambda value: bool(guard_secrets.scan_secrets(value)))
    gate = Gate.from_file(POLICY)
    log = open_log(tmp_path, redaction=policy, checkpoint_interval=None)
    decision = gate.authorize(agent="sup-1", tool="shell.exec", args={"cmd": text})
    log.record_call(agent="sup-1", tool="shell.exec", args={"cmd": text}, decision=decision,
                    request_id="rq-1", findings=findings)  # fmt: skip
    log.close()
    backend = open_backend(store_url(tmp_path))
    try:
        (record,) = list(backend.records())
    finally:
        backend.close()
    assert token not in record.record
    api, *detections = to_ocsf(json.loads(record.record), record.hash)
    assert api["class_uid"] == 6003
    schema = json.loads(
        (POLICY.parents[2] / "tests/vectors/audit/ocsf/detection_finding.schema.json").read_text()
    )
    validator = Draft202012Validator(schema)
    assert len(detections) == len(findings)
    for detection in detections:
        assert not list(validator.iter_errors(detection))
        DetectionFinding.model_validate(detection)
        assert detection["finding_info"]["types"] == ["secret"]
        assert token not in json.dumps(detection)
