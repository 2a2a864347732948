"""The human-readable view of a results dict (the JSON file is the record)."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table


def _fmt(value: float, digits: int = 2) -> str:
    return f"{value:,.{digits}f}"


def _kind_total(res: dict[str, Any], kind: str) -> int:
    return sum(c.get(kind, 0) for c in res["disagreements_by_category"].values())


def engines_table(title: str, engines: dict[str, dict[str, Any]]) -> Table:
    table = Table(title=title)
    table.add_column("engine")
    table.add_column("version")
    for column in ("p50 µs", "p99 µs", "mean µs", "decisions/s"):
        table.add_column(column, justify="right")
    table.add_column("false allows", justify="right")
    table.add_column("false denies", justify="right")
    table.add_column("raised", justify="right")
    skipped: list[str] = []
    for name, res in engines.items():
        if res.get("status") != "ok":
            table.add_row(name, "skipped (see below)")
            skipped.append(f"  {name} skipped: {res.get('reason')}")
            continue
        false_allows = _kind_total(res, "false_allow")
        table.add_row(
            name,
            str(res["version"]),
            _fmt(res["p50_us"]),
            _fmt(res["p99_us"]),
            _fmt(res["mean_us"]),
            _fmt(res["decisions_per_s"], 0),
            f"[red]{false_allows}[/red]" if false_allows else "0",
            str(_kind_total(res, "false_deny")),
            str(res["errors"]),
        )
    if skipped:
        table.caption = "\n".join(skipped)
        table.caption_justify = "left"
    return table


def disagreements_table(engines: dict[str, dict[str, Any]]) -> Table | None:
    """Per category, how many answers of each engine differ from the reference."""
    measured = {n: r for n, r in engines.items() if r.get("status") == "ok"}
    categories = sorted({c for r in measured.values() for c in r["disagreements_by_category"]})
    if not categories:
        return None
    table = Table(title="disagreements with the reference, by request category")
    table.add_column("category")
    for name in measured:
        table.add_column(name, justify="right")
    for category in categories:
        cells = []
        for res in measured.values():
            counts = res["disagreements_by_category"].get(category, {})
            cells.append(
                " ".join(f"{k.replace('_', ' ')} {v}" for k, v in sorted(counts.items())) or "-"
            )
        table.add_row(category, *cells)
    return table


def print_report(results: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console(width=max(120, Console().width))
    machine = results["machine"]
    console.print(
        f"[bold]ztgate bench[/bold] {results['timestamp']}  python {machine['python']}  "
        f"cpus {machine['cpu_count']}  ({machine['cpu_model']})"
    )
    console.print(f"command: {results['command']}  (commit {results.get('git_commit', '?')})")
    small = results["small"]
    wl = small["workload"]
    console.print(
        engines_table(
            f"bench-finance: {wl['requests']:,} mixed decisions "
            f"({wl['expected_allows']:,} allowed by the reference)",
            small["engines"],
        )
    )
    by_category = disagreements_table(small["engines"])
    if by_category is not None:
        console.print(by_category)
    for key, value in small["comparisons"].items():
        console.print(f"  {key}: {value}x")
    scale = results.get("scale")
    if scale:
        console.print(
            f"scale: {scale['agents']:,} agents, {scale['blueprints']} blueprints, "
            f"{scale['generated_rules']:,} generated rules plus {scale['includes']} "
            f"({scale['policy_file_bytes'] // 1024:,} KiB); "
            f"Gate.from_file took {scale['ztgate_load_s']} s"
        )
        same = scale["same_requests"]["ztgate"]
        console.print(
            engines_table(
                "scale: the bench-finance requests, large vs small policy (interleaved)",
                {
                    "ztgate, large": same,
                    "ztgate, small": scale["same_requests"]["ztgate_small_policy"],
                },
            )
        )
        if "p50_ratio_scale_over_small" in same:
            console.print(f"  p50 large / p50 small: {same['p50_ratio_scale_over_small']}")
        generated = scale["generated"]
        console.print(
            engines_table("scale: generated mixed workload, large policy", generated["engines"])
        )
        base = generated["baseline"]
        console.print(
            engines_table(
                f"baseline: the same generator on {base['agents']} agents and "
                f"{base['rules']} rules",
                base["engines"],
            )
        )
        for name, res in generated["engines"].items():
            if "p50_ratio_scale_over_baseline" in res:
                console.print(
                    f"  {name}: p50 large / p50 baseline {res['p50_ratio_scale_over_baseline']}"
                    + (f" (set-up {res['setup_s']} s)" if "setup_s" in res else "")
                )
            warm = res.get("warm")
            if warm:
                base_warm = base["engines"].get(name, {}).get("warm", {})
                console.print(
                    f"  {name} with warm caches: p50 {warm['p50_us']:.2f} µs, "
                    f"p99 {warm['p99_us']:.2f} µs (baseline p50 "
                    f"{base_warm.get('p50_us', float('nan')):.2f} µs); p50 large / baseline "
                    f"{warm.get('p50_ratio_scale_over_baseline', '-')}"
                )
        console.print(engines_table("scale: never-seen tool names", scale["novel_tools"]))
    checks = results.get("targets", {})
    if isinstance(checks, dict) and checks:
        table = Table(title="targets")
        table.add_column("target")
        table.add_column("measured", justify="right")
        table.add_column("met")
        for name, check in checks.items():
            if isinstance(check, dict):
                table.add_row(name, str(check["value"]), "yes" if check["ok"] else "[red]NO[/red]")
            else:
                table.add_row(name, str(check), "-")
        console.print(table)
    for area, outcome in results.get("modules", {}).items():
        if outcome["status"] == "ok":
            console.print(f"module {area}: ok in {outcome['seconds']} s")
            console.print(outcome["result"])
        else:
            console.print(f"module {area}: [red]failed[/red] {outcome['error']}")
    console.print(f"duration: {results['duration_s']} s")
