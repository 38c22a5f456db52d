"""Which backend a project uses: the four cases of the design, in order.

1. The global database exists and the project is registered: SQLiteBackend.
2. The database exists, the project is not registered: register it (unless the command only
   reads), SQLiteBackend; when the project still has un-migrated legacy files, a notice says
   so.
3. No database, but the project has legacy files: LegacyBackend (read-only).
4. Nothing exists: create the database, register the project, SQLiteBackend. A command that
   only reads sees an empty project instead (case 3 with no files).

Notices are returned, not printed: the CLI writes them to stderr.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from buildlog.backends.legacy import LegacyBackend
from buildlog.backends.protocol import StorageBackend
from buildlog.errors import OutsideProject
from buildlog.legacy import LegacyLayout, find_layout
from buildlog.paths import DatabaseLocation, database_location
from buildlog.project import ProjectIdentity, identify_project

__all__ = ["Resolution", "resolve_backend"]

logger = logging.getLogger(__name__)

Case = Literal[1, 2, 3, 4]


@dataclass
class Resolution:
    """The backend chosen for a project, and why.

    Attributes:
        backend: the backend to use (close it when done).
        case: which of the four resolution cases applied.
        identity: the project.
        location: the global database (which may not exist in case 3).
        layout: the project's legacy files with pending data, if any.
        notices: messages for the user (un-migrated files, adoption of the original database).
        registered: False when a command that only reads found the project unregistered
            (case 2) and left it so.
    """

    backend: StorageBackend
    case: Case
    identity: ProjectIdentity
    location: DatabaseLocation
    layout: LegacyLayout | None
    notices: list[str] = field(default_factory=list)
    registered: bool = True


def resolve_backend(
    project_root: Path | str | None = None,
    db: str | None = None,
    *,
    identity: ProjectIdentity | None = None,
    create: bool = True,
) -> Resolution:
    """Choose (and if needed create) the backend for the project at ``project_root``.

    Args:
        project_root: the project folder (default: the working directory).
        db: the database path or URL (default: ``BUILDLOG_DB`` / ``BUILDLOG_HOME``).
        identity: the project's identity, when the caller derived it already.
        create: create the database when there is neither a database nor legacy files
            (case 4), and register the project. False for commands that only read: they
            then see an empty project (case 3 with no files), or read an existing database
            without registering the project, and leave nothing behind.

    Returns:
        The resolution; its backend is bound to the project.

    Raises:
        ForeignDatabase: the database file is not a buildlog database.
        SchemaTooNew: the database was written by a newer buildlog.
    """
    identity = identity or identify_project(project_root)
    location = database_location(db)
    outside: OutsideProject | None = None
    try:
        # Beside a database, the original's tracking files are not pending legacy data.
        layout = find_layout(identity.path, beside_database=location.exists())
    except OutsideProject as err:
        # Never read another project's files as this one's: go on as if there were none, and
        # say why (`buildlog migrate` refuses them with the same message).
        layout, outside = None, err
    if not location.exists() and layout is not None:
        logger.debug("no database at %s; reading legacy files in %s", location.display(), layout)
        return Resolution(LegacyBackend(layout, identity), 3, identity, location, layout)
    if not create and outside is None and _nothing_at(location):
        # Nothing recorded anywhere (find_layout found no legacy files in the project): read
        # an empty project rather than create a database.
        nowhere = LegacyLayout(identity.path / "buildlog")
        return Resolution(LegacyBackend(nowhere, identity), 3, identity, location, None)

    from buildlog.backends.sql import find_registered, register_project
    from buildlog.backends.sqlite import SQLiteBackend
    from buildlog.db import open_engine

    existed = location.exists()
    engine, status = open_engine(location)
    notices: list[str] = []
    if outside is not None:
        notices.insert(0, f"ignored legacy files: {outside}")
    if status.action == "adopted":
        notices.append(
            f"adopted the original buildlog database {location.display()} (backup: {status.backup})"
        )
    try:
        if create:
            identity, is_new = register_project(engine, identity)
        else:  # a command that only reads leaves the registry as it is
            identity, found = find_registered(engine, identity)
            is_new = not found
    except BaseException:
        engine.dispose()
        raise
    backend = SQLiteBackend(engine, identity.id)
    if not existed:
        return Resolution(backend, 4, identity, location, layout, notices)
    if is_new and layout is not None:
        notices.append(
            f"this project has legacy buildlog files not yet in the database "
            f"({layout.data_dir}); run 'buildlog migrate' to import them"
        )
    return Resolution(
        backend, 2 if is_new else 1, identity, location, layout, notices, create or not is_new
    )


def _nothing_at(location: DatabaseLocation) -> bool:
    """No database and nothing in its place: no file, no link, no FIFO (those are still
    opened, and refused, as a write would; an empty regular file reads as empty)."""
    path = location.path
    if path is None:
        return False
    if not os.path.lexists(path):
        return True
    return path.is_file() and not path.is_symlink() and path.stat().st_size == 0
