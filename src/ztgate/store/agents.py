"""Repositories for agents and blueprints (the registry's persistent side)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Row, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from ztgate.errors import StoreError
from ztgate.store import _schema as s
from ztgate.store.records import Agent, AgentStatus, Blueprint, CredentialType

if TYPE_CHECKING:
    from ztgate.store.store import Store


def _agent_values(agent: Agent) -> dict[str, Any]:
    return {
        "id": agent.id,
        "display_name": agent.display_name,
        "blueprint": agent.blueprint,
        "owners": list(agent.owners),
        "sponsors": list(agent.sponsors),
        "status": agent.status.value,
        "created_at": agent.created_at,
        "updated_at": agent.updated_at,
        "expires_at": agent.expires_at,
        "last_attested_at": agent.last_attested_at,
        "risk_level": agent.risk_level,
        "tags": list(agent.tags),
        "scopes": list(agent.scopes),
        "conditions": dict(agent.conditions),
    }


def _agent(row: Row[Any]) -> Agent:
    m = row._mapping
    return Agent(
        id=m["id"],
        display_name=m["display_name"],
        blueprint=m["blueprint"],
        owners=tuple(m["owners"]),
        sponsors=tuple(m["sponsors"]),
        status=AgentStatus(m["status"]),
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        expires_at=m["expires_at"],
        last_attested_at=m["last_attested_at"],
        risk_level=m["risk_level"],
        tags=tuple(m["tags"]),
        scopes=tuple(m["scopes"]),
        conditions=dict(m["conditions"]),
    )


class AgentRepository:
    """Agents by id. Every write bumps the identity revision (status drives verification)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, agent: Agent, conn: Connection | None = None) -> None:
        try:
            with self._store.transaction(conn) as c:
                c.execute(insert(s.agents).values(**_agent_values(agent)))
                self._store.bump_revision(c)
        except StoreError as error:
            if isinstance(error.__cause__, SAIntegrityError):
                raise StoreError(f"agent `{agent.id}` already exists") from error
            raise

    def replace(self, agent: Agent, conn: Connection | None = None) -> None:
        values = _agent_values(agent)
        values.pop("id")
        with self._store.transaction(conn) as c:
            result = c.execute(update(s.agents).where(s.agents.c.id == agent.id).values(**values))
            if result.rowcount != 1:
                raise StoreError(f"agent `{agent.id}` does not exist")
            self._store.bump_revision(c)

    def get(self, agent_id: str, conn: Connection | None = None) -> Agent | None:
        with self._store.transaction(conn) as c:
            row = c.execute(select(s.agents).where(s.agents.c.id == agent_id)).first()
        return _agent(row) if row is not None else None

    def list(
        self,
        *,
        status: AgentStatus | None = None,
        blueprint: str | None = None,
        conn: Connection | None = None,
    ) -> list[Agent]:
        query = select(s.agents).order_by(s.agents.c.id)
        if status is not None:
            query = query.where(s.agents.c.status == status.value)
        if blueprint is not None:
            query = query.where(s.agents.c.blueprint == blueprint)
        with self._store.transaction(conn) as c:
            return [_agent(row) for row in c.execute(query)]


def _blueprint(row: Row[Any]) -> Blueprint:
    m = row._mapping
    return Blueprint(
        id=m["id"],
        display_name=m["display_name"],
        parent=m["parent"],
        permissions=tuple(m["permissions"]),
        policies=tuple(m["policies"]),
        credential_types=tuple(CredentialType(t) for t in m["credential_types"]),
        created_at=m["created_at"],
        conditions=dict(m["conditions"]),
    )


class BlueprintRepository:
    """Blueprints by id; immutable once created (a change is a new blueprint)."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def add(self, blueprint: Blueprint, conn: Connection | None = None) -> None:
        try:
            with self._store.transaction(conn) as c:
                c.execute(
                    insert(s.blueprints).values(
                        id=blueprint.id,
                        display_name=blueprint.display_name,
                        parent=blueprint.parent,
                        permissions=list(blueprint.permissions),
                        policies=list(blueprint.policies),
                        credential_types=[t.value for t in blueprint.credential_types],
                        conditions=dict(blueprint.conditions),
                        created_at=blueprint.created_at,
                    )
                )
        except StoreError as error:
            if isinstance(error.__cause__, SAIntegrityError):
                raise StoreError(f"blueprint `{blueprint.id}` already exists") from error
            raise

    def get(self, blueprint_id: str, conn: Connection | None = None) -> Blueprint | None:
        with self._store.transaction(conn) as c:
            row = c.execute(select(s.blueprints).where(s.blueprints.c.id == blueprint_id)).first()
        return _blueprint(row) if row is not None else None

    def list(self, conn: Connection | None = None) -> list[Blueprint]:
        with self._store.transaction(conn) as c:
            return [
                _blueprint(r) for r in c.execute(select(s.blueprints).order_by(s.blueprints.c.id))
            ]
