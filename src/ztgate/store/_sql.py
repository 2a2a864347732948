"""Dialect-specific statements the portable SQLAlchemy core cannot express."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, **values: Any) -> bool:
    """Insert a row unless its primary key exists; ``True`` if this call inserted it.

    One statement, so it is atomic against concurrent writers on both backends.
    """
    if conn.dialect.name == "postgresql":
        statement: Any = postgresql.insert(table).values(**values).on_conflict_do_nothing()
    else:
        statement = sqlite.insert(table).values(**values).on_conflict_do_nothing()
    return bool(conn.execute(statement).rowcount == 1)
