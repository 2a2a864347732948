"""``ztgate token``: mint a token locally (development) and revoke tokens."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Annotated

import typer

from ztgate.cli._output import console, print_json
from ztgate.cli._store_options import DATA_DIR_OPTION, JSON_OPTION, STORE_OPTION, open_cli_store
from ztgate.errors import UsageError
from ztgate.identity import Registry, SigningKeys, TokenIssuer, TokenSettings
from ztgate.identity.conditions import check_standing
from ztgate.identity.tokens import MAX_LIFETIME

app = typer.Typer(help="Issue (local development) and revoke access tokens.", no_args_is_help=True)

ISSUER_OPTION = typer.Option(
    None, "--issuer", envvar="ZTGATE_ISSUER", help="Issuer URL (default http://127.0.0.1:8080)."
)


def _settings(issuer: str | None, audience: str, lifetime: int) -> TokenSettings:
    return TokenSettings(
        issuer=issuer or os.environ.get("ZTGATE_ISSUER") or "http://127.0.0.1:8080",
        audience=audience,
        lifetime=timedelta(seconds=lifetime),
    )


@app.command()
def issue(
    agent_id: Annotated[str, typer.Argument(help="Active agent to mint a token for.")],
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Scope (repeatable; default: all).")
    ] = None,
    issuer: str | None = ISSUER_OPTION,
    audience: str = typer.Option("urn:ztgate:api", "--audience"),
    lifetime: int = typer.Option(600, "--lifetime", help="Seconds (max 3600)."),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Mint an access token for an agent without client authentication (local dev only).

    Whoever can write the store can already do anything; this is the same trust, made
    convenient. The agent's status, expiry, risk and attestation conditions still apply.
    """
    settings = _settings(issuer, audience, lifetime)
    now = datetime.now(UTC)
    with open_cli_store(store, data_dir) as handle:
        registry = Registry(handle)
        profile = registry.profile(agent_id)
        if profile is None:
            raise UsageError(f"unknown agent `{agent_id}`")
        failed = check_standing(profile.agent, profile.conditions, now)
        if failed is not None:
            raise UsageError(f"agent `{agent_id}` cannot get a token: `{failed}`")
        wider = set(scope or []) - profile.scopes
        if wider:
            raise UsageError(f"agent `{agent_id}` may not have scopes `{' '.join(sorted(wider))}`")
        issued = TokenIssuer(settings, SigningKeys(handle)).issue(
            subject=agent_id,
            client_id=agent_id,
            scopes=scope or sorted(profile.scopes),
            now=now,
        )
    if as_json:
        print_json(
            {
                "access_token": issued.token,
                "token_type": "Bearer",
                "jti": issued.jti,
                "expires_at": issued.expires_at.isoformat(),
                "scope": " ".join(issued.scopes),
            }
        )
    else:
        console.print(issued.token, markup=False, soft_wrap=True)


@app.command()
def revoke(
    jti: Annotated[str, typer.Argument(help="The `jti` of the token to revoke.")],
    reason: str = typer.Option("", "--reason"),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke a token by id; every verifier sharing the store refuses it from then on."""
    # Kept past the longest possible token lifetime plus clock leeway.
    until = datetime.now(UTC) + MAX_LIFETIME + timedelta(minutes=5)
    with open_cli_store(store, data_dir) as handle:
        Registry(handle).revoke_token(jti, expires_at=until, reason=reason, actor="cli")
    if as_json:
        print_json({"jti": jti, "revoked": True})
    else:
        console.print(f"revoked {jti}", markup=False)
