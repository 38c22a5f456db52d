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

from storage_core.database.backup import backup_database
from storage_core.database.engines import (
    create_duckdb_engine,
    create_engine_for,
    damaged_database_error,
    open_duckdb,
    raw_duckdb_connection,
    read_only_database_error,
)
from storage_core.database.files import FileKind, describe_file_kind, detect_file_kind
from storage_core.database.sqlite import create_sqlite_engine
from storage_core.database.targets import database_path, duckdb_url, sqlite_url

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
