"""diary's schema management: its alembic environment and recognising files that are not ours.

On first use :func:`prepare_database` refuses foreign files with a message that says what they
are (a SQLite file, a DearDiary.jl database, some other DuckDB database) before anything is
written, then creates or upgrades the schema through :func:`storage_core.schema.ensure_schema`
(file lock, backup before an upgrade, refusal of a newer schema).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage_core.errors import ConfigError, ForeignDatabase

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

    from diary.config import Settings
    from storage_core.schema import SchemaEnvironment, SchemaStatus

__all__ = [
    "HEAD_REVISION",
    "SCRIPT_LOCATION",
    "SNAPSHOTS",
    "VERSION_TABLE",
    "create_engine",
    "ensure_ready",
    "prepare_database",
    "schema_environment",
]

VERSION_TABLE = "diary_alembic_version"
# The newest revision in migrations/versions; a test keeps the two equal. Knowing it without
# alembic lets a store open an up-to-date database without importing alembic (0.3 s).
HEAD_REVISION = "0005_metric_summary"
SCRIPT_LOCATION = "diary:migrations"
# The schema at HEAD_REVISION dumped per engine: a new database is created from it in one
# transaction without importing alembic (storage_core.schema.snapshot; a test keeps it current).
SNAPSHOTS = "diary:migrations/snapshots"
_EXPECTED = "a diary database"
_DEARDIARY_JL_SQLITE = "SQLite database (DearDiary.jl before v0.9 used SQLite)"


def schema_environment() -> SchemaEnvironment:
    """diary's alembic environment (its head and snapshots are known without alembic)."""
    from storage_core.schema import SchemaEnvironment

    return SchemaEnvironment(
        "diary", SCRIPT_LOCATION, VERSION_TABLE, head=HEAD_REVISION, snapshots=SNAPSHOTS
    )


def _refuse_foreign_file(settings: Settings) -> None:
    """Refuse a SQLite or non-database file given as the DuckDB file, before DuckDB opens it."""
    from storage_core.database import FileKind, describe_file_kind, detect_file_kind

    path = settings.db_file
    if path.is_dir():
        raise ForeignDatabase(str(path), "directory", "a diary DuckDB database file")
    kind = detect_file_kind(path)
    if kind is FileKind.SQLITE:
        raise ForeignDatabase(
            str(path),
            _DEARDIARY_JL_SQLITE,
            "a diary DuckDB database",
            hint="nothing was written to it; use a new file, or DEARDIARY_DB_URL=sqlite:///... "
            "for a diary database kept in SQLite",
        )
    if kind is FileKind.OTHER:
        raise ForeignDatabase(
            str(path), describe_file_kind(kind), _EXPECTED, hint="nothing was written to it"
        )


def _survey(conn: Connection) -> tuple[str | None, int | None]:
    """The diary revision stored in the database, and the ``schema_migrations`` version when
    the database is a DearDiary.jl one (no diary version table, DearDiary.jl's bookkeeping)."""
    import sqlalchemy as sa

    names = set(sa.inspect(conn).get_table_names())
    if VERSION_TABLE in names:
        table = sa.table(VERSION_TABLE, sa.column("version_num"))
        revisions = conn.execute(sa.select(table.c.version_num)).scalars().all()
        return (revisions[0] if len(revisions) == 1 else None), None
    if "schema_migrations" in names:
        version = conn.execute(sa.text("SELECT max(version) FROM schema_migrations")).scalar()
        return None, int(version) if version is not None else 0
    return None, None


def ensure_ready(engine: Engine, settings: Settings) -> None:
    """What a store does on open: nothing more than one query when the schema is current,
    else :func:`prepare_database`.

    Raises:
        DatabaseUnreachable: a database server cannot be connected to.
        the errors of :func:`prepare_database`.
    """
    if engine.url.get_backend_name() not in ("duckdb", "sqlite"):
        from storage_core.schema.first_use import require_reachable

        require_reachable(engine)
    try:
        with engine.connect() as conn:
            revision, _ = _survey(conn)
    except Exception as err:
        # DuckDB reads blocks lazily: damage found later is translated by every unit of work.
        from storage_core.database import damaged_database_error

        damaged = damaged_database_error(settings.describe(), err)
        if damaged is None:
            raise
        raise damaged from err
    if revision != HEAD_REVISION:
        prepare_database(engine, settings)


def create_engine(settings: Settings) -> Engine:
    """The engine for the configured database (DuckDB file, or any SQLAlchemy URL).

    Raises:
        ForeignDatabase: the DuckDB path holds a SQLite database or a file that is not a
            database; nothing is written to it.
    """
    from storage_core.database import create_duckdb_engine, create_engine_for

    if settings.db_url:
        try:
            return create_engine_for(settings.db_url, lock_timeout=settings.lock_timeout)
        except ImportError as err:  # the dialect's driver (psycopg, ...) is not installed
            raise ConfigError(
                "database URL", settings.describe(), f"its driver is not installed ({err})"
            ) from err
        except Exception as err:  # SQLAlchemy's NoSuchModuleError, ArgumentError: bad URL
            detail = str(err).splitlines()[0] if str(err) else type(err).__name__
            raise ConfigError("database URL", settings.describe(), detail) from err
    _refuse_foreign_file(settings)
    from diary.artifacts.table import DUCKDB_SETTINGS

    return create_duckdb_engine(
        settings.db_file,
        lock_timeout=settings.lock_timeout,
        create_dirs=False,
        settings=DUCKDB_SETTINGS,
    )


def prepare_database(engine: Engine, settings: Settings) -> SchemaStatus:
    """Create or upgrade diary's schema on first use, refusing databases that are not ours.

    Args:
        engine: the engine from :func:`create_engine`.
        settings: the store's settings (``auto_upgrade``, ``lock_timeout``).

    Returns:
        What was done (see :class:`storage_core.schema.SchemaStatus`).

    Raises:
        ForeignDatabase: a DearDiary.jl database or another application's database.
        SchemaTooNew: the database was written by a newer diary.
        SchemaOutOfDate: the schema is behind and ``DEARDIARY_AUTO_UPGRADE`` is off.
    """
    from storage_core.schema import ensure_schema

    with engine.connect() as conn:
        _, version = _survey(conn)
    if version is not None:
        raise ForeignDatabase(
            settings.describe(),
            f"DearDiary.jl database (schema_migrations version {version})",
            _EXPECTED,
            hint="nothing was written to it",
        )
    return ensure_schema(
        engine,
        schema_environment(),
        auto_upgrade=settings.auto_upgrade,
        lock_timeout=max(settings.lock_timeout, 1.0),
    )
