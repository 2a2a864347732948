"""``ztgate agent``: register agents and drive their lifecycle."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ztgate.cli._output import console, print_json
from ztgate.cli._store_options import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    STORE_OPTION,
    open_cli_store,
    parse_json_option,
    parse_when,
)
from ztgate.errors import UsageError
from ztgate.identity import Registry
from ztgate.store import Agent, AgentStatus

app = typer.Typer(help="Register agents and manage their lifecycle.", no_args_is_help=True)


def agent_dict(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "display_name": agent.display_name,
        "blueprint": agent.blueprint,
        "owners": list(agent.owners),
        "sponsors": list(agent.sponsors),
        "status": agent.status.value,
        "created_at": agent.created_at.isoformat(),
        "expires_at": agent.expires_at.isoformat() if agent.expires_at else None,
        "last_attested_at": agent.last_attested_at.isoformat() if agent.last_attested_at else None,
        "risk_level": agent.risk_level,
        "tags": list(agent.tags),
        "scopes": list(agent.scopes),
        "conditions": dict(agent.conditions),
    }


def _show(agent: Agent, as_json: bool, extra: dict[str, Any] | None = None) -> None:
    data = agent_dict(agent) | (extra or {})
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value}", markup=False)


def read_jwk(path: Path) -> dict[str, Any]:
    """A public key file: a JWK (JSON) or a PEM public key."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

    from ztgate.identity._jose import public_jwk

    try:
        raw = path.read_bytes()
    except OSError as error:
        raise UsageError(f"cannot read key file `{path}`: {error}") from error
    if raw.lstrip().startswith(b"{"):
        try:
            data = json.loads(raw)
        except ValueError as error:
            raise UsageError(f"`{path}` is not valid JSON") from error
        if not isinstance(data, dict):
            raise UsageError(f"`{path}` is not a JWK object")
        return data
    try:
        key = serialization.load_pem_public_key(raw)
    except ValueError as error:
        raise UsageError(f"`{path}` is neither a JWK nor a PEM public key") from error
    if not isinstance(key, ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise UsageError(f"`{path}` holds an unsupported key type")
    return public_jwk(key)


@app.command()
def create(
    agent_id: Annotated[str, typer.Argument(help="Agent id (letters, digits, . _ -).")],
    owner: Annotated[
        list[str] | None, typer.Option("--owner", help="Owner (repeatable, at least one).")
    ] = None,
    sponsor: Annotated[
        list[str] | None, typer.Option("--sponsor", help="Sponsor (repeatable, at least one).")
    ] = None,
    name: str | None = typer.Option(None, "--name", help="Display name."),
    blueprint: str | None = typer.Option(None, "--blueprint", help="Blueprint id."),
    expires: str | None = typer.Option(None, "--expires", help="ISO-8601 time or 30d/12h."),
    risk: str = typer.Option("low", "--risk", help="low | medium | high | critical."),
    tag: Annotated[list[str] | None, typer.Option("--tag", help="Tag (repeatable).")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Extra scope (repeatable).")
    ] = None,
    conditions: str | None = typer.Option(None, "--conditions", help="Conditions as JSON."),
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="JWK or PEM public key.")
    ] = None,
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Register an agent (active from now)."""
    jwk = read_jwk(public_key) if public_key is not None else None
    with open_cli_store(store, data_dir) as handle:
        registry = Registry(handle)
        agent = registry.create_agent(
            agent_id,
            owners=owner or [],
            sponsors=sponsor or [],
            display_name=name,
            blueprint=blueprint,
            expires_at=parse_when(expires),
            risk_level=risk,
            tags=tag or [],
            scopes=scope or [],
            conditions=parse_json_option(conditions, "--conditions"),
            actor="cli",
        )
        extra: dict[str, Any] = {}
        if jwk is not None:
            extra["keys"] = [registry.add_client_key(agent_id, jwk, actor="cli").kid]
        _show(agent, as_json, extra)


@app.command("list")
def list_(
    status: str | None = typer.Option(None, "--status", help="Only agents in this status."),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List registered agents."""
    try:
        wanted = AgentStatus(status) if status is not None else None
    except ValueError as error:
        raise UsageError(f"unknown status `{status}`") from error
    with open_cli_store(store, data_dir) as handle:
        agents = Registry(handle).list_agents(status=wanted)
    if as_json:
        print_json([agent_dict(a) for a in agents])
        return
    for agent in agents:
        console.print(
            f"{agent.id}\t{agent.status.value}\t{agent.blueprint or '-'}\t{agent.risk_level}",
            markup=False,
        )


@app.command()
def show(
    agent_id: str = typer.Argument(...),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show one agent with its keys and lifecycle events."""
    with open_cli_store(store, data_dir) as handle:
        agent = Registry(handle).get_agent(agent_id)
        keys = [
            {"kid": k.kid, "active": k.active, "created_at": k.created_at.isoformat()}
            for k in handle.client_keys.list_for(agent_id, include_revoked=True)
        ]
        events = [
            {"kind": e.kind, "at": e.at.isoformat(), "actor": e.actor, "reason": e.reason}
            for e in handle.events.list(subject=agent_id)
        ]
    _show(agent, as_json, {"keys": keys, "events": events})


def _lifecycle(
    action: str, agent_id: str, reason: str | None, store: str | None, data_dir: str, as_json: bool
) -> None:
    with open_cli_store(store, data_dir) as handle:
        registry = Registry(handle)
        method = getattr(registry, action)
        agent = method(agent_id, reason=reason, actor="cli")
    _show(agent, as_json)


REASON = typer.Option(None, "--reason", help="Why (recorded in the event log).")


@app.command()
def suspend(
    agent_id: str = typer.Argument(...),
    reason: str | None = REASON,
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Suspend an agent: its tokens stop verifying at once (kill switch)."""
    _lifecycle("suspend", agent_id, reason, store, data_dir, as_json)


@app.command()
def resume(
    agent_id: str = typer.Argument(...),
    reason: str | None = REASON,
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Reactivate a suspended or disabled agent."""
    _lifecycle("resume", agent_id, reason, store, data_dir, as_json)


@app.command()
def decommission(
    agent_id: str = typer.Argument(...),
    reason: str | None = REASON,
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Retire an agent for good; its keys are revoked."""
    _lifecycle("decommission", agent_id, reason, store, data_dir, as_json)


@app.command()
def attest(
    agent_id: str = typer.Argument(...),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Record that the agent was reviewed and is still needed (resets attestation age)."""
    with open_cli_store(store, data_dir) as handle:
        agent = Registry(handle).attest(agent_id, actor="cli")
    _show(agent, as_json)
