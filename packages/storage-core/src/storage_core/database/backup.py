"""Consistent copies of SQLite and DuckDB database files (taken before schema upgrades)."""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from sqlalchemy.engine import Engine

from storage_core.database.engines import open_duckdb
from storage_core.database.files import FileKind, describe_file_kind, detect_file_kind
from storage_core.database.targets import database_path, display_url
from storage_core.errors import ForeignDatabase, NotFound, PermissionDenied, StorageError

__all__ = ["backup_database"]


def backup_database(
    engine_or_path: Engine | str | os.PathLike[str],
    dest: str | os.PathLike[str],
    *,
    lock_timeout: float = 30.0,
    busy_timeout: float = 30.0,
) -> Path:
    """Write a consistent copy of a SQLite or DuckDB database file to ``dest``.

    SQLite goes through the sqlite3 backup API, which is consistent while other connections
    (and processes) keep working. DuckDB is copied byte for byte while this process holds the
    file (so no other process can write), after a ``CHECKPOINT`` has moved the write-ahead log
    into the file. Either way the copy is written to a temporary file, synced and renamed, so
    ``dest`` is complete or absent.

    Args:
        engine_or_path: an engine of either kind, or the database file.
        dest: where the copy goes (its directory must exist; an existing file is replaced).
        lock_timeout: DuckDB lock wait in seconds.
        busy_timeout: SQLite busy timeout in seconds.

    Returns:
        ``dest`` as a Path.

    Raises:
        ForeignDatabase: the file is neither a SQLite nor a DuckDB database.
        NotFound: the database file does not exist.
        StorageError: the engine is not file-backed (in-memory or a server).
    """
    if isinstance(engine_or_path, Engine):
        source = database_path(engine_or_path.url)
        if source is None:
            shown = display_url(engine_or_path.url)
            raise StorageError(f"cannot back up {shown}: only SQLite and DuckDB files can be")
    else:
        source = Path(engine_or_path).expanduser().absolute()
    target = Path(dest).expanduser().absolute()
    kind = detect_file_kind(source)
    if kind is FileKind.MISSING:
        raise NotFound("database", str(source))
    temp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    # The copy holds what the database holds: it gets the database's permissions from the
    # start (a private 0600 database must not gain a 0644 backup through the umask).
    # It is written as 0600 and takes its final mode before the rename: a read-only 0444
    # database gives a 0444 backup, which we could not write into if created so.
    try:
        temp.unlink(missing_ok=True)
        flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
        os.close(os.open(temp, flags, 0o600))
    except PermissionError:
        raise PermissionDenied(
            str(target.parent), "cannot write the backup into this folder (permission denied)"
        ) from None
    try:
        if kind in (FileKind.SQLITE, FileKind.EMPTY):
            _backup_sqlite(source, temp, busy_timeout)
        elif kind is FileKind.DUCKDB:
            _backup_duckdb(engine_or_path, source, temp, lock_timeout)
        else:
            raise ForeignDatabase(
                str(source), describe_file_kind(kind), "a SQLite or DuckDB database"
            )
        _fsync_file(temp)
        os.chmod(temp, _mode_of(source))
        os.replace(temp, target)
        _fsync_dir(target.parent)
    finally:
        temp.unlink(missing_ok=True)
    return target


def _mode_of(source: Path) -> int:
    # The database's own read bits, never group or world write, always the owner's read.
    return (stat.S_IMODE(source.stat().st_mode) & 0o644) | 0o400


def _backup_sqlite(source: Path, temp: Path, busy_timeout: float) -> None:
    src = sqlite3.connect(str(source), timeout=busy_timeout)
    try:
        dst = sqlite3.connect(str(temp))
        try:
            src.backup(dst)
            # A rollback-journal copy is one self-contained file; engines switch it back to WAL.
            dst.execute("PRAGMA journal_mode = DELETE")
        finally:
            dst.close()
    finally:
        src.close()


def _backup_duckdb(
    engine_or_path: Engine | str | os.PathLike[str], source: Path, temp: Path, lock_timeout: float
) -> None:
    if isinstance(engine_or_path, Engine):
        # A pool-level connection: no SQLAlchemy transaction, so CHECKPOINT runs in autocommit.
        raw = engine_or_path.raw_connection()
        try:
            raw.cursor().execute("CHECKPOINT")
            _require_checkpointed(source)
            _copy_bytes(source, temp)
        finally:
            raw.close()
    else:
        with open_duckdb(source, lock_timeout=lock_timeout) as conn:
            conn.execute("CHECKPOINT")
            _require_checkpointed(source)
            _copy_bytes(source, temp)


def _require_checkpointed(source: Path) -> None:
    # CHECKPOINT leaves committed changes in the log while another connection of this process
    # has a write transaction open; a copy of the main file alone would then miss them.
    wal = Path(f"{source}.wal")
    if wal.exists() and wal.stat().st_size > 0:
        raise StorageError(
            f"cannot back up {source}: a write transaction of this process is still open"
        )


def _copy_bytes(source: Path, temp: Path) -> None:
    with open(source, "rb") as src, open(temp, "wb") as dst:
        while chunk := src.read(1 << 20):
            dst.write(chunk)


def _fsync_file(path: Path) -> None:
    with open(path, "rb+") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
