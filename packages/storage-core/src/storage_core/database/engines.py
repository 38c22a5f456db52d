"""DuckDB engines, raw DuckDB connections, and the engine factory for any URL.

Two embedded engines, two concurrency models (see PITFALLS.md); SQLite's is in
:mod:`storage_core.database.sqlite`.

* **DuckDB** (diary) lets one process hold a file at a time and has no busy timeout. Engines use
  ``NullPool`` (a connection per unit of work) and every connect waits for a held lock with
  exponential back-off and jitter, up to a timeout, then raises
  :class:`~storage_core.errors.DatabaseLocked` naming the holder's PID. Opening a DuckDB file
  costs ~15 ms and closing it ~7 ms (the checkpoint), far more than a small unit of work, so
  the engine keeps the file open for ``keep_open`` seconds after a unit of work (a *keeper*
  connection) and lets go at once when another of our processes asks for the file (it touches
  the lock file while it waits, see :mod:`storage_core.database.locks`), when the engine is
  disposed, and at interpreter exit (:mod:`storage_core.database.keeper`).

Both factories look at the file's header before the database library touches it, so a SQLite
file given as a DuckDB path (or the reverse, or a text file) is refused with
:class:`~storage_core.errors.ForeignDatabase` and left byte-for-byte unchanged.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from storage_core.database.duckdb_format import newer_format_error
from storage_core.database.files import (
    FileKind,
    detect_file_kind,
    foreign_database_error,
    is_read_only_file,
    restrict_new_file,
)
from storage_core.database.keeper import (
    DEFAULT_KEEP_OPEN,
    Keeper,
    file_guard,
    kept_by,
    release_kept_connection,
)
from storage_core.database.locks import (
    LockTimeout,
    acquire_database_lock,
    database_lock,
    lock_holder_pid,
    release_database_lock,
)
from storage_core.database.sqlite import create_sqlite_engine
from storage_core.database.targets import (
    check_kind,
    database_path,
    duckdb_url,
    prepare_dir,
    resolve_target,
    sqlite_url,
)
from storage_core.errors import (
    DatabaseDamaged,
    DatabaseLocked,
    ForeignDatabase,
    NotFound,
    ReadOnlyDatabase,
    StorageError,
)

__all__ = [
    "DEFAULT_KEEP_OPEN",
    "create_duckdb_engine",
    "create_engine_for",
    "create_sqlite_engine",
    "damaged_database_error",
    "database_path",
    "duckdb_url",
    "open_duckdb",
    "raw_duckdb_connection",
    "read_only_database_error",
    "release_kept_connection",
    "sqlite_url",
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
        except duckdb.Error as err:
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
    if not isinstance(original, duckdb.Error):
        return None
    first_line = str(original).splitlines()[0] if str(original) else type(original).__name__
    if not any(marker in first_line for marker in _DAMAGE_MESSAGES):
        return None
    # DuckDB repeats the path in its message; the error names it once.
    detail = first_line.replace(f' from file "{path}"', "")
    return DatabaseDamaged(str(path), detail)


def _translate_duckdb_error(path: Path, err: duckdb.Error) -> StorageError:
    first_line = str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, duckdb.IOException) and not path.exists():
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
            return duckdb.connect(str(file), read_only)

    conn = _open_locked(file, lock_timeout, connect)
    try:
        yield conn
    finally:
        try:
            with guard:
                conn.close()
        finally:
            release_database_lock(file)


def _open_locked(
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


def create_duckdb_engine(
    url_or_path: str | os.PathLike[str] | URL,
    *,
    lock_timeout: float = 30.0,
    read_only: bool = False,
    create_dirs: bool = False,
    keep_open: float = DEFAULT_KEEP_OPEN,
    settings: Mapping[str, str] | None = None,
    **kw: Any,
) -> Engine:
    """An engine for a DuckDB file that waits for other processes' locks.

    The engine uses ``NullPool``: every ``engine.connect()``/``engine.begin()`` is a unit of
    work with its own connection, and commits before it ends. The file itself stays open for
    ``keep_open`` seconds after a unit of work, so back-to-back units of work do not pay for
    opening and checkpointing it; another of our processes that needs the file gets it within
    milliseconds (it signals through the lock file). Keep units of work short.

    Args:
        url_or_path: a ``duckdb://`` URL or a file path.
        lock_timeout: seconds to wait for another process to release the file.
        read_only: open read-only (DuckDB still allows only one process per file).
        create_dirs: create missing parent directories.
        keep_open: seconds to keep the file open after a unit of work; 0 closes it at once.
        settings: DuckDB settings (``SET name = 'value'``) of the database instance, applied
            when a connection of this engine opens the file in this process. They last while
            the file stays open, so the connections that find it open (most of them, with
            ``keep_open``) skip the statements.
        **kw: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. Nothing is opened until its first connection.

    Raises:
        ForeignDatabase: the path holds a SQLite database or a file that is not a database
            (checked before DuckDB opens the file, which leaves it untouched).
        DatabaseLocked: on connect, when the lock wait times out.
    """
    url, path = resolve_target(url_or_path, "duckdb")
    if path is not None:
        if not database_lock(path).is_locked:  # see _open_locked: never while we hold the file
            check_kind(path, FileKind.DUCKDB)
        prepare_dir(path, create_dirs=create_dirs)
    connect_args = dict(kw.pop("connect_args", {}))
    if path is not None and is_read_only_file(path):
        # A database the user made read-only stays so: reads work, writes fail with an error
        # that says why (see _translate_duckdb_error), and the file's mode is never changed.
        read_only = True
    if read_only:
        connect_args["read_only"] = True
    kw.setdefault("poolclass", NullPool)
    if kw["poolclass"] is NullPool:
        # The connection is closed when it is returned, and DuckDB rolls back whatever is
        # left open on close: the pool's extra ROLLBACK (~0.2 ms) would buy nothing.
        kw.setdefault("pool_reset_on_return", None)
    engine = sa.create_engine(url, connect_args=connect_args, **kw)
    _cache_compiled_statements(engine)

    if path is not None:
        db_path = path
        # SQLAlchemy has no "after close" event; the database lock must outlive DuckDB's close
        # (its checkpoint), so the engine's own dialect closes, then releases.
        close = engine.dialect.do_close
        keepers: list[Keeper] = []
        guard = file_guard(db_path)

        @sa.event.listens_for(engine, "do_connect")
        def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            # Through the dialect so duckdb-engine still wraps and configures the connection.
            def connect() -> Any:
                with guard:
                    return dialect.connect(*cargs, **cparams)

            other = kept_by(db_path)
            if other is not None and (not keepers or other is not keepers[0]):
                other.release()  # another engine's connection may be configured differently
            # Every connection of this process to the file holds the lock: none held means
            # this connection creates DuckDB's database instance.
            opens_file = not database_lock(db_path).is_locked
            conn = _open_locked(db_path, lock_timeout, connect, read_only=read_only)
            if opens_file and settings:
                try:
                    for name, value in settings.items():
                        conn.execute(f"SET {name} = '{value}'")
                except BaseException:
                    _close_then_release(conn)
                    raise
            if keep_open > 0:
                if not keepers:
                    keepers.append(Keeper(db_path, keep_open, connect, close))
                # Keeping the file open is an optimisation: a failure only costs speed.
                with contextlib.suppress(Exception):
                    keepers[0].keep()
            return conn

        def _close_then_release(dbapi_connection: Any) -> None:
            try:
                with guard:
                    close(dbapi_connection)
            finally:
                release_database_lock(db_path)
            if keepers:
                keepers[0].used()

        engine.dialect.do_close = _close_then_release  # type: ignore[method-assign]

        @sa.event.listens_for(engine, "engine_disposed")
        def _disposed(_engine: Engine) -> None:
            if keepers:
                keepers[0].release()

    return engine


def _cache_compiled_statements(engine: Engine) -> None:
    """Let SQLAlchemy reuse compiled statements on DuckDB, as it does on other databases.

    duckdb-engine declares ``supports_statement_cache = False`` (it never opted in), so every
    statement was compiled again on every execution: about 1 ms each, a third of the cost of
    creating an iteration. Its compiler is PostgreSQL's, which SQLAlchemy caches everywhere
    else, and nothing in duckdb-engine renders per execution. The whole test suite runs with
    the cache on.
    """
    # ``_supports_statement_cache`` is a memoized property that reads the class attribute;
    # the instance attribute takes its place for this engine only.
    engine.dialect._supports_statement_cache = True


def raw_duckdb_connection(connection: Connection) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection inside an SQLAlchemy connection, sharing its transaction.

    An Appender or Arrow insert through it commits or rolls back with the SQLAlchemy
    transaction. Begin that transaction (``conn.begin()``) before using the Appender.
    """
    wrapper: object = connection.connection.dbapi_connection
    # duckdb-engine wraps the connection and keeps it in a private (name-mangled) attribute.
    inner = getattr(wrapper, "_ConnectionWrapper__c", wrapper)
    if not isinstance(inner, duckdb.DuckDBPyConnection):
        raise TypeError(f"not a DuckDB connection: {type(wrapper).__name__}")
    return inner


def create_engine_for(
    url: str | URL, *, lock_timeout: float = 30.0, busy_timeout: float = 30.0, **kw: Any
) -> Engine:
    """An engine for any SQLAlchemy URL: the SQLite and DuckDB factories, else plain SQLAlchemy.

    Args:
        url: the database URL.
        lock_timeout: DuckDB lock wait in seconds.
        busy_timeout: SQLite busy timeout in seconds.
        **kw: passed on to the factory (``create_dirs``, ``file_mode`` for SQLite, ...).
    """
    backend = make_url(url).get_backend_name()
    if backend == "sqlite":
        return create_sqlite_engine(url, busy_timeout=busy_timeout, **kw)
    if backend == "duckdb":
        return create_duckdb_engine(url, lock_timeout=lock_timeout, **kw)
    return sa.create_engine(url, **kw)
