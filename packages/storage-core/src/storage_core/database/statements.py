"""Portable spellings of statements that SQLAlchemy Core spells per dialect."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

__all__ = ["count_inserted", "insert_skipping_duplicates", "supports_skipping_duplicates"]

# DuckDB's dialect compiles PostgreSQL's constructs, and DuckDB accepts ON CONFLICT.
_POSTGRES_LIKE = ("postgresql", "duckdb")


def supports_skipping_duplicates(conn: Connection) -> bool:
    """Whether :func:`insert_skipping_duplicates` works on this connection's database."""
    return conn.dialect.name in (*_POSTGRES_LIKE, "sqlite")


def insert_skipping_duplicates(conn: Connection, table: sa.Table) -> Any:
    """``INSERT ... ON CONFLICT DO NOTHING`` for ``table`` in this connection's dialect.

    A row whose primary or unique key exists already is skipped, atomically, without the
    read-then-insert race two processes would have. With ``.returning(...)`` the result names
    exactly the rows inserted.

    Raises:
        NotImplementedError: the database has no such statement (see
            :func:`supports_skipping_duplicates`).
    """
    name = conn.dialect.name
    if name in _POSTGRES_LIKE:
        from sqlalchemy.dialects.postgresql import insert as postgres_insert

        return postgres_insert(table).on_conflict_do_nothing()
    if name == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        return sqlite_insert(table).on_conflict_do_nothing()
    raise NotImplementedError(f"no INSERT ... ON CONFLICT DO NOTHING on {name}")


def count_inserted(conn: Connection, statement: sa.Insert, key: sa.ColumnElement[Any]) -> int:
    """Run an INSERT and return how many rows it wrote.

    SQLAlchemy reports -1 as the row count of an INSERT on psycopg; there the statement
    returns ``key`` of each row it wrote instead, and those are counted.
    """
    if conn.dialect.name == "postgresql":
        return len(conn.execute(statement.returning(key)).all())
    return int(conn.execute(statement).rowcount)
