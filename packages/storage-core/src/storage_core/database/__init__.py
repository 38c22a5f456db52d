"""Databases: SQLite and DuckDB engines, file detection and consistent backups.

* :mod:`~storage_core.database.files` tells what a file is before any engine opens it;
  :mod:`~storage_core.database.targets` turns paths into URLs and back.
* :mod:`~storage_core.database.sqlite`: SQLite engines in WAL mode with ``BEGIN IMMEDIATE``
  writes.
* :mod:`~storage_core.database.engines`: DuckDB engines with a connection per unit of work that
  waits for another process's lock, and :func:`create_engine_for` for any URL;
  :mod:`~storage_core.database.keeper` keeps a DuckDB file open between units of work.
* :mod:`~storage_core.database.locks`: the ``<db>.lock`` file that serialises our processes'
  use of a DuckDB file and schema upgrades (DuckDB's own lock is not enough; see there).
* :mod:`~storage_core.database.backup` makes consistent copies of both.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage_core.lazy import lazy_exports

if TYPE_CHECKING:
    from storage_core.database.backup import backup_database
    from storage_core.database.duckdb_open import (
        damaged_database_error,
        open_duckdb,
        read_only_database_error,
    )
    from storage_core.database.engines import (
        create_duckdb_engine,
        create_engine_for,
        raw_duckdb_connection,
    )
    from storage_core.database.files import FileKind, describe_file_kind, detect_file_kind
    from storage_core.database.sqlite import create_sqlite_engine
    from storage_core.database.targets import database_path, duckdb_url, sqlite_url

# Each name's module, imported on first use: the raw DuckDB path (duckdb_open, files) must not
# pay for SQLAlchemy, which the engines import.
_HOMES = {
    "backup_database": "backup",
    "create_duckdb_engine": "engines",
    "create_engine_for": "engines",
    "create_sqlite_engine": "sqlite",
    "damaged_database_error": "duckdb_open",
    "database_path": "targets",
    "describe_file_kind": "files",
    "detect_file_kind": "files",
    "duckdb_url": "targets",
    "FileKind": "files",
    "open_duckdb": "duckdb_open",
    "raw_duckdb_connection": "engines",
    "read_only_database_error": "duckdb_open",
    "sqlite_url": "targets",
}


__getattr__ = lazy_exports(__name__, _HOMES)

__all__ = [
    "FileKind",
    "backup_database",
    "create_duckdb_engine",
    "create_engine_for",
    "create_sqlite_engine",
    "damaged_database_error",
    "database_path",
    "describe_file_kind",
    "detect_file_kind",
    "duckdb_url",
    "open_duckdb",
    "raw_duckdb_connection",
    "read_only_database_error",
    "sqlite_url",
]
