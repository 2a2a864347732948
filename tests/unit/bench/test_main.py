"""``python -m bench`` end to end on a tiny workload, writing into a temporary directory."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from bench import engines, runner, scale
from bench.__main__ import exit_status, main
from bench.workload import generate, reference


def test_main_writes_timestamped_and_latest_results(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(
        [
            "--requests",
            "300",
            "--engines",
            "cedar,rego,agt",
            "--no-modules",
            "--no-scale",
            "--output-dir",
            str(tmp_path),
        ]
    )
    assert code == 0
    files = sorted(p.name for p in tmp_path.iterdir())
    assert "latest.json" in files
    assert len(files) == 2
    latest = json.loads((tmp_path / "latest.json").read_text())
    stamped = json.loads((tmp_path / next(f for f in files if f != "latest.json")).read_text())
    assert latest == stamped
    assert latest["command"] == (
        "python -m bench --requests 300 --engines cedar,rego,agt --no-modules --no-scale "
        f"--output-dir {tmp_path}"
    )
    assert latest["machine"]["cpu_count"] >= 1
    commit = latest["git_commit"].removesuffix("+dirty")
    assert commit == "unknown" or (len(commit) == 40 and int(commit, 16) >= 0)
    assert latest["small"]["workload"]["requests"] == 300
    assert set(latest["small"]["engines"]) == {"cedar", "rego", "agt"}
    for result in latest["small"]["engines"].values():
        if result["status"] == "ok":
            assert result["decisions"] == 300
            assert result["p50_us"] > 0
        else:
            assert result["status"] == "skipped"
            assert result["reason"]
    assert "bench-finance" in capsys.readouterr().out


def test_unknown_engine_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--engines", "cedar,opa"])
    assert exc.value.code == 2
    assert "unknown engine(s): opa" in capsys.readouterr().err


def test_side_by_side_reports_a_skipped_engine_and_runs_the_rest() -> None:
    requests = generate(50, seed=2)

    class Fixed:
        """A trivially correct engine: it answers with the reference."""

        name = "fixed"
        version = "1"

        def prepare(self, agent: str, tool: str, args: Mapping[str, Any]) -> Any:
            return (agent, tool, args)

        def decide(self, prepared: Any) -> bool:
            return reference(*prepared)

    def broken() -> engines.Engine:
        raise RuntimeError("cannot start")

    def fixed() -> engines.Engine:
        return Fixed()

    results = runner.run_side_by_side(
        ["ztgate", "cedar"], requests, warmup=5, factories={"ztgate": fixed, "cedar": broken}
    )
    assert results["cedar"] == {"status": "skipped", "reason": "RuntimeError: cannot start"}
    assert results["ztgate"]["status"] == "ok"
    assert results["ztgate"]["disagreements"] == 0
    assert results["ztgate"]["allows"] == sum(r.expected for r in requests)


def _results(
    ztgate: dict[str, object], scale: dict[str, object] | None = None
) -> dict[str, object]:
    out: dict[str, object] = {"small": {"engines": {"ztgate": ztgate}}}
    if scale is not None:
        good = {"status": "ok", "disagreements": 0}
        out["scale"] = {
            "same_requests": {"ztgate": good},
            "novel_tools": {"ztgate": good},
            "generated": {"engines": {"ztgate": scale}},
        }
    return out


def test_exit_status_fails_on_any_ztgate_disagreement_or_skip() -> None:
    good = {"status": "ok", "disagreements": 0}
    assert exit_status(_results(good, good)) == 0
    assert exit_status(_results({"status": "ok", "disagreements": 1})) == 1
    assert exit_status(_results({"status": "skipped", "reason": "x"})) == 1
    assert exit_status(_results(good, {"status": "ok", "disagreements": 2})) == 1
    assert exit_status(_results(good, {"status": "skipped", "reason": "x"})) == 1
    assert exit_status({"small": {"engines": {}}}) == 0


def test_targets_compare_against_the_issue_numbers() -> None:
    small = {
        "ztgate": {"status": "ok", "p50_us": 4.0, "p99_us": 30.0, "disagreements": 0},
        "cedar": {"status": "ok", "p50_us": 60.0},
    }
    ok = {"status": "ok", "disagreements": 0}
    scale_result = {
        "same_requests": {"ztgate": {**ok, "p50_ratio_scale_over_small": 1.2}},
        "novel_tools": {"ztgate": ok},
        "generated": {
            "engines": {
                "ztgate": {
                    **ok,
                    "p50_ratio_scale_over_baseline": 2.0,
                    "warm": {"disagreements": 0, "p50_ratio_scale_over_baseline": 1.1},
                }
            }
        },
    }
    checks = runner.targets(small, scale_result)
    assert checks["p50_le_5us"]["ok"] is True
    assert checks["p99_le_25us"]["ok"] is False
    assert checks["ge_10x_faster_than_cedar_p50"] == {"value": 15.0, "ok": True}
    assert checks["scale_p50_ratio_le_1_5"] == {"value": 1.2, "ok": True}
    assert checks["scale_generated_mix_cold_p50_ratio_le_1_5"] == {"value": 2.0, "ok": False}
    assert checks["scale_generated_mix_warm_p50_ratio_le_1_5"] == {"value": 1.1, "ok": True}
    assert checks["scale_zero_disagreements"] == {"value": 0, "ok": True}


def test_scale_run_measures_same_requests_generated_mix_and_novel_tools() -> None:
    small_requests = generate(300, seed=4)
    small = runner.run_side_by_side(["ztgate"], small_requests, warmup=30)
    assert small["ztgate"]["status"] == "ok"
    result = runner.run_scale(
        quick=True,
        small_requests=small_requests,
        count=300,
        seed=9,
        warmup=30,
        peers=[n for n in runner.PEER_NAMES],
        spec=scale.build_spec(agents=500, blueprints=5, rules=60, tools=20),
        baseline=scale.build_spec(agents=50, blueprints=5, rules=30, tools=10),
    )
    same = result["same_requests"]["ztgate"]
    assert same["status"] == "ok"
    assert same["decisions"] == 300
    assert same["disagreements"] == 0
    assert same["p50_ratio_scale_over_small"] > 0
    novel = result["novel_tools"]["ztgate"]
    assert (novel["status"], novel["allows"], novel["disagreements"]) == ("ok", 0, 0)
    mixed = result["generated"]["engines"]["ztgate"]
    assert mixed["disagreements"] == 0
    assert mixed["warm"]["disagreements"] == 0
    assert mixed["warm"]["p50_ratio_scale_over_baseline"] > 0
    assert set(result["generated"]["engines"]) == {"ztgate", *runner.PEER_NAMES}
    assert set(result["generated"]["baseline"]["engines"]) == {"ztgate", *runner.PEER_NAMES}
    checks = runner.targets(small, result)
    assert checks["scale_zero_disagreements"] == {"value": 0, "ok": True}
    assert "scale_p50_ratio_le_1_5" in checks
