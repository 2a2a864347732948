"""The ``ztgate`` command: sub-applications per area and the one place errors become exit
codes (0 ok, 1 a check failed, 2 usage)."""

from __future__ import annotations

import sys

import typer

from ztgate._version import __version__
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
    from ztgate.cli import agent, audit, blueprint, demo, guard, key, policy, token

    app.add_typer(policy.app, name="policy")
    app.add_typer(demo.app, name="demo")
    app.add_typer(audit.app, name="audit")
    app.add_typer(agent.app, name="agent")
    app.add_typer(blueprint.app, name="blueprint")
    app.add_typer(key.app, name="key")
    app.add_typer(token.app, name="token")
    app.add_typer(guard.app, name="guard")
    from ztgate.cli import serve

    app.add_typer(serve.app, name="serve")


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
        result = app(standalone_mode=False)
    except ZtgateError as error:
        err_console.print(f"error: {error.diagnostics()}", markup=False)
        sys.exit(exit_code_for(error))
    except typer.Exit as done:
        sys.exit(done.exit_code)
    except typer.Abort:
        err_console.print("aborted", markup=False)
        sys.exit(EXIT_CHECK_FAILED)
    except Exception as error:
        # Click-style usage errors (missing argument, bad option) know how to show
        # themselves and carry their exit code (2); anything else is a real bug.
        show = getattr(error, "show", None)
        code = getattr(error, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            sys.exit(code)
        raise
    # Without standalone mode, `typer.Exit(n)` comes back as the return value.
    sys.exit(result if isinstance(result, int) else EXIT_OK)
