"""Mapping of audit records to OCSF events, for SIEMs that speak OCSF.

* A tool-call decision becomes an **API Activity** (class 6003, category 6) with the
  ``ai_operation`` profile's ``ai_agent`` object naming the agent, the ``security_control``
  profile's ``action``/``disposition`` carrying the effect, and the acting-for user,
  session and request as ``actor``/``api`` fields.
* Each scanner finding attached to a decision, and each ``anomaly_detected`` lifecycle
  event, becomes a **Detection Finding** (class 2004, category 2) whose affected resource
  is the agent.
* Other lifecycle events (agent created, grant approved, policy activated, ...) become API
  Activity events against the control plane: ``api.operation`` is the lifecycle kind.

ztgate-specific fields (rule ids, reason codes, policy version, argument digest and the
record's chain hash) travel under ``unmapped.ztgate`` so nothing is lost in translation.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from ztgate.audit.events import EVENT_DECISION, LifecycleKind, parse_time

OCSF_VERSION = "1.8.0"


def _product_version() -> str:
    # Read from the installed distribution: importing ``ztgate`` itself would pull the
    # service layer into a capability module.
    try:
        return version("ztgate")
    except PackageNotFoundError:
        return "unknown"


PRODUCT = {"name": "ztgate", "vendor_name": "ztgate", "version": _product_version()}

API_ACTIVITY = 6003
DETECTION_FINDING = 2004

_SEVERITY = {"unknown": 0, "info": 1, "informational": 1, "low": 2, "medium": 3, "high": 4,
             "critical": 5, "fatal": 6}  # fmt: skip
_SEVERITY_NAME = {0: "Unknown", 1: "Informational", 2: "Low", 3: "Medium", 4: "High",
                  5: "Critical", 6: "Fatal", 99: "Other"}  # fmt: skip
_API_ACTIVITY_NAMES = {1: "Create", 2: "Read", 3: "Update", 4: "Delete", 99: "Other"}

_LIFECYCLE_ACTIVITY = {
    LifecycleKind.AGENT_CREATED: 1,
    LifecycleKind.GRANT_REQUESTED: 1,
    LifecycleKind.APPROVAL_REQUESTED: 1,
    LifecycleKind.TOKEN_ISSUED: 1,
    LifecycleKind.AUDIT_STARTED: 1,
    LifecycleKind.AGENT_DECOMMISSIONED: 4,
    LifecycleKind.GRANT_RELEASED: 4,
    LifecycleKind.TOKEN_REVOKED: 4,
}

# effect -> (severity_id, status_id, status, action_id, action, disposition_id, disposition)
_EFFECT = {
    "allow": (1, 1, "Success", 1, "Allowed", 1, "Allowed"),
    "deny": (3, 2, "Failure", 2, "Denied", 2, "Blocked"),
    "approval_required": (2, 2, "Failure", 2, "Denied", 99, "Approval Required"),
}


def _ms(stamp: str) -> int:
    moment = parse_time(stamp)
    return int(moment.timestamp() * 1000)


def _metadata(record: Mapping[str, Any], record_hash: str, **extra: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {
        "version": OCSF_VERSION,
        "product": dict(PRODUCT),
        "uid": f"{record_hash}",
        "sequence": record["seq"],
        "log_name": "ztgate-audit",
        "logged_time": _ms(record["time"]),
    }
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def to_ocsf(record: Mapping[str, Any], record_hash: str) -> list[dict[str, Any]]:
    """OCSF events for one parsed audit record (its canonical JSON object)."""
    event = record["event"]
    if record.get("type") == EVENT_DECISION:
        out = [_decision(record, record_hash, event)]
        out.extend(
            _finding(record, record_hash, event, finding, index)
            for index, finding in enumerate(event.get("findings") or ())
        )
        return out
    if event.get("kind") == LifecycleKind.ANOMALY_DETECTED.value:
        details = event.get("details") or {}
        finding = {
            "scanner": "monitor",
            "title": details.get("title") or f"anomaly for {event['subject']}",
            "severity": details.get("severity", "medium"),
            "message": details.get("message"),
            "rule": details.get("detector"),
        }
        return [_finding(record, record_hash, {"agent": event["subject"], **event}, finding, 0)]
    return [_lifecycle(record, record_hash, event)]


def _decision(record: Mapping[str, Any], record_hash: str, e: Mapping[str, Any]) -> dict[str, Any]:
    effect = str(e["effect"])
    severity_id, status_id, status, action_id, action, disposition_id, disposition = _EFFECT.get(
        effect, (3, 2, "Failure", 2, "Denied", 2, "Blocked")
    )
    codes = [str(r.get("code")) for r in e.get("reasons") or ()]
    actor: dict[str, Any] = {"app_name": e["agent"], "app_uid": e["agent"]}
    if e.get("acting_for"):
        actor["user"] = {"uid": e["acting_for"], "name": e["acting_for"]}
    if e.get("session_id"):
        actor["session"] = {"uid": e["session_id"]}
    api: dict[str, Any] = {"operation": e["tool"], "request": {"uid": e["request_id"]}}
    if e.get("server"):
        api["service"] = {"name": e["server"]}
    src = {"ip": e["source_ip"]} if e.get("source_ip") else {"name": e["agent"]}
    out: dict[str, Any] = {
        "category_uid": 6,
        "category_name": "Application Activity",
        "class_uid": API_ACTIVITY,
        "class_name": "API Activity",
        "activity_id": 99,
        "activity_name": "Tool Call",
        "type_uid": API_ACTIVITY * 100 + 99,
        "type_name": "API Activity: Other",
        "time": _ms(e["time"]),
        "severity_id": severity_id,
        "severity": _SEVERITY_NAME[severity_id],
        "status_id": status_id,
        "status": status,
        "status_code": effect,
        "status_detail": ", ".join(codes),
        "action_id": action_id,
        "action": action,
        "disposition_id": disposition_id,
        "disposition": disposition,
        "message": f"{effect}: agent {e['agent']} called {e['tool']}",
        "metadata": _metadata(
            record,
            record_hash,
            profiles=["ai_operation", "security_control"],
            correlation_uid=e.get("session_id"),
            original_event_uid=e.get("request_id"),
        ),
        "actor": actor,
        "ai_agent": {"uid": e["agent"], "name": e["agent"]},
        "api": api,
        "src_endpoint": src,
        "duration": int(e.get("latency_us") or 0) // 1000,
        "unmapped": {
            "ztgate": {
                "effect": effect,
                "rule_ids": list(e.get("rule_ids") or ()),
                "reason_codes": codes,
                "policy_version": e.get("policy_version", ""),
                "args_digest": e.get("args_digest"),
                "args": e.get("args") or {},
                "delegation": list(e.get("delegation") or ()),
                "latency_us": e.get("latency_us", 0),
                "record_seq": record["seq"],
                "record_hash": record_hash,
            }
        },
    }
    if e.get("server"):
        out["dst_endpoint"] = {"svc_name": e["server"]}
    return out


def _finding(
    record: Mapping[str, Any],
    record_hash: str,
    e: Mapping[str, Any],
    finding: Mapping[str, Any],
    index: int,
) -> dict[str, Any]:
    severity_id = _SEVERITY.get(str(finding.get("severity", "medium")).lower(), 99)
    # ztgate.guard findings carry ``type`` (the family) and ``kind`` (the detector).
    scanner = str(finding.get("scanner") or finding.get("type") or "scanner")
    rule = str(finding.get("rule") or finding.get("kind") or scanner)
    title = str(finding.get("title") or f"{scanner}: {rule}")
    time_field = e.get("time") or record["time"]
    out: dict[str, Any] = {
        "category_uid": 2,
        "category_name": "Findings",
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "activity_id": 1,
        "activity_name": "Create",
        "type_uid": DETECTION_FINDING * 100 + 1,
        "type_name": "Detection Finding: Create",
        "time": _ms(time_field),
        "severity_id": severity_id,
        "severity": _SEVERITY_NAME[severity_id],
        "status_id": 1,
        "status": "New",
        "message": str(finding.get("message") or finding.get("detail") or title),
        "metadata": _metadata(record, record_hash),
        "finding_info": {
            "uid": f"{record_hash}:{index}",
            "title": title,
            "analytic": {"uid": rule, "name": rule, "type_id": 1, "type": "Rule"},
            "types": [scanner],
        },
        # Detection Finding carries no ai_operation profile: the agent is the affected
        # resource, and the tool call is the evidence.
        "resources": [{"uid": e["agent"], "name": e["agent"], "type": "AI Agent"}],
        "evidences": [
            {
                "name": "tool_call",
                "data": {"tool": e.get("tool"), "request_id": e.get("request_id")},
            }
        ],
        "unmapped": {
            "ztgate": {
                "finding": dict(finding),
                "record_seq": record["seq"],
                "record_hash": record_hash,
                "tool": e.get("tool"),
                "request_id": e.get("request_id"),
            }
        },
    }
    confidence = finding.get("confidence")
    if (
        isinstance(confidence, int | float)
        and not isinstance(confidence, bool)
        and 0 <= confidence <= 1
    ):
        out["confidence_score"] = round(confidence * 100)
    return out


def _lifecycle(record: Mapping[str, Any], record_hash: str, e: Mapping[str, Any]) -> dict[str, Any]:
    kind = LifecycleKind(e["kind"])
    activity_id = _LIFECYCLE_ACTIVITY.get(kind, 3)
    return {
        "category_uid": 6,
        "category_name": "Application Activity",
        "class_uid": API_ACTIVITY,
        "class_name": "API Activity",
        "activity_id": activity_id,
        "activity_name": _API_ACTIVITY_NAMES[activity_id],
        "type_uid": API_ACTIVITY * 100 + activity_id,
        "type_name": f"API Activity: {_API_ACTIVITY_NAMES[activity_id]}",
        "time": _ms(e["time"]),
        "severity_id": 4 if kind is LifecycleKind.KILL_SWITCH else 1,
        "severity": "High" if kind is LifecycleKind.KILL_SWITCH else "Informational",
        "status_id": 1,
        "status": "Success",
        "message": f"{kind.value}: {e['subject']} by {e['actor']}",
        "metadata": _metadata(record, record_hash, profiles=["ai_operation"]),
        "actor": {"user": {"uid": e["actor"], "name": e["actor"]}},
        "api": {"operation": kind.value, "service": {"name": "ztgate"}},
        "src_endpoint": {"name": "ztgate"},
        "resources": [{"uid": e["subject"], "name": e["subject"]}],
        "unmapped": {
            "ztgate": {
                "kind": kind.value,
                "details": e.get("details") or {},
                "record_seq": record["seq"],
                "record_hash": record_hash,
            }
        },
    }
