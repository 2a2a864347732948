"""``ztgate blueprint``: templates agents inherit permissions and policies from."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from ztgate.cli._output import console, print_json
from ztgate.cli._store_options import (
    DATA_DIR_OPTION,
    JSON_OPTION,
    STORE_OPTION,
    open_cli_store,
    parse_json_option,
)
from ztgate.identity import Registry
from ztgate.store import Blueprint

app = typer.Typer(help="Create and inspect agent blueprints.", no_args_is_help=True)


def blueprint_dict(blueprint: Blueprint) -> dict[str, Any]:
    return {
        "id": blueprint.id,
        "display_name": blueprint.display_name,
        "parent": blueprint.parent,
        "permissions": list(blueprint.permissions),
        "policies": list(blueprint.policies),
        "credential_types": [t.value for t in blueprint.credential_types],
        "conditions": dict(blueprint.conditions),
        "created_at": blueprint.created_at.isoformat(),
    }


@app.command()
def create(
    blueprint_id: str = typer.Argument(...),
    name: str | None = typer.Option(None, "--name", help="Display name."),
    parent: str | None = typer.Option(None, "--parent", help="Parent blueprint id."),
    permission: Annotated[
        list[str] | None, typer.Option("--permission", help="Permission (repeatable).")
    ] = None,
    policy: Annotated[
        list[str] | None, typer.Option("--policy", help="Policy id (repeatable).")
    ] = None,
    credential_type: Annotated[
        list[str] | None,
        typer.Option("--credential-type", help="private_key_jwt | federated (repeatable)."),
    ] = None,
    conditions: str | None = typer.Option(None, "--conditions", help="Conditions as JSON."),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Create a blueprint (optionally under a parent)."""
    with open_cli_store(store, data_dir) as handle:
        blueprint = Registry(handle).create_blueprint(
            blueprint_id,
            display_name=name,
            parent=parent,
            permissions=permission or [],
            policies=policy or [],
            credential_types=credential_type or None,
            conditions=parse_json_option(conditions, "--conditions"),
            actor="cli",
        )
    _print(blueprint_dict(blueprint), as_json)


def _print(data: dict[str, Any], as_json: bool) -> None:
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        console.print(f"{key}: {value}", markup=False)


@app.command("list")
def list_(
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """List blueprints."""
    with open_cli_store(store, data_dir) as handle:
        blueprints = Registry(handle).list_blueprints()
    if as_json:
        print_json([blueprint_dict(b) for b in blueprints])
        return
    for blueprint in blueprints:
        console.print(f"{blueprint.id}\t{blueprint.parent or '-'}", markup=False)


@app.command()
def show(
    blueprint_id: str = typer.Argument(...),
    store: str | None = STORE_OPTION,
    data_dir: str = DATA_DIR_OPTION,
    as_json: bool = JSON_OPTION,
) -> None:
    """Show a blueprint and what it resolves to with its ancestors."""
    with open_cli_store(store, data_dir) as handle:
        registry = Registry(handle)
        blueprint = registry.get_blueprint(blueprint_id)
        resolved = registry.resolve_blueprint(blueprint_id)
    data = blueprint_dict(blueprint) | {
        "resolved": {
            "chain": list(resolved.chain),
            "permissions": sorted(resolved.permissions),
            "policies": list(resolved.policies),
            "credential_types": sorted(t.value for t in resolved.credential_types),
        }
    }
    _print(data, as_json)
