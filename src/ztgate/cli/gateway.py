"""``ztgate gateway``: run the MCP gateway (stdio or streamable HTTP) and manage tool pins.

- ``ztgate gateway --config FILE --agent ID [--server NAME] -- COMMAND ARGS...`` wraps a
  local server over stdio (the MCP client launches this instead of the server);
- ``ztgate gateway --config FILE --agent ID --upstream NAME`` wraps a configured upstream;
- ``ztgate gateway serve --config FILE`` serves every configured upstream over HTTP;
- ``ztgate gateway pins list|approve`` shows and re-approves pinned tool definitions;
- ``ztgate gateway check --config FILE`` validates a configuration file.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import anyio
import typer
from typer.core import TyperGroup

from ztgate.cli._output import console, err_console, print_json
from ztgate.errors import UsageError

COMMAND_KEY = "ztgate.gateway.command"


class _GatewayGroup(TyperGroup):
    """A group whose callback may take ``-- COMMAND ARGS...`` instead of a subcommand."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if "--" in args:
            cut = args.index("--")
            ctx.meta[COMMAND_KEY] = args[cut + 1 :]
            args = args[:cut]
        return super().parse_args(ctx, args)


app = typer.Typer(
    cls=_GatewayGroup,
    help="MCP gateway: enforce identity, policy, scanning and audit in front of MCP servers.",
    invoke_without_command=True,
)
pins_app = typer.Typer(help="Show and approve pinned tool definitions.", no_args_is_help=True)
app.add_typer(pins_app, name="pins")

CONFIG_OPTION = typer.Option(..., "--config", "-c", help="Gateway configuration file (YAML).")
JSON_OPTION = typer.Option(False, "--json", help="Print machine-readable JSON.")


def _load(config: Path) -> Any:
    from ztgate.gateway.config import load_config

    return load_config(config)


@app.callback()
def gateway(
    ctx: typer.Context,
    config: Path | None = typer.Option(  # noqa: B008
        None, "--config", "-c", help="Gateway configuration file."
    ),
    agent: str | None = typer.Option(None, "--agent", help="Agent identity of the stdio client."),
    server: str | None = typer.Option(
        None,
        "--server",
        help="Upstream name for `-- COMMAND` (policy `servers:`); default `local`.",
    ),
    upstream: str | None = typer.Option(
        None, "--upstream", help="Run this configured upstream over stdio instead of `-- COMMAND`."
    ),
) -> None:
    """Run the stdio gateway: ``ztgate gateway --config F --agent A -- COMMAND ARGS...``."""
    if ctx.invoked_subcommand is not None:
        return
    command: list[str] = ctx.meta.get(COMMAND_KEY) or []
    if config is None or agent is None or (not command and upstream is None):
        err_console.print(ctx.get_help(), markup=False)
        raise UsageError(
            "the stdio gateway needs `--config`, `--agent` and `-- COMMAND ...` or `--upstream`"
        )
    if command and upstream is not None:
        raise UsageError("give either `-- COMMAND ...` or `--upstream`, not both")
    from ztgate.gateway.config import Upstream
    from ztgate.gateway.runtime import open_runtime
    from ztgate.gateway.stdio import serve_stdio

    cfg = _load(config)
    target = (
        cfg.upstream(upstream)
        if upstream is not None
        else Upstream(name=server or "local", command=command[0], args=tuple(command[1:]))
    )
    if target.transport != "stdio":
        raise UsageError(f"upstream `{target.name}` is not a command; use `ztgate gateway serve`")
    runtime = open_runtime(cfg)
    try:
        relay = anyio.run(
            lambda: serve_stdio(runtime, target, agent=agent),
            backend_options={"use_uvloop": _has_uvloop()},
        )
    finally:
        runtime.close()
    if relay.ended_by == "upstream":
        err_console.print(f"error: upstream `{target.name}` closed the session", markup=False)
        raise typer.Exit(1)


def _has_uvloop() -> bool:
    """uvloop (a dependency on POSIX) runs the stdio relay's event loop for less per
    message; without it the standard asyncio loop does the same job."""
    try:
        import uvloop  # noqa: F401
    except ImportError:
        return False
    return True


@app.command()
def serve(
    config: Path = CONFIG_OPTION,
    host: str | None = typer.Option(None, "--host", help="Listen address (default from config)."),
    port: int | None = typer.Option(None, "--port", help="Listen port (default from config)."),
) -> None:
    """Serve every configured upstream over streamable HTTP at ``/mcp/<upstream>``."""
    import uvicorn

    from ztgate.gateway.http import create_app
    from ztgate.gateway.runtime import open_runtime

    cfg = _load(config)
    runtime = open_runtime(cfg, need_store=True)
    try:
        app_ = create_app(runtime)
        uvicorn.run(
            app_,
            host=host or cfg.http_host,
            port=port if port is not None else cfg.http_port,
            log_level="warning",
        )
    finally:
        runtime.close()


@app.command()
def check(config: Path = CONFIG_OPTION, as_json: bool = JSON_OPTION) -> None:
    """Validate a gateway configuration file (and the policy it names)."""
    from ztgate.service.gate import read_policy_file

    cfg = _load(config)
    read_policy_file(cfg.policy)
    if as_json:
        print_json({"valid": True, "upstreams": [u.name for u in cfg.upstreams]})
    else:
        console.print(f"{config}: valid ({len(cfg.upstreams)} upstream(s))")


def _pin_store(config: Path) -> Any:
    from ztgate.gateway.pins import PinStore

    cfg = _load(config)
    return PinStore(cfg.pin_path, trust_on_first_use=cfg.trust_on_first_use)


@pins_app.command("list")
def pins_list(
    config: Path = CONFIG_OPTION,
    pending: bool = typer.Option(False, "--pending", help="Only tools awaiting approval."),
    as_json: bool = JSON_OPTION,
) -> None:
    """List pinned tools; pending ones are blocked until approved."""
    store = _pin_store(config)
    try:
        pins = [p for p in store.list() if p.pending_hash or not pending]
        if as_json:
            print_json([p.to_dict() for p in pins])
            return
        for pin in pins:
            state = f"PENDING ({pin.pending_reason})" if pin.pending_hash else "approved"
            console.print(
                f"{pin.server}/{pin.tool}  {state}  approved={pin.approved_hash or '-'}"
                f"  pending={pin.pending_hash or '-'}",
                markup=False,
            )
    finally:
        store.close()


@pins_app.command("approve")
def pins_approve(
    server: str = typer.Argument(..., help="Upstream server name."),
    tool: str = typer.Argument(..., help="Tool name."),
    config: Path = CONFIG_OPTION,
    expected: str | None = typer.Option(
        None, "--hash", help="Approve only if the pending definition has this hash."
    ),
    by: str | None = typer.Option(None, "--by", help="Who approves (default: $USER)."),
    show: bool = typer.Option(False, "--show", help="Print the pending definition first."),
) -> None:
    """Approve the pending (changed or new) definition of a tool."""
    store = _pin_store(config)
    try:
        if show:
            print_json(store.pending_definition(server, tool))
        pin = store.approve(
            server, tool, by=by or os.environ.get("USER", "operator"), expected_hash=expected
        )
        console.print(f"approved {pin.server}/{pin.tool} at {pin.approved_hash}", markup=False)
    finally:
        store.close()
