"""``python -m ztgate`` runs the CLI."""

from ztgate.cli.main import run

run()
