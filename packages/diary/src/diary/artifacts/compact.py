"""Compaction: give a DuckDB file back the space that deleted rows and NULLed BLOBs hold.

DuckDB never shrinks a file: moving artifacts out of inline (``data = NULL``) or deleting rows
leaves it as large as before, and ``VACUUM`` does not help. The space comes back by copying
the database into a new file and swapping the files, which is what :func:`compact_database`
does:

1. take the ``<db>.lock`` of storage_core (every process of ours holds it around each use of
   the file), so no process of ours opens the file until the swap is done;
2. open the file, ``ATTACH`` a new file in the same folder, ``COPY FROM DATABASE`` into it,
   check that every table has the same number of rows, ``CHECKPOINT`` and detach;
3. close the old file, fsync the new one, ``os.replace`` it over the old name and fsync the
   folder.

Until step 3 the old file is untouched; ``os.replace`` is atomic, so a crash at any point
leaves either the old file or the complete new one (plus, at worst, a leftover temporary
file, removed by the next compaction).
"""

from __future__ import annotations

import os
import stat
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from diary.errors import DatabaseLocked, NotFound, StorageError

__all__ = ["CompactReport", "compact_database"]

_TEMP_SUFFIX = ".compact-tmp"


@dataclass(frozen=True)
class CompactReport:
    """What a compaction did.

    Attributes:
        path: the database file.
        size_before: its size in bytes before.
        size_after: its size in bytes after.
        tables: rows per table (the same before and after).
        elapsed: seconds taken.
    """

    path: str
    size_before: int
    size_after: int
    tables: dict[str, int]
    elapsed: float

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report."""
        return {
            "path": self.path,
            "size_before": self.size_before,
            "size_after": self.size_after,
            "tables": dict(self.tables),
            "elapsed": round(self.elapsed, 3),
        }

    def summary(self) -> str:
        """One line for people."""
        return (
            f"compacted {self.path}: {_mib(self.size_before)} -> {_mib(self.size_after)} "
            f"in {self.elapsed:.1f} s"
        )


def _mib(size: int) -> str:
    return f"{size / (1024 * 1024):.1f} MiB"


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def compact_database(path: str | os.PathLike[str], *, lock_timeout: float = 30.0) -> CompactReport:
    """Rewrite a DuckDB database into a new file and swap it in, with exclusive access.

    Args:
        path: the DuckDB file.
        lock_timeout: seconds to wait for other processes of ours to let go of the file.

    Returns:
        Sizes before and after, and the row count of every table.

    Raises:
        NotFound: no such file.
        ForeignDatabase: the file is not a DuckDB database.
        DatabaseLocked: another process held the file longer than ``lock_timeout``.
        StorageError: this process still has the file open, or a check failed (the old file
            is then left as it was).
    """
    from storage_core.database import FileKind, detect_file_kind, open_duckdb
    from storage_core.database.files import foreign_database_error, is_read_only_file
    from storage_core.database.locks import (
        LockTimeout,
        acquire_database_lock,
        database_lock,
        lock_holder_pid,
        release_database_lock,
    )
    from storage_core.errors import ReadOnlyDatabase

    file = Path(path).expanduser().absolute()
    started = time.monotonic()
    # An engine of this process may keep the file open between units of work: let it go
    # first (reading the header while DuckDB holds the file would drop DuckDB's own lock).
    from storage_core.database.keeper import release_kept_connection

    release_kept_connection(file)
    kind = detect_file_kind(file)
    if kind is FileKind.MISSING:
        raise NotFound("database", str(file))
    if kind is not FileKind.DUCKDB:
        raise foreign_database_error(file, kind, FileKind.DUCKDB)
    if is_read_only_file(file.resolve()):
        raise ReadOnlyDatabase(str(file))
    try:
        acquire_database_lock(file, lock_timeout)
    except LockTimeout as err:
        raise DatabaseLocked(str(file), lock_holder_pid(file), time.monotonic() - started) from err
    try:
        if database_lock(file).lock_counter > 1:
            # A connection of this very process is open: swapping the file under it would
            # leave it writing to a file nobody reads any more.
            raise StorageError(f"cannot compact {file}: this process has it open; close it first")
        # A database reached through a symlink is rewritten where it lives; the link stays.
        target = file.resolve()
        temp = target.with_name(f".{target.name}{_TEMP_SUFFIX}")
        for leftover in (temp, Path(f"{temp}.wal")):
            leftover.unlink(missing_ok=True)
        size_before = file.stat().st_size
        try:
            # open_duckdb takes a second (counted) hold on our lock and waits out DuckDB
            # locks of foreign processes; the file is closed before the swap.
            with open_duckdb(file, lock_timeout=lock_timeout) as conn:
                tables = _copy(conn, temp)
            wal = Path(f"{file}.wal")
            if wal.exists() and wal.stat().st_size:
                raise StorageError(
                    f"cannot compact {file}: its write-ahead log was not checkpointed"
                )
            if Path(f"{temp}.wal").exists():
                raise StorageError(f"cannot compact {file}: the copy was not checkpointed")
            # The rewritten file keeps the database's permissions, not the umask's.
            os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
            _fsync(temp)
            os.replace(temp, target)
            _fsync(target.parent)
        finally:
            temp.unlink(missing_ok=True)
    finally:
        release_database_lock(file)
    return CompactReport(
        str(file), size_before, file.stat().st_size, tables, time.monotonic() - started
    )


def _copy(conn: Any, temp: Path) -> dict[str, int]:
    """Copy the open database into ``temp``; return the row counts, checked equal."""
    name = conn.execute("SELECT current_database()").fetchone()[0]
    tables = [
        row[0]
        for row in conn.execute(
            "SELECT table_name FROM duckdb_tables() "
            "WHERE database_name = current_database() AND schema_name = 'main' "
            "ORDER BY table_name"
        ).fetchall()
    ]
    before = {table: _count(conn, f"{_quote(name)}.main.{_quote(table)}") for table in tables}
    conn.execute(f"ATTACH {_literal(str(temp))} AS compacted")
    try:
        conn.execute(f"COPY FROM DATABASE {_quote(name)} TO compacted")
        after = {table: _count(conn, f"compacted.main.{_quote(table)}") for table in tables}
        if after != before:
            raise StorageError(
                f"compaction check failed: rows per table {before} became {after}; "
                "the database was left as it was"
            )
        conn.execute("CHECKPOINT compacted")
    finally:
        conn.execute("DETACH compacted")
    conn.execute("CHECKPOINT")
    return before


def _count(conn: Any, table: str) -> int:
    return int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    flags = os.O_RDONLY | (getattr(os, "O_DIRECTORY", 0) if path.is_dir() else 0)
    fd = os.open(path, flags)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
