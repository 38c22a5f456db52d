"""Opening the global database: permissions, first-use schema upgrades, adoption.

:func:`open_engine` is the only way the package opens its database. On first use it creates
the folder (``0700``) and the file (``0600``), then lets storage-core's
:func:`~storage_core.schema.ensure_schema` create or upgrade the schema under a file lock.

A database written by the original buildlog (a ``schema_version`` table at versions 1 to 7,
no alembic table) is adopted in place: backed up next to itself, completed to version 7 and
extended with this package's additions, nothing dropped. Anything else that is not ours,
including an original database at a version above 7, is refused with a clear error before
this package writes a single byte to it (even switching the journal mode would be a write,
so the check runs on a read-only connection first).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildlog.paths import FILE_MODE, DatabaseLocation, ensure_private_dir
from buildlog.schema_v7 import LATER_COLUMNS, ORIGINAL_VERSION
from storage_core.errors import (
    BackendUnavailable,
    ForeignDatabase,
    PermissionDenied,
    SchemaTooNew,
    StorageIOError,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from storage_core.schema import SchemaEnvironment, SchemaStatus

__all__ = [
    "ADOPTED_REVISION",
    "VERSION_TABLE",
    "inspect_original",
    "open_engine",
    "schema_environment",
]

VERSION_TABLE = "buildlog_alembic_version"
# The revision adoption stamps: "a database written by the original tool" (see versions/).
ADOPTED_REVISION = "0001"

Query = Callable[[str], Sequence[Sequence[Any]]]


def schema_environment() -> SchemaEnvironment:
    """buildlog's alembic environment (scripts shipped in ``buildlog/migrations``)."""
    from storage_core.schema import SchemaEnvironment

    return SchemaEnvironment("buildlog", "buildlog:migrations", VERSION_TABLE)


def _original_columns() -> dict[str, set[str]]:
    from buildlog.schema_v7 import build_original_metadata

    return {
        table.name: {c.name for c in table.columns if (table.name, c.name) not in LATER_COLUMNS}
        for table in build_original_metadata().sorted_tables
    }


def inspect_original(query: Query, where: str) -> int | None:
    """Recognise a database written by the original buildlog.

    Args:
        query: runs one read-only SQL statement and returns its rows.
        where: the database path, for messages.

    Returns:
        The original's schema version (1 to 7), or None when there is no ``schema_version``
        table (not the original's database).

    Raises:
        ForeignDatabase: a ``schema_version`` above 7 (a newer original wrote it) or below 1,
            or a table of the original without one of its version-1 columns.
    """
    tables = {row[0] for row in query("SELECT name FROM sqlite_master WHERE type = 'table'")}
    if "schema_version" not in tables:
        return None
    version = query("SELECT MAX(version) FROM schema_version")[0][0]
    if not isinstance(version, int) or not 1 <= version <= ORIGINAL_VERSION:
        raise ForeignDatabase(
            where,
            f"buildlog database at schema version {version}",
            f"one at version 1 to {ORIGINAL_VERSION}",
            hint="a newer buildlog wrote it; it was left untouched "
            "(use another database with --db or BUILDLOG_DB)",
        )
    for table, required in _original_columns().items():
        if table not in tables:
            continue
        present = {row[1] for row in query(f'PRAGMA table_info("{table}")')}
        missing = sorted(required - present)
        if missing:
            raise ForeignDatabase(
                where,
                f"database with an unknown layout (table {table} has no column {missing[0]})",
                "a buildlog database",
                hint="it was left untouched",
            )
    return version


# SQLite file header (https://www.sqlite.org/fileformat.html#the_database_header).
_HEADER_SIZE = 100
_WAL_MARKER = 2  # file format read/write versions of a WAL database


def _damaged(path: Path, problem: str) -> ForeignDatabase:
    return ForeignDatabase(
        str(path),
        f"damaged SQLite database ({problem})",
        "a usable buildlog database",
        hint="it was left untouched; restore it from a backup or move it away",
    )


