"""``ztgate serve``: the HTTP control plane (AuthZEN, OAuth, admin API, metrics)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import typer

from ztgate.cli._output import console
from ztgate.errors import UsageError
from ztgate.identity import TokenSettings
from ztgate.service.changes import PostgresChangeFeed, RedisChangeFeed
from ztgate.service.control import ControlPlane
from ztgate.service.gate import read_policy_file
from ztgate.service.guard_scanner import GuardScanner
from ztgate.service.notify import WebhookNotifier
from ztgate.service.scan import NO_SCANNER
from ztgate.store import AdminRole

POLICY_OPTION = typer.Option(
    None, "--policy", help="Upload and activate this policy file if it is new."
)

app = typer.Typer(help="Run the HTTP control plane.", invoke_without_command=True)


def build(
    *,
    data_dir: str,
    store: str | None,
    issuer: str,
    policy: Path | None,
    require_token: bool,
    approval_timeout: int,
    webhook: str | None,
    guard: bool = True,
    redis_url: str | None = None,
) -> ControlPlane:
    notifiers = (WebhookNotifier(webhook),) if webhook else ()
    feed: RedisChangeFeed | PostgresChangeFeed | None = None
    if redis_url:
        feed = RedisChangeFeed(redis_url)
    elif store is not None and store.startswith(("postgresql://", "postgres://")):
        feed = PostgresChangeFeed(store)  # LISTEN/NOTIFY on the store's own database
    control = ControlPlane.open(
        data_dir,
        change_feed=feed,
        store_url=store,
        scanner=GuardScanner() if guard else NO_SCANNER,
        settings=TokenSettings(issuer=issuer),
        require_token=require_token,
        approval_timeout=timedelta(seconds=approval_timeout),
        notifiers=notifiers,
    )
    if policy is not None:
        compiled = read_policy_file(policy)
        active = control.store.policies.active()
        if active is None or active.digest != compiled.version:
            version = control.upload_policy(
                policy.read_text(encoding="utf-8"), actor="ztgate-serve", comment=str(policy)
            )
            control.activate_policy(version.number, actor="ztgate-serve")
    return control


@app.callback()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Interface to listen on."),
    port: int = typer.Option(8600, "--port", help="TCP port."),
    data_dir: str = typer.Option(".ztgate", "--data-dir", help="Data directory."),
    store: str | None = typer.Option(
        None, "--store", envvar="ZTGATE_STORE", help="PostgreSQL URL instead of SQLite."
    ),
    policy: Path | None = POLICY_OPTION,
    issuer: str | None = typer.Option(
        None, "--issuer", help="Public base URL (token issuer, discovery); default from host."
    ),
    require_token: bool = typer.Option(
        False, "--require-token", help="Refuse AuthZEN subjects without an access token."
    ),
    approval_timeout: int = typer.Option(
        900, "--approval-timeout", help="Seconds before a pending approval times out (deny)."
    ),
    webhook: str | None = typer.Option(
        None, "--approval-webhook", help="URL told about every new approval request."
    ),
    create_admin_key: str | None = typer.Option(
        None,
        "--create-admin-key",
        help="Create an admin key `NAME:ROLE` (admin, approver, auditor, viewer), print it, exit.",
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes (uvicorn)."),
    redis_url: str | None = typer.Option(
        None,
        "--redis",
        envvar="ZTGATE_REDIS_URL",
        help="Redis URL: push cache invalidation to every replica at once.",
    ),
    guard: bool = typer.Option(
        True, "--guard/--no-guard", help="Scan arguments and outputs with the guard scanners."
    ),
) -> None:
    """Serve AuthZEN decisions, the OAuth endpoints and the admin API."""
    base = issuer or f"http://{host}:{port}"
    control = build(
        data_dir=data_dir,
        store=store,
        issuer=base,
        policy=policy,
        require_token=require_token,
        approval_timeout=approval_timeout,
        webhook=webhook,
        guard=guard,
        redis_url=redis_url,
    )
    if create_admin_key is not None:
        name, _, role = create_admin_key.partition(":")
        try:
            parsed = AdminRole(role)
        except ValueError:
            control.close()
            raise UsageError(
                f"unknown role `{role}`: use admin, approver, auditor or viewer"
            ) from None
        key = control.create_admin_key(name, parsed)
        control.close()
        typer.echo(key)
        return
    import uvicorn

    from ztgate.core.canon import warm_up
    from ztgate.server.app import create_app

    if workers != 1:
        control.close()
        raise UsageError("run one worker per process; scale out with several replicas")
    # Build canonicalisation tables now rather than on the first request.
    warm_up()
    console.print(f"ztgate serving on {base} (store: {control.store.description})")
    try:
        uvicorn.run(create_app(control, base_url=base), host=host, port=port, log_level="warning")
    finally:
        control.close()
