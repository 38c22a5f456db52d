"""Small SQL helpers shared by the SQLite backend, migrate and import.

They keep the write paths portable: ``INSERT ... ON CONFLICT DO NOTHING`` where the dialect
has it (SQLite, PostgreSQL), a read-then-insert inside the same transaction elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from buildlog.identifiers import format_timestamp
from buildlog.models import projects
from buildlog.project import ProjectIdentity

__all__ = ["insert_ignore", "register_project"]


def insert_ignore(conn: Connection, table: sa.Table, rows: Sequence[dict[str, Any]]) -> int:
    """Insert rows, skipping those whose primary key (or unique key) exists already.

    Returns:
        How many rows were inserted.
    """
    if not rows:
        return 0
    dialect = conn.dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert

        # executemany is fast, and total_changes() counts exactly the rows it inserted
        # (ignored conflicts change nothing) on this connection.
        before = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
        conn.execute(sqlite_insert(table).on_conflict_do_nothing(), list(rows))
        after = conn.exec_driver_sql("SELECT total_changes()").scalar_one()
        return int(after - before)
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        statement = pg_insert(table).on_conflict_do_nothing()
        return sum(conn.execute(statement, row).rowcount for row in rows)
    key = list(table.primary_key.columns)
    inserted = 0
    for row in rows:
        condition = sa.and_(*(column == row[column.name] for column in key))
        if conn.execute(sa.select(sa.literal(1)).where(condition)).first() is None:
            conn.execute(table.insert(), row)
            inserted += 1
    return inserted


def register_project(engine: Engine, identity: ProjectIdentity) -> bool:
    """Register a project, or bring its row up to date (latest path, name, id source).

    A second clone at another path shares the id: its path replaces the recorded one. If
    another project is recorded at this path (its origin changed, or a folder was reused),
    that row keeps its data and gets a marked path, since ``projects.path`` is UNIQUE in the
    original's schema.

    The usual case, an up-to-date row, is checked with a read that takes no write lock, so
    read-only commands do not queue behind writers.

    Returns:
        True when the project was not registered before.
    """
    query = sa.select(projects.c.path, projects.c.name, projects.c.id_source).where(
        projects.c.id == identity.id
    )
    wanted = (str(identity.path), identity.name, identity.source)
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        if tuple(conn.execute(query).one_or_none() or ()) == wanted:
            return False
    with engine.begin() as conn:
        return _register(conn, identity)


def _register(conn: Connection, identity: ProjectIdentity) -> bool:
    """Insert or update the registry row inside a write transaction (re-reads under the lock)."""
    path = str(identity.path)
    now = format_timestamp()
    current = conn.execute(sa.select(projects).where(projects.c.id == identity.id)).first()
    if current is not None and (current.path, current.name, current.id_source) == (
        path,
        identity.name,
        identity.source,
    ):
        return False
    holder = conn.execute(
        sa.select(projects.c.id).where(projects.c.path == path, projects.c.id != identity.id)
    ).first()
    if holder is not None:
        conn.execute(
            projects.update()
            .where(projects.c.id == holder.id)
            .values(path=f"{path} [superseded by {identity.id}; was {holder.id}]", updated_at=now)
        )
    if current is None:
        conn.execute(
            projects.insert().values(
                id=identity.id,
                name=identity.name,
                path=path,
                id_source=identity.source,
                created_at=now,
                updated_at=now,
            )
        )
        return True
    conn.execute(
        projects.update()
        .where(projects.c.id == identity.id)
        .values(path=path, name=identity.name, id_source=identity.source, updated_at=now)
    )
    return False