def _check_size(path: Path) -> None:
    """Refuse a database file shorter than its header says (a truncated copy).

    Without a ``-wal`` file every page the header counts must be in the file (with one,
    pages may still be in the log, so nothing is concluded).
    """
    with path.open("rb") as handle:
        header = handle.read(_HEADER_SIZE)
    if len(header) < _HEADER_SIZE:
        raise _damaged(path, f"{len(header)} bytes, shorter than the 100-byte header")
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    change_counter = int.from_bytes(header[24:28], "big")
    valid_for = int.from_bytes(header[92:96], "big")
    if pages == 0 or change_counter != valid_for:
        return  # the header's page count is not trustworthy (an old writer); SQLite decides
    expected = pages * page_size
    actual = path.stat().st_size
    wal = Path(f"{path}-wal")
    if actual < expected and not (wal.exists() and wal.stat().st_size > 0):
        raise _damaged(path, f"truncated: {actual} of {expected} bytes")


def _preflight(location: DatabaseLocation) -> int | None:
    """Refuse a foreign, damaged or newer SQLite file before our engine changes anything in it.

    Everything here reads through a read-only connection: switching the journal mode, the
    first thing an engine does, is already a write.

    Returns:
        The original tool's schema version when the file is its (not yet adopted) database.

    Raises:
        ForeignDatabase: not a buildlog database, or a damaged one.
        SchemaTooNew: our version table holds a revision this code does not know.
    """
    from storage_core.database import FileKind, detect_file_kind

    path = location.path
    if path is None or detect_file_kind(path) is not FileKind.SQLITE:
        return None  # missing/empty files are created; the engine refuses non-SQLite files
    _check_size(path)
    # A read-only connection still creates -wal and -shm files beside a WAL database (and
    # leaves them). Without a log or journal no other connection is writing, and the file
    # alone is the database: read it as immutable, which creates nothing.
    busy = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    mode = "mode=ro" if busy else "immutable=1"
    try:
        return _inspect_with(path, f"{path.as_uri()}?{mode}")
    except sqlite3.OperationalError as err:
        if not (busy and getattr(err, "sqlite_errorname", "").startswith("SQLITE_READONLY")):
            raise _damaged(path, str(err)) from err
    # A process killed mid-write can leave a log that needs recovery, which a read-only
    # connection cannot do: a hot rollback journal to roll back (the original tool's files
    # use one) or a WAL index to rebuild. Recover with a plain connection. Recovery keeps
    # committed transactions only; it changes neither the schema nor the journal mode.
    try:
        return _inspect_with(path, path.as_uri())
    except sqlite3.OperationalError as err:
        raise _damaged(path, str(err)) from err


def _inspect_with(path: Path, uri: str) -> int | None:
    try:
        conn = sqlite3.connect(uri, uri=True)
    except sqlite3.Error as err:
        raise StorageIOError(str(path), "open", str(err)) from err
    try:

        def query(sql: str) -> list[Any]:
            return conn.execute(sql).fetchall()

        try:
            return _inspect_file(path, query)
        except sqlite3.OperationalError:
            raise  # the caller decides whether a read-only failure is worth a retry
        except sqlite3.DatabaseError as err:
            raise _damaged(path, str(err)) from err
    finally:
        conn.close()


def _inspect_file(path: Path, query: Query) -> int | None:
    tables = {row[0] for row in query("SELECT name FROM sqlite_master WHERE type='table'")}
    if not tables:
        return None
    if VERSION_TABLE in tables:
        from storage_core.schema import head_revision, is_known_revision

        env = schema_environment()
        for (revision,) in query(f"SELECT version_num FROM {VERSION_TABLE}"):
            if not is_known_revision(env, str(revision)):
                raise SchemaTooNew(str(path), str(revision), head_revision(env))
        return None
    version = inspect_original(query, str(path))
    if version is None:
        listed = ", ".join(sorted(tables)[:5])
        raise ForeignDatabase(
            str(path),
            f"database with other tables ({listed}) and no {VERSION_TABLE} table",
            "a buildlog database",
            hint="it was left untouched (use another database with --db or BUILDLOG_DB)",
        )
    return version


