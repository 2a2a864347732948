"""The ``ztgate`` command: sub-applications per area and the one place errors become exit
codes (0 ok, 1 a check failed, 2 usage)."""

from __future__ import annotations

import sys

import typer

from ztgate import __version__
from ztgate.cli._output import err_console
from ztgate.errors import UsageError, ZtgateError

app = typer.Typer(
    name="ztgate",
    help="Zero Trust control plane and enforcement point for AI agents.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"ztgate {__version__}")
        raise typer.Exit(0)


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Zero Trust control plane and enforcement point for AI agents."""


def _register() -> None:
    # Sub-applications are imported here, one line each, so adding an area is one line.
    from ztgate.cli import policy

    app.add_typer(policy.app, name="policy")
    from ztgate.cli import guard

    app.add_typer(guard.app, name="guard")


_register()

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


def exit_code_for(error: ZtgateError) -> int:
    """Map an error family to the documented exit code."""
    if isinstance(error, UsageError):
        return EXIT_USAGE
    return EXIT_CHECK_FAILED


def run() -> None:
    """Console-script entry point."""
    try:
        app(standalone_mode=False)
    except ZtgateError as error:
        err_console.print(f"error: {error.diagnostics()}", markup=False)
        sys.exit(exit_code_for(error))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted", markup=False)
        sys.exit(EXIT_CHECK_FAILED)
    except Exception as click_error:  # click's UsageError and friends
        import click

        if isinstance(click_error, click.ClickException):
            click_error.show()
            sys.exit(EXIT_USAGE if isinstance(click_error, click.UsageError) else 1)
        raise
