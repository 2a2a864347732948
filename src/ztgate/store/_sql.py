"""Dialect-specific statements the portable SQLAlchemy core cannot express."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(conn: Connection, table: Table, **values: Any) -> bool:
    """Insert a row unless its primary key exists; ``True`` if this call inserted it.

    One statement, so it is atomic against concurrent writers on both backends.
    """
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    key = next(iter(table.primary_key.columns))
    # RETURNING rather than rowcount: psycopg reports no rowcount for this statement.
    statement: Any = dialect.insert(table).values(**values).on_conflict_do_nothing().returning(key)
    return conn.execute(statement).first() is not None