def _translate_errors(engine: Engine, where: str) -> None:
    """Turn the driver's errors about the file itself into errors naming the file.

    "database disk image is malformed" or "unable to open database file" met half-way
    through a command would otherwise surface as an internal error.
    """
    import sqlalchemy as sa

    @sa.event.listens_for(engine, "handle_error")
    def _on_error(context: Any) -> None:
        original = context.original_exception
        if not isinstance(original, sqlite3.Error) or isinstance(original, sqlite3.IntegrityError):
            return
        message = str(original)
        from storage_core.errors import disk_full_error

        full = disk_full_error(original, where)
        if full is not None:
            raise full from original
        if "malformed" in message or "not a database" in message:
            raise _damaged(Path(where), message) from original
        if "attempt to write a readonly database" in message:
            from storage_core.errors import ReadOnlyDatabase

            raise ReadOnlyDatabase(where) from original
        if "unable to open" in message or "readonly" in message or "disk I/O" in message:
            raise StorageIOError(where, "use the database", message) from original


def _adopt(conn: Connection) -> str | None:
    """ensure_schema's hook: the revision to stamp on an original buildlog database."""
    if conn.dialect.name != "sqlite":
        return None  # the original writes SQLite files only
    where = str(conn.engine.url.database)

    def query(sql: str) -> Sequence[Sequence[Any]]:
        return conn.exec_driver_sql(sql).fetchall()

    return ADOPTED_REVISION if inspect_original(query, where) is not None else None


def open_engine(
    location: DatabaseLocation, *, auto_upgrade: bool = True
) -> tuple[Engine, SchemaStatus]:
    """Open (creating or upgrading on first use) the database at ``location``.

    Args:
        location: which database.
        auto_upgrade: upgrade an older schema (after a backup); when false an older schema
            raises :class:`~storage_core.errors.SchemaOutOfDate`.

    Returns:
        The engine and what the schema check did (``created``, ``upgraded``, ``adopted`` with
        the backup path, or ``none``).

    Raises:
        ForeignDatabase: the file is not a buildlog database (see the module docstring).
        SchemaTooNew: the database was upgraded by a newer buildlog.
    """
    from storage_core.database import create_engine_for
    from storage_core.schema import ensure_schema

    kwargs: dict[str, Any] = {}
    path = location.path
    if path is not None:
        _preflight(location)
        kwargs = {"create_dirs": True, "file_mode": FILE_MODE}
    try:
        if path is not None:
            ensure_private_dir(path.parent)
        engine = create_engine_for(location.url, **kwargs)
    except PermissionError as err:
        raise PermissionDenied(str(err.filename or path), "permission denied") from err
    except OSError as err:
        where = err.filename or path or location.display()
        raise StorageIOError(str(where), "create", err.strerror or str(err)) from err
    except ImportError as err:
        raise BackendUnavailable(
            location.display(), f"no database driver ({err})", hint="install the driver package"
        ) from err
    _translate_errors(engine, location.display())
    try:
        status = ensure_schema(
            engine, schema_environment(), auto_upgrade=auto_upgrade, adopt=_adopt
        )
    except BaseException:
        engine.dispose()
        raise
    return engine, status


def check_engine(location: DatabaseLocation) -> tuple[Engine, SchemaStatus]:
    """Open the database without changing it and report its schema state (``db check``).

    Raises:
        SchemaOutOfDate: behind head or empty.
        SchemaTooNew: a revision this code does not know.
        ForeignDatabase: not a buildlog database.
    """
    from storage_core.database import create_engine_for
    from storage_core.errors import SchemaOutOfDate
    from storage_core.schema import check, head_revision

    if _preflight(location) is not None:
        # The original tool's database: adopted on first use or by 'db upgrade'.
        raise SchemaOutOfDate(location.display(), None, head_revision(schema_environment()))
    engine = create_engine_for(location.url)
    try:
        return engine, check(engine, schema_environment())
    except BaseException:
        engine.dispose()
        raise
