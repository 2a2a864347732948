"""The store options every identity command shares (``--store`` / ``--data-dir``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import typer

from ztgate.errors import UsageError
from ztgate.store import DEFAULT_DATA_DIR, Store, open_store

STORE_OPTION = typer.Option(
    None,
    "--store",
    envvar="ZTGATE_STORE",
    help="Database URL (postgresql://...) or data directory; overrides --data-dir.",
)
DATA_DIR_OPTION = typer.Option(
    DEFAULT_DATA_DIR, "--data-dir", help="Data directory of the embedded SQLite store."
)
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def open_cli_store(store: str | None, data_dir: str) -> Store:
    return open_store(store if store else data_dir)


def parse_json_option(value: str | None, what: str) -> dict[str, Any] | None:
    if value is None:
        return None
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise UsageError(f"{what} is not valid JSON: {error}") from error
    if not isinstance(parsed, dict):
        raise UsageError(f"{what} must be a JSON object")
    return parsed


def parse_when(value: str | None) -> datetime | None:
    """An ISO-8601 instant (UTC if no offset) or a relative ``30d`` / ``12h`` / ``15m``."""
    if value is None:
        return None
    units = {"d": "days", "h": "hours", "m": "minutes"}
    if value[-1:] in units and value[:-1].isdigit():
        return datetime.now(UTC) + timedelta(**{units[value[-1]]: int(value[:-1])})
    try:
        when = datetime.fromisoformat(value)
    except ValueError as error:
        raise UsageError(f"cannot read time `{value}`: use ISO-8601 or 30d/12h/15m") from error
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)
