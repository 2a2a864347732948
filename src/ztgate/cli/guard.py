"""``ztgate guard``: scan text for injection, secrets, personal data and dangerous content,
in one shot or in batch, and measure the injection detector on a labelled dataset."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import typer

from ztgate.cli._output import console, print_json
from ztgate.errors import InvalidInputError, Problem, SourceLocation, UsageError

app = typer.Typer(
    help="Scan content for prompt injection, secrets, personal data and dangerous arguments.",
    no_args_is_help=True,
)

_PROFILE_HELP = "tool_output, tool_arguments, tool_description or user_prompt"

FILE_OPTION = typer.Option(None, "--file", "-f", help="Read from this file, not stdin.")
PROFILE_OPTION = typer.Option("tool_output", "--profile", "-p", help=_PROFILE_HELP)
JSON_OPTION = typer.Option(False, "--json", help="Print the result as JSON.")
CONTENT_JSON_OPTION = typer.Option(
    False, "--content-json", help="Parse the input as a JSON value and scan its strings."
)
JSONL_OPTION = typer.Option(
    None, "--jsonl", help='Batch mode: JSONL input, one {"id", "text"} object per line.'
)
OUT_OPTION = typer.Option(None, "--out", help="Batch mode: JSONL output file.")
THRESHOLD_OPTION = typer.Option(
    None, "--threshold", min=0.0, max=1.0, help="Injection threshold (default: the model's)."
)
DATASET_ARGUMENT = typer.Argument(
    ...,
    help="A data file or folder of the shared injection corpus, the corpus root, or a JSONL "
    "of {text, label}.",
)


def _profile(value: str) -> Any:
    from ztgate.guard.scan import Profile

    try:
        return Profile(value)
    except ValueError:
        raise UsageError(f"unknown profile `{value}`, expected one of {_PROFILE_HELP}") from None


def _read_input(file: Path | None) -> str:
    if file is None:
        return sys.stdin.read()
    try:
        return file.read_text(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read `{file}`: {error.strerror}") from None
    except UnicodeDecodeError:
        raise UsageError(f"`{file}` is not UTF-8 text") from None


def _batch(source: Path, out: Path, profile: Any, threshold: float | None) -> int:
    from ztgate.guard.scan import scan

    count = 0
    try:
        reader = source.open(encoding="utf-8")
    except OSError as error:
        raise UsageError(f"cannot read `{source}`: {error.strerror}") from None
    with reader, out.open("w", encoding="utf-8") as writer:
        for number, line in enumerate(reader, start=1):
            if not line.strip():
                continue
            where = SourceLocation(str(source), number)
            try:
                record = json.loads(line)
            except json.JSONDecodeError as error:
                raise InvalidInputError([Problem(f"invalid JSON: {error.msg}", where)]) from None
            if not isinstance(record, dict) or "id" not in record or "text" not in record:
                raise InvalidInputError([Problem("each line needs `id` and `text`", where)])
            result = scan(record["text"], profile, injection_threshold=threshold)
            row = {
                "id": record["id"],
                "injection": result.injection,
                "score": round(result.injection_score, 4),
                "findings": [f.to_dict() for f in result.findings],
            }
            writer.write(json.dumps(row, sort_keys=True) + "\n")
            count += 1
    return count


@app.command("scan")
def scan_command(
    file: Path | None = FILE_OPTION,
    profile: str = PROFILE_OPTION,
    as_json: bool = JSON_OPTION,
    content_json: bool = CONTENT_JSON_OPTION,
    jsonl: Path | None = JSONL_OPTION,
    out: Path | None = OUT_OPTION,
    threshold: float | None = THRESHOLD_OPTION,
) -> None:
    """Scan text (stdin or --file), or a JSONL batch with --jsonl IN --out OUT.

    Exits 1 when the content is flagged as injection or has a finding of high severity
    or above, 0 otherwise (batch mode exits 0 once every line is written).
    """
    from ztgate.guard.findings import Severity
    from ztgate.guard.scan import scan

    active = _profile(profile)
    if jsonl is not None or out is not None:
        if jsonl is None or out is None:
            raise UsageError("batch mode needs both `--jsonl` and `--out`")
        count = _batch(jsonl, out, active, threshold)
        if as_json:
            print_json({"scanned": count, "out": str(out)})
        else:
            console.print(f"scanned {count} lines into {out}", markup=False)
        return
    raw = _read_input(file)
    content: Any = raw
    if content_json:
        try:
            content = json.loads(raw)
        except json.JSONDecodeError as error:
            raise UsageError(f"input is not JSON: {error.msg}") from None
    result = scan(content, active, injection_threshold=threshold)
    if as_json:
        print_json({**result.to_dict(), "redacted": result.redacted})
    else:
        verdict = "INJECTION" if result.injection else "no injection"
        console.print(
            f"{verdict} (score {result.injection_score:.3f}, threshold {result.threshold:.3f})",
            markup=False,
        )
        for finding in result.findings:
            span = f" {finding.span.start}-{finding.span.end}" if finding.span else ""
            console.print(
                f"  {finding.severity.name.lower():8} {finding.type.value}/{finding.kind} "
                f"at {finding.path}{span}: {finding.detail}",
                markup=False,
            )
    flagged = result.injection or any(f.severity >= Severity.HIGH for f in result.findings)
    if flagged:
        raise typer.Exit(1)


@app.command("eval")
def eval_command(
    dataset: Path = DATASET_ARGUMENT,
    threshold: float | None = THRESHOLD_OPTION,
) -> None:
    """Measure injection precision, recall and false-positive rate; prints JSON."""
    from ztgate.guard._datasets import load_dataset
    from ztgate.guard.evaluate import evaluate
    from ztgate.guard.injection.detector import injection_score
    from ztgate.guard.injection.model import default_model

    sets = load_dataset(dataset)
    active = default_model().threshold if threshold is None else threshold
    results = {
        name: evaluate(examples, injection_score, active).to_dict()
        for name, examples in sets.items()
    }
    print_json({"threshold": round(active, 4), "datasets": results})
