"""Small SQL helpers shared by the SQLite backend, migrate and import.

They keep the write paths portable: ``INSERT ... ON CONFLICT DO NOTHING`` where the dialect
has it (SQLite, PostgreSQL), a read-then-insert inside the same transaction elsewhere.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
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

        # psycopg reports no row count for INSERT through SQLAlchemy: count the keys returned.
        key = list(table.primary_key.columns)
        statement = pg_insert(table).on_conflict_do_nothing().returning(*key)
        # One executemany: SQLAlchemy batches it into multi-row INSERTs ("insertmanyvalues").
        return len(conn.execute(statement, list(rows)).all())
    key = list(table.primary_key.columns)
    inserted = 0
    for row in rows:
        condition = sa.and_(*(column == row[column.name] for column in key))
        if conn.execute(sa.select(sa.literal(1)).where(condition)).first() is None:
            conn.execute(table.insert(), row)
            inserted += 1
    return inserted


# The first key of the advisory lock that serialises registrations on PostgreSQL ("blog").
_REGISTRY_LOCK = 0x626C6F67


def register_project(engine: Engine, identity: ProjectIdentity) -> tuple[ProjectIdentity, bool]:
    """Register a project, or bring its own row up to date (latest path, name, id source).

    * A row with the identity's id is this project's: only that row is updated.
    * Otherwise a row whose ``id_alias`` equals the identity's alias (a rotated token) or its
      id (a clone without credentials) is this project: it keeps that row's id (returned), so
      its records stay found.
    * Otherwise a new row. ``projects.path`` is UNIQUE in the original's schema; if another
      project is recorded at this path (its origin changed, a folder was reused), the new row's
      path gets `` [<id>]`` appended. Another project's row is never rewritten.

    The usual case, an up-to-date row, is checked with a read that takes no write lock, so
    read-only commands do not queue behind writers.

    Returns:
        The identity whose id the records use, and whether a row was created.
    """
    query = sa.select(
        projects.c.path, projects.c.name, projects.c.id_source, projects.c.id_alias
    ).where(projects.c.id == identity.id)
    wanted = (str(identity.path), identity.name, identity.source, identity.alias)
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        if tuple(conn.execute(query).one_or_none() or ()) == wanted:
            return identity, False
    with engine.begin() as conn:
        return _register(conn, identity)


def find_registered(engine: Engine, identity: ProjectIdentity) -> tuple[ProjectIdentity, bool]:
    """The project as :func:`register_project` would find it, without writing: its own row,
    else the row its credential-free form names (a rotated token, a clean clone).

    For commands that only read: an unregistered project reads as empty and stays
    unregistered.

    Returns:
        The identity whose id the records use, and whether a row was found.
    """
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        found = conn.execute(
            sa.select(projects.c.id).where(projects.c.id == identity.id)
        ).scalar_one_or_none()
        if found is None:
            found = _alias_owner(conn, identity)
    if found is None:
        return identity, False
    return replace(identity, id=found), True


def _alias_owner(conn: Connection, identity: ProjectIdentity) -> str | None:
    """The id of the project the identity's credential-free form names: a rotated token (the
    same alias) or a clone without credentials (its id is the alias)."""
    if identity.source != "git-remote":
        return None
    found: str | None = (
        conn.execute(
            sa.select(projects.c.id)
            .where(projects.c.id_alias == (identity.alias or identity.id))
            .order_by(projects.c.created_at)
        )
        .scalars()
        .first()
    )
    return found


def _register(conn: Connection, identity: ProjectIdentity) -> tuple[ProjectIdentity, bool]:
    """Insert or update the registry row inside a write transaction (re-reads under the lock).

    SQLite's write transaction is that lock (``BEGIN IMMEDIATE``). PostgreSQL's default
    isolation lets two first uses both find no row and both insert it, so there registrations
    take turns on a transaction advisory lock.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:space, 1)"), {"space": _REGISTRY_LOCK})
    path = str(identity.path)
    now = format_timestamp()
    current = conn.execute(sa.select(projects).where(projects.c.id == identity.id)).first()
    same = _alias_owner(conn, identity) if current is None else None
    if same is not None:
        # A rotated token: the project's records live under the id it was first seen with.
        identity = replace(identity, id=same)
        current = conn.execute(sa.select(projects).where(projects.c.id == same)).first()
    wanted = (path, identity.name, identity.source, identity.alias)
    if current is not None:
        if (current.path, current.name, current.id_source, current.id_alias) != wanted:
            values = {"name": identity.name, "id_source": identity.source, "updated_at": now}
            values["id_alias"] = identity.alias or current.id_alias
            if current.path != path and not _path_taken(conn, path, identity.id):
                values["path"] = path
            conn.execute(projects.update().where(projects.c.id == identity.id).values(**values))
        return identity, False
    if _path_taken(conn, path, identity.id):
        path = f"{path} [{identity.id}]"
    conn.execute(
        projects.insert().values(
            id=identity.id,
            name=identity.name,
            path=path,
            id_source=identity.source,
            id_alias=identity.alias,
            created_at=now,
            updated_at=now,
        )
    )
    return identity, True


def _path_taken(conn: Connection, path: str, project_id: str) -> bool:
    """Whether another project's row holds ``path`` (UNIQUE in the original's schema)."""
    holder = sa.select(projects.c.id).where(projects.c.path == path, projects.c.id != project_id)
    return conn.execute(holder).first() is not None
