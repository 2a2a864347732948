"""``ztgate key``: ztgate's signing keys, agents' public keys, trusted external issuers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated

import typer

from ztgate.cli._output import console, print_json
from ztgate.cli._store_options import DATA_DIR_OPTION, JSON_OPTION, STORE_OPTION, open_cli_store
from ztgate.identity import Registry, SigningKeys
from ztgate.identity.tokens import MAX_LIFETIME

app = typer.Typer(help="Signing-key rotation and agents' public keys.", no_args_is_help=True)


@app.command()
def rotate(
    alg: str = typer.Option("EdDSA", "--alg", help="EdDSA | ES256."),
    retire_after: int = typer.Option(
        int(MAX_LIFETIME.total_seconds()) + 60,
        "--retire-after",
        help="Seconds the previous key keeps verifying (cover the longest token lifetime).",
    ),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a new token-signing key; the old one verifies until it is retired."""
    with open_cli_store(store, data_dir) as handle:
        key = SigningKeys(handle, alg=alg).rotate(
            datetime.now(UTC), retire_after=timedelta(seconds=retire_after), actor="cli"
        )
    data = {"kid": key.kid, "alg": key.alg, "created_at": key.created_at.isoformat()}
    if as_json:
        print_json(data)
    else:
        console.print(f"new signing key {key.kid} ({key.alg})", markup=False)


@app.command("list")
def list_(
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List signing keys (public parts only)."""
    with open_cli_store(store, data_dir) as handle:
        keys = handle.signing_keys.list()
    data = [
        {
            "kid": k.kid,
            "alg": k.alg,
            "created_at": k.created_at.isoformat(),
            "retired_at": k.retired_at.isoformat() if k.retired_at else None,
            "expires_at": k.expires_at.isoformat() if k.expires_at else None,
        }
        for k in keys
    ]
    if as_json:
        print_json(data)
        return
    for row in data:
        console.print(f"{row['kid']}\t{row['alg']}\tretired={row['retired_at']}", markup=False)


@app.command("add")
def add(
    agent_id: Annotated[str, typer.Argument(help="Agent the key belongs to.")],
    public_key: Annotated[Path, typer.Argument(help="JWK (JSON) or PEM public key file.")],
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register another public key for an agent (rotation: add new, then revoke old)."""
    from ztgate.cli.agent import read_jwk

    jwk = read_jwk(public_key)
    with open_cli_store(store, data_dir) as handle:
        key = Registry(handle).add_client_key(agent_id, jwk, actor="cli")
    if as_json:
        print_json({"agent": agent_id, "kid": key.kid})
    else:
        console.print(f"added key {key.kid} to {agent_id}", markup=False)


@app.command("revoke")
def revoke(
    agent_id: str = typer.Argument(...),
    kid: str = typer.Argument(...),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Revoke one of an agent's public keys."""
    with open_cli_store(store, data_dir) as handle:
        Registry(handle).revoke_client_key(agent_id, kid, actor="cli")
    if as_json:
        print_json({"agent": agent_id, "kid": kid, "revoked": True})
    else:
        console.print(f"revoked key {kid} of {agent_id}", markup=False)


@app.command("trust-issuer")
def trust_issuer(
    issuer: Annotated[str, typer.Argument(help="Issuer URL exactly as in its tokens' `iss`.")],
    kind: str = typer.Option(
        "workload", "--kind", help="workload (authenticates agents) | user (subject tokens)."
    ),
    audience: Annotated[
        list[str] | None, typer.Option("--audience", help="Accepted `aud` (repeatable).")
    ] = None,
    algorithm: Annotated[
        list[str] | None, typer.Option("--alg", help="Accepted algorithm (repeatable).")
    ] = None,
    jwks_uri: str | None = typer.Option(None, "--jwks-uri", help="Skip discovery, use this."),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Trust an external token issuer (OIDC discovery + JWKS) for federation."""
    with open_cli_store(store, data_dir) as handle:
        trust = Registry(handle).trust_issuer(
            issuer,
            kind=kind,
            audiences=audience or [],
            algorithms=algorithm or ["RS256", "ES256", "EdDSA"],
            jwks_uri=jwks_uri,
            actor="cli",
        )
    data = {
        "issuer": trust.issuer,
        "kind": trust.kind,
        "audiences": list(trust.audiences),
        "algorithms": list(trust.algorithms),
        "jwks_uri": trust.jwks_uri,
    }
    if as_json:
        print_json(data)
    else:
        console.print(f"trusting {trust.issuer} ({trust.kind})", markup=False)


@app.command("map-subject")
def map_subject(
    issuer: Annotated[str, typer.Argument(help="A trusted workload issuer.")],
    subject: Annotated[str, typer.Argument(help="The `sub` its tokens carry.")],
    agent_id: Annotated[str, typer.Argument(help="The agent that subject is.")],
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Map an external issuer's subject to a registered agent."""
    with open_cli_store(store, data_dir) as handle:
        Registry(handle).map_subject(issuer, subject, agent_id, actor="cli")
    if as_json:
        print_json({"issuer": issuer, "subject": subject, "agent": agent_id})
    else:
        console.print(f"{subject} of {issuer} is now {agent_id}", markup=False)
