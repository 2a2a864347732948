"""Events and redaction: what the decision path hands to the log, and what it never may."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ztgate.audit.canonical import canonical_text, to_jsonable
from ztgate.audit.events import DecisionEvent, LifecycleEvent, LifecycleKind
from ztgate.audit.redact import MASK, RedactionPolicy, builtin_secret_detector
from ztgate.core.models import (
    Context,
    Decision,
    Effect,
    Reason,
    ReasonCode,
    Request,
    ShadowOutcome,
)
from ztgate.errors import AuditError

NOW = datetime(2026, 3, 4, 5, 6, 7, 890123, tzinfo=UTC)
AWS = "AKIAIOSFODNN7EXAMPLE"


def _request(args: dict) -> Request:
    return Request(
        agent="agent-b",
        tool="shell.run",
        args=args,
        now=NOW,
        server="tools-mcp",
        context=Context(
            source_ip="10.0.0.5", acting_for="alice", delegation=("user:alice", "agent-a")
        ),
    )


def _decision() -> Decision:
    return Decision(
        Effect.DENY,
        (Reason(ReasonCode.FORBIDDEN, f"argument contained {AWS}", "no-secrets"),),
        ("no-secrets",),
        "sha256:pv",
        shadow=ShadowOutcome(Effect.ALLOW, ("r2",), (Reason(ReasonCode.ALLOWED, "ok", "r2"),)),
    )


def test_from_decision_carries_every_field_and_no_secret() -> None:
    args = {"cmd": f"aws s3 ls --key {AWS}", "token": "t0ps3cr3t", "n": 3}
    event = DecisionEvent.from_decision(
        _request(args),
        _decision(),
        request_id="req-1",
        latency_us=42,
        session_id="s-1",
        findings=[{"scanner": "secrets", "match": AWS, "severity": "high"}],
    )
    data = event.to_dict()
    text = canonical_text(data)
    assert AWS not in text
    assert "t0ps3cr3t" not in text
    assert data["args"] == {"cmd": f"aws s3 ls --key {MASK}", "token": MASK, "n": 3}
    assert data["args_digest"] == RedactionPolicy().digest(args)
    assert data["args_digest"].startswith("sha256:")
    assert (data["agent"], data["tool"], data["server"], data["effect"]) == (
        "agent-b", "shell.run", "tools-mcp", "deny",
    )  # fmt: skip
    assert data["delegation"] == ["user:alice", "agent-a"]
    assert (data["acting_for"], data["source_ip"], data["session_id"]) == (
        "alice",
        "10.0.0.5",
        "s-1",
    )
    assert data["rule_ids"] == ["no-secrets"]
    assert event.reason_codes == ("forbidden",)
    assert data["shadow"]["effect"] == "allow"
    assert data["latency_us"] == 42
    assert data["time"] == "2026-03-04T05:06:07.890123Z"
    assert DecisionEvent.from_dict(json.loads(text)).to_dict() == data


def test_digest_changes_with_arguments_and_hmac_key() -> None:
    plain = RedactionPolicy()
    keyed = RedactionPolicy(digest_key=b"k" * 32)
    assert plain.digest({"a": 1}) != plain.digest({"a": 2})
    assert plain.digest({"a": 1, "b": 2}) == plain.digest({"b": 2, "a": 1})
    assert keyed.digest({"a": 1}).startswith("hmac-sha256:")
    assert keyed.digest({"a": 1}) != RedactionPolicy(digest_key=b"j" * 32).digest({"a": 1})


def test_injected_detector_masks_whole_strings_and_fails_closed() -> None:
    policy = RedactionPolicy(secret_detector=lambda text: "magic" in text)
    assert policy.redact_args({"a": "has magic inside", "b": "fine"}) == {"a": MASK, "b": "fine"}

    def broken(text: str) -> bool:
        raise RuntimeError("detector crashed")

    assert RedactionPolicy(secret_detector=broken).redact_args({"a": "x"}) == {"a": MASK}


def test_odd_argument_types_are_encodable() -> None:
    args = {"t": (1, 2), "s": {3, 1}, "b": b"\x00\xff", "d": NOW, "nan": float("nan"), 5: "k"}
    plain = to_jsonable(args)
    assert plain["t"] == [1, 2]
    assert plain["s"] == [1, 3]
    assert plain["b"] == {"$bytes": "AP8="}
    assert plain["nan"] == "nan"
    assert plain["5"] == "k"
    canonical_text(plain)


def test_lifecycle_event_masks_details_and_rejects_unknown_kinds() -> None:
    event = LifecycleEvent.create(
        "key_rotated", actor="ops", subject="k1", time=NOW, details={"old": f"id {AWS}"}
    )
    assert event.kind is LifecycleKind.KEY_ROTATED
    assert AWS not in canonical_text(event.to_dict())
    with pytest.raises(AuditError, match="unknown lifecycle kind `teleport`"):
        LifecycleEvent.create("teleport", actor="ops", subject="x", time=NOW)


def test_naive_time_is_refused() -> None:
    event = LifecycleEvent(LifecycleKind.KILL_SWITCH, "ops", "*", datetime(2026, 1, 1))
    with pytest.raises(AuditError, match="timezone-aware"):
        event.to_dict()


secrets = st.sampled_from(
    [
        "AKIA" + "Q" * 16,
        "ghp_" + "a1" * 18,
        "xoxb-1234567890-abcdef",
        "sk_live_" + "Z" * 24,
        "AIza" + "B" * 35,
        "sk-" + "c" * 30,
        "github_pat_" + "A1b2" * 6,
        "eyJhbGciOiJub25lIn0.eyJzdWIiOiJhYmMifQ.c2ln",
        "Bearer abcdefghijklmnop1234",
        "https://u:p4ss@h.example",
        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXk=\n-----END OPENSSH PRIVATE KEY-----",
    ]
)


@given(st.text(max_size=30), secrets, st.text(max_size=30), st.text(min_size=1, max_size=10))
@settings(max_examples=150, deadline=None)
def test_known_secret_shapes_never_survive(prefix: str, secret: str, suffix: str, key: str) -> None:
    # separate with spaces so the surrounding text cannot glue onto the token
    value = f"{prefix} {secret} {suffix}"
    redacted = RedactionPolicy().redact_args({key: value, "nested": [{"v": value}]})
    text = canonical_text(redacted)
    assert secret not in text
    assert secret.encode("unicode_escape").decode() not in text
    assert builtin_secret_detector(value)
