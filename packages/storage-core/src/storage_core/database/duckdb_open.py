"""Raw DuckDB connections to a file, taken in turn with our other processes, without SQLAlchemy.

The engines of :mod:`storage_core.database.engines` open their connections through
:func:`open_locked` too; :func:`open_duckdb` is the same for fast paths that talk to DuckDB
directly (Appender, Arrow, and read-only commands that must start faster than SQLAlchemy
imports). Importing this module imports DuckDB's client
(:mod:`storage_core.database.duckdb_client`), never SQLAlchemy.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from storage_core.database.duckdb_client import client
from storage_core.database.duckdb_format import newer_format_error
from storage_core.database.files import (
    FileKind,
    check_kind,
    detect_file_kind,
    foreign_database_error,
    restrict_new_file,
)
from storage_core.database.keeper import file_guard, release_kept_connection
from storage_core.database.locks import (
    LockTimeout,
    acquire_database_lock,
    database_lock,
    lock_holder_pid,
    release_database_lock,
)
from storage_core.errors import (
    DatabaseDamaged,
    DatabaseLocked,
    ForeignDatabase,
    NotFound,
    ReadOnlyDatabase,
    StorageError,
)

if TYPE_CHECKING:
    import duckdb

__all__ = [
    "damaged_database_error",
    "open_duckdb",
    "open_locked",
    "read_only_database_error",
]

_T = TypeVar("_T")
# DuckDB's lock error: 'Could not set lock on file "...": Conflicting lock is held in ... (PID n)'.
_LOCK_MESSAGE = "Could not set lock on file"
_LOCK_PID = re.compile(r"\(PID (\d+)\)")
_NOT_A_DUCKDB_FILE = "not a valid DuckDB database file"

# Back-off while waiting for another process's DuckDB lock: short first sleeps because most
# holders are units of work of a few milliseconds; a cap so a waiter notices release quickly.
_BACKOFF_START = 0.005
_BACKOFF_CAP = 0.25
# DuckDB creates a new file before it writes the header; a process that opens the file in that
# gap sees a zero-byte file. Such a file is retried this long before it is called foreign.
_EMPTY_FILE_GRACE = 1.0


def _wait_for_lock(
    path: Path, lock_timeout: float, attempt: Callable[[], _T], *, verify_kind: bool = True
) -> _T:
    """Run ``attempt`` (a DuckDB open) until it stops failing on another process's lock.

    Our own processes are already serialised by the database lock; this loop waits for
    processes that do not take it (another program using DuckDB on the same file).

    Raises:
        DatabaseLocked: still locked after ``lock_timeout`` seconds.
        ForeignDatabase: the file is not a DuckDB database.
    """
    started = time.monotonic()
    delay = _BACKOFF_START
    while True:
        kind = check_kind(path, FileKind.DUCKDB) if verify_kind else FileKind.DUCKDB
        try:
            return attempt()
        except client.Error as err:
            waited = time.monotonic() - started
            message = str(err)
            if _LOCK_MESSAGE in message:
                if waited >= lock_timeout:
                    match = _LOCK_PID.search(message)
                    pid = int(match.group(1)) if match else None
                    raise DatabaseLocked(str(path), pid, waited) from err
            elif _NOT_A_DUCKDB_FILE in message:
                if kind is not FileKind.EMPTY or waited >= min(lock_timeout, _EMPTY_FILE_GRACE):
                    now = detect_file_kind(path)
                    shown = FileKind.OTHER if now is FileKind.DUCKDB else now
                    error = foreign_database_error(path, shown, FileKind.DUCKDB)
                    if now is FileKind.EMPTY:
                        error = ForeignDatabase(
                            str(path),
                            "zero-byte file",
                            "a DuckDB database",
                            hint="delete the empty file to start a new database",
                        )
                    raise error from err
            else:
                raise _translate_duckdb_error(path, err) from err
        # Full jitter keeps waiting processes from retrying in lock-step.
        remaining = lock_timeout - (time.monotonic() - started)
        time.sleep(max(0.0, min(random.uniform(delay / 2, delay), remaining)))
        delay = min(delay * 2, _BACKOFF_CAP)


# What DuckDB says about a file it cannot read back: truncated, or damaged blocks.
_DAMAGE_MESSAGES = ("Could not read enough bytes", "Corrupt database file", "checksum")


# What DuckDB and SQLite say about a write to a file opened (or only openable) read-only.
_READ_ONLY_MESSAGES = ("attached in read-only mode", "attempt to write a readonly database")


def read_only_database_error(
    path: str | os.PathLike[str], err: BaseException
) -> ReadOnlyDatabase | None:
    """The :class:`~storage_core.errors.ReadOnlyDatabase` error for a write that the engine
    refused because the database is read-only, else None."""
    original = getattr(err, "orig", None) or err
    if not any(marker in str(original) for marker in _READ_ONLY_MESSAGES):
        return None
    return ReadOnlyDatabase(str(path))


def damaged_database_error(path: str | os.PathLike[str], err: BaseException) -> StorageError | None:
    """The :class:`~storage_core.errors.DatabaseDamaged` error for a DuckDB error that says
    the file is truncated or damaged (raised on open or by any later query), else None.

    Args:
        path: the database file.
        err: the DuckDB error, or SQLAlchemy's wrapper of it.
    """
    read_only = read_only_database_error(path, err)
    if read_only is not None:
        return read_only
    original = getattr(err, "orig", None) or err
    if not isinstance(original, client.Error):
        return None
    first_line = str(original).splitlines()[0] if str(original) else type(original).__name__
    if not any(marker in first_line for marker in _DAMAGE_MESSAGES):
        return None
    # DuckDB repeats the path in its message; the error names it once.
    detail = first_line.replace(f' from file "{path}"', "")
    return DatabaseDamaged(str(path), detail)


def _translate_duckdb_error(path: Path, err: duckdb.Error) -> StorageError:
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, client.IOException) and not path.exists():
        return NotFound("database", str(path))
    # Before "damaged": a newer DuckDB's file fails with a version or checksum error here.
    too_new = newer_format_error(path)
    if too_new is not None:
        return too_new
    damaged = damaged_database_error(path, err)
    if damaged is not None:
        return damaged
    return StorageError(f"cannot open DuckDB database {path}: {first_line}")


@contextlib.contextmanager
def open_duckdb(
    path: str | os.PathLike[str], *, lock_timeout: float = 30.0, read_only: bool = False
) -> Iterator[duckdb.DuckDBPyConnection]:
    """A raw DuckDB connection for one unit of work, waiting for other processes like engines do.

    Meant for fast paths (Appender, Arrow) outside SQLAlchemy. The connection is closed, and
    the file released to other processes, when the ``with`` block ends: keep it short.

    Raises:
        DatabaseLocked: another process held the file for longer than ``lock_timeout``.
        ForeignDatabase: the path holds a SQLite database or a file that is not a database.
    """
    file = Path(path).expanduser().absolute()
    # A raw connection has another configuration than the engines' connections, which DuckDB
    # refuses on a file this process has open: an engine's kept connection goes first.
    release_kept_connection(file)
    guard = file_guard(file)

    def connect() -> duckdb.DuckDBPyConnection:
        with guard:
            return client.connect(str(file), read_only)

    conn = open_locked(file, lock_timeout, connect, read_only=read_only)
    try:
        yield conn
    finally:
        try:
            with guard:
                conn.close()
        finally:
            release_database_lock(file)


def open_locked(
    path: Path, lock_timeout: float, attempt: Callable[[], _T], *, read_only: bool = False
) -> _T:
    """Take the database lock (see :mod:`storage_core.database.locks`), then open the file.

    On success the caller owns one hold on the lock and must release it after closing. A
    read-only open in a folder where no lock file can be made goes without the lock: nobody
    who cannot write there can write the database either.
    """
    started = time.monotonic()
    if read_only and not _lock_possible(path):
        return _wait_for_lock(path, lock_timeout, attempt)
    # Reading the header opens and closes the file, which would drop DuckDB's own fcntl lock
    # if another thread of this process has the file open: check only on the first hold.
    first_hold = not database_lock(path).is_locked
    if first_hold:
        check_kind(path, FileKind.DUCKDB)  # a foreign file gets no lock file beside it
    try:
        acquire_database_lock(path, lock_timeout)
    except LockTimeout as err:
        waited = time.monotonic() - started
        raise DatabaseLocked(str(path), lock_holder_pid(path), waited) from err
    try:
        remaining = max(lock_timeout - (time.monotonic() - started), 0.0)
        creates = first_hold and not os.path.lexists(path)
        opened = _wait_for_lock(path, remaining, attempt, verify_kind=first_hold)
    except BaseException:
        release_database_lock(path)
        raise
    if creates:
        # DuckDB creates the file with the umask's mode (0666 under umask 000).
        restrict_new_file(path)
    return opened


def _lock_possible(path: Path) -> bool:
    from storage_core.database.locks import lock_path

    lock = lock_path(path)
    return os.access(lock, os.W_OK) if lock.exists() else os.access(lock.parent, os.W_OK)
