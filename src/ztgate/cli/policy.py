"""``ztgate policy``: validate, test and explain policies."""

from __future__ import annotations

import typer

app = typer.Typer(help="Validate, test and explain policies.", no_args_is_help=True)
