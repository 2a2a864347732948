"""The control-plane scenario of ``ztgate demo``: the attack never executes, the audit log
verifies, the approval and the kill switch do what the demo says."""

from __future__ import annotations

from pathlib import Path

from tests.integration.service.support import ROOT, Clock
from ztgate.cli._control_demo import run_scenario


def test_the_injected_actions_never_run_and_the_log_verifies(tmp_path: Path) -> None:
    scenario = run_scenario(tmp_path / "plane", ROOT / "examples", Clock())
    by_story = {row["story"]: row for row in scenario.rows}
    injected = [row for row in scenario.rows if row["story"].startswith("injected:")]
    assert len(injected) == 4
    assert all(row["effect"] != "allow" for row in injected)
    assert by_story["injected: emails the customer list out"]["effect"] == "deny"
    assert by_story["injected: pays 450 EUR to initech"]["effect"] == "approval_required"
    assert by_story["retries the approved payment"]["effect"] == "allow"
    assert by_story["replays the same payment"]["effect"] == "approval_required"
    assert by_story["tries anything after the kill switch"]["reason"] == "agent_inactive"
    assert by_story["fin-2 keeps working"]["effect"] == "allow"
    assert scenario.audit_ok
    assert scenario.audit_records >= len(scenario.rows)
