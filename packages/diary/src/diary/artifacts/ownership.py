"""Which artifact objects a database may delete: only the ones it wrote itself.

Several databases can point at the same objects: two databases in one folder share the default
artifact root, a ``diary db backup`` copy (or a ``cp`` of the file) points at every object of
the original, a moved file at the objects it wrote where it was. Deleting an object because one
database no longer needs it could cost another its bytes. So:

* Each database has an identity (a UUID in its ``store_identity`` table) and records where it
  was when it took it (the absolute path of its file, or its URL without password).
* New objects go under ``<root>/<identity>/<aa>/<uuid>``: the identity owns them.
* A database that finds itself elsewhere than it recorded is a copy or a moved file: it takes
  a new identity before writing or deleting anything. Everything it did not write under that
  new identity is borrowed.
* ``diary db backup`` hands the objects written so far over to both sides: the original takes
  a new identity before the copy is made, so neither deletes what the other points at. A copy
  made behind the database's back (``cp``) cannot be known to the original: the copy never
  deletes the original's objects, but the original may delete its own objects the copy still
  points at. Use ``diary db backup`` for copies that must stay whole.
* Nothing deletes an object that is not owned: not ``artifact rm``, not replacing an
  artifact's bytes, not ``artifact migrate`` (the source stays), not ``verify --gc`` (it only
  looks under the database's own prefix). Objects of older versions
  (``<root>/<aa>/<uuid>``, no identity) count as borrowed too. ``verify --gc
  --include-borrowed`` is the explicit way to remove orphans outside the own prefix, for a
  root the user knows no other database uses.
"""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import PurePosixPath
from typing import TYPE_CHECKING
from uuid import UUID, uuid4

import sqlalchemy as sa

from diary import models as m
from storage_core.uri import parse

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from diary.config import Settings

__all__ = [
    "database_location",
    "find_identity",
    "is_owned",
    "share_with_a_copy",
    "take_identity",
]


def database_location(settings: Settings) -> str:
    """Where this database is: its file's resolved absolute path, or its URL (no password)."""
    if settings.db_url:
        return settings.describe()
    return os.path.realpath(settings.db_file)


def find_identity(conn: Connection, location: str) -> UUID | None:
    """The database's identity when it has one and is where it took it, else None (then it
    owns nothing). Only reads."""
    rows = conn.execute(sa.select(m.store_identity.c.id, m.store_identity.c.location)).all()
    if len(rows) == 1 and rows[0].location == location:
        return UUID(str(rows[0].id))
    return None


def take_identity(conn: Connection, location: str) -> UUID:
    """The database's identity for artifact objects, taking one first when it has none or is
    not where it took it (a copy or a moved file). Call in a write transaction."""
    found = find_identity(conn, location)
    if found is not None:
        return found
    # None yet, or this is a copy or a moved file: a new identity; what the old one wrote is
    # borrowed from now on.
    identity = uuid4()
    conn.execute(sa.delete(m.store_identity))
    conn.execute(
        sa.insert(m.store_identity).values(
            id=identity, location=location, created_at=datetime.now(UTC)
        )
    )
    return identity


def share_with_a_copy(conn: Connection) -> None:
    """Before ``diary db backup`` copies the file: take a new identity, so that the objects
    written so far are borrowed from now on, by this database and by the copy alike, and
    neither ever deletes what the other still points at. Call in a write transaction."""
    conn.execute(sa.update(m.store_identity).values(id=uuid4()))


def is_owned(uri: str, identity: UUID | None) -> bool:
    """Whether the object at ``uri`` was written under ``identity`` (``.../<id>/<aa>/<uuid>``)."""
    if not uri or identity is None:
        return False
    try:
        parts = PurePosixPath(parse(uri).path).parts
    except Exception:
        return False
    # The leftover of an interrupted write sits beside its object, under a temporary name.
    return len(parts) >= 3 and parts[-3] == str(identity) and len(parts[-2]) == 2
