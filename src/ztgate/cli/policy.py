"""``ztgate policy``: validate, test and explain policies."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import Any

import typer

from ztgate.cli._output import console, print_json
from ztgate.core.policy import evaluate, load_policy, policy_schema
from ztgate.core.policy.cases import load_cases
from ztgate.errors import InvalidInputError, UsageError
from ztgate.service.gate import Gate, context_from, read_policy_file

app = typer.Typer(help="Validate, test and explain policies.", no_args_is_help=True)

JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise UsageError(f"cannot read `{path}`: {error}") from None


@app.command()
def validate(
    files: list[Path] = typer.Argument(..., help="Policy files (YAML or JSON)."),  # noqa: B008
    as_json: bool = JSON_OPTION,
) -> None:
    """Check policy files strictly. Exit 0 when all are valid, 1 otherwise."""
    results: list[dict[str, Any]] = []
    failed = False
    for file in files:
        try:
            compiled = load_policy(_read(file), str(file))
        except InvalidInputError as error:
            failed = True
            results.append(
                {
                    "file": str(file),
                    "valid": False,
                    "problems": [
                        {
                            "message": p.message,
                            "line": p.location.line,
                            "column": p.location.column,
                            "path": p.path,
                        }
                        for p in error.problems
                    ],
                }
            )
            if not as_json:
                for problem in error.problems:
                    console.print(f"[red]error[/red] {problem}", markup=True, highlight=False)
            continue
        results.append({"file": str(file), "valid": True, "version": compiled.version})
        if not as_json:
            rules = len(compiled.rules)
            console.print(
                f"[green]ok[/green] {file}: {len(compiled.agents)} agents, {rules} rules, "
                f"version {compiled.version[:19]}"
            )
    if as_json:
        print_json({"valid": not failed, "files": results})
    raise typer.Exit(1 if failed else 0)


@app.command()
def schema() -> None:
    """Print the published JSON Schema of policy documents."""
    print_json(policy_schema())


@app.command("test")
def run_cases(
    policy_file: Path = typer.Argument(..., help="The policy file."),  # noqa: B008
    cases_file: Path = typer.Argument(..., help="A cases file (see docs/policy-testing.md)."),  # noqa: B008
    as_json: bool = JSON_OPTION,
) -> None:
    """Run request -> expected-effect cases against a policy. Exit 1 on any failure."""
    compiled = read_policy_file(policy_file)
    cases = load_cases(_read(cases_file), str(cases_file))
    outcomes = []
    for case in cases:
        decision = evaluate(compiled, case.request)
        problems = []
        if decision.effect is not case.expect:
            problems.append(f"expected `{case.expect}`, got `{decision.effect}`")
        if case.expect_rules is not None and set(case.expect_rules) != set(decision.rule_ids):
            problems.append(
                f"expected rules {sorted(case.expect_rules)}, got {sorted(decision.rule_ids)}"
            )
        if case.expect_reason is not None and case.expect_reason not in decision.reason_codes:
            problems.append(
                f"expected reason `{case.expect_reason}`, got {list(decision.reason_codes)}"
            )
        outcomes.append((case, decision, problems))
    failures = sum(1 for _, _, p in outcomes if p)
    if as_json:
        print_json(
            {
                "passed": len(outcomes) - failures,
                "failed": failures,
                "cases": [
                    {
                        "name": c.name,
                        "location": str(c.location),
                        "ok": not p,
                        "problems": p,
                        "decision": d.to_dict(),
                    }
                    for c, d, p in outcomes
                ],
            }
        )
    else:
        for case, decision, problems in outcomes:
            mark = "[red]FAIL[/red]" if problems else "[green]pass[/green]"
            console.print(f"{mark} {case.name} -> {decision.effect}")
            for problem in problems:
                console.print(f"     {case.location}: {problem}", markup=False)
        console.print(f"{len(outcomes) - failures} passed, {failures} failed")
    raise typer.Exit(1 if failures else 0)


@app.command()
def explain(
    policy_file: Path = typer.Argument(..., help="The policy file."),  # noqa: B008
    agent: str = typer.Option(..., "--agent", help="The agent id."),
    tool: str = typer.Option(..., "--tool", help="The tool name."),
    args: str = typer.Option("{}", "--args", help="Tool arguments as a JSON object."),
    server: str | None = typer.Option(None, "--server", help="The MCP server, if any."),
    context: str = typer.Option("{}", "--context", help="Context as a JSON object."),
    labels: list[str] = typer.Option([], "--label", help="A session label (repeatable)."),  # noqa: B008
    now: str | None = typer.Option(None, "--now", help="Decision time, ISO 8601 with zone."),
    as_json: bool = JSON_OPTION,
) -> None:
    """Show the decision for one request and why each candidate rule did or did not apply."""
    when = None
    if now is not None:
        try:
            when = datetime.fromisoformat(now.replace("Z", "+00:00"))
        except ValueError:
            raise UsageError(f"invalid `--now` time `{now}`") from None
        if when.tzinfo is None:
            raise UsageError("`--now` needs a time zone, for example `Z`")
    try:
        parsed_args = json.loads(args)
        parsed_context = json.loads(context)
    except json.JSONDecodeError as error:
        raise UsageError(f"`--args`/`--context` must be JSON: {error}") from None
    if not isinstance(parsed_args, dict) or not isinstance(parsed_context, dict):
        raise UsageError("`--args` and `--context` must be JSON objects")
    gate = Gate.from_file(policy_file)
    session = None
    if labels:
        session = "explain"
        gate.label_session(session, *labels)
    try:
        ctx = context_from(parsed_context)
    except TypeError as error:
        raise UsageError(f"invalid `--context`: {error}") from None
    result = gate.explain(
        agent=agent,
        tool=tool,
        args=parsed_args,
        server=server,
        context=ctx,
        session=session,
        now=when,
    )
    if as_json:
        print_json(result.to_dict())
        return
    decision = result.decision
    colour = {"allow": "green", "deny": "red"}.get(decision.effect.value, "yellow")
    console.print(f"decision: [{colour}]{decision.effect}[/{colour}]")
    for reason in decision.reasons:
        console.print(f"  {reason.code}: {reason.message}", markup=False)
    if not result.agent_known:
        console.print("agent is not defined in the policy", markup=False)
        return
    if result.blueprints:
        console.print("blueprints: " + " -> ".join(result.blueprints), markup=False)
    if not result.candidates:
        console.print("no rule mentions this tool for this agent", markup=False)
        return
    console.print("candidate rules:", markup=False)
    for trace in result.candidates:
        console.print(
            f"  {trace.rule_id}  [{trace.effect}, {trace.kind}, {trace.mode}]", markup=False
        )
        for check in trace.checks or ():
            console.print(f"    {check.subject}: {check.outcome}", markup=False)
        if not trace.checks:
            console.print("    (no constraints or conditions)", markup=False)
