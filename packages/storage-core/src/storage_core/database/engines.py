"""Database engines for SQLite and DuckDB files.

Two embedded engines, two concurrency models (see PITFALLS.md):

* **SQLite** (buildlog) runs in WAL mode with a long busy timeout, and write transactions start
  with ``BEGIN IMMEDIATE`` so a transaction that reads and then writes waits for the write lock
  instead of failing at once with "database is locked".
* **DuckDB** (diary) lets one process hold a file at a time and has no busy timeout. Engines use
  ``NullPool`` (a connection per unit of work) and every connect waits for a held lock with
  exponential back-off and jitter, up to a timeout, then raises
  :class:`~storage_core.errors.DatabaseLocked` naming the holder's PID. Opening a DuckDB file
  costs ~15 ms and closing it ~7 ms (the checkpoint), far more than a small unit of work, so
  the engine keeps the file open for ``keep_open`` seconds after a unit of work (a *keeper*
  connection) and lets go at once when another of our processes asks for the file (it touches
  the lock file while it waits, see :mod:`storage_core.database.locks`), when the engine is
  disposed, and at interpreter exit.

Both factories look at the file's header before the database library touches it, so a SQLite
file given as a DuckDB path (or the reverse, or a text file) is refused with
:class:`~storage_core.errors.ForeignDatabase` and left byte-for-byte unchanged.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import ConnectionPoolEntry, NullPool

from storage_core.database.files import (
    FileKind,
    detect_file_kind,
    foreign_database_error,
)
from storage_core.database.locks import (
    LockTimeout,
    acquire_database_lock,
    database_lock,
    lock_holder_pid,
    lock_stamp,
    lock_wanted,
    release_database_lock,
)
from storage_core.errors import (
    DatabaseDamaged,
    DatabaseLocked,
    ForeignDatabase,
    NotFound,
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
# Seconds a DuckDB engine keeps its file open after a unit of work (see _Keeper).
DEFAULT_KEEP_OPEN = 0.25
# How often the keeper looks for a waiting process while it keeps a file open.
_KEEPER_POLL = 0.003
# DuckDB creates a new file before it writes the header; a process that opens the file in that
# gap sees a zero-byte file. Such a file is retried this long before it is called foreign.
_EMPTY_FILE_GRACE = 1.0


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a SQLite file (made absolute so every process agrees on it)."""
    return URL.create("sqlite", database=str(Path(path).expanduser().absolute())).render_as_string()


def duckdb_url(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a DuckDB file (made absolute so every process agrees on it)."""
    return URL.create("duckdb", database=str(Path(path).expanduser().absolute())).render_as_string()


def database_path(url: str | URL) -> Path | None:
    """The file behind a SQLite or DuckDB URL.

    Args:
        url: an SQLAlchemy URL (string or object).

    Returns:
        The database file, or None for in-memory databases and server URLs (PostgreSQL, ...).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "duckdb"):
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database.startswith("file:"):
        # SQLite URI filenames ("sqlite:///file:x.db?uri=true"), possibly in-memory.
        if parsed.query.get("mode") == "memory":
            return None
        database = database[len("file:") :]
    if database in ("", ":memory:") or database.startswith(":memory:"):
        return None
    return Path(database).expanduser()


def _resolve(url_or_path: str | os.PathLike[str] | URL, backend: str) -> tuple[URL, Path | None]:
    """The URL and file of a URL or a bare path (the file is None for in-memory URLs)."""
    if isinstance(url_or_path, URL) or (
        isinstance(url_or_path, str) and url_or_path.startswith(f"{backend}:")
    ):
        url = make_url(url_or_path)
        path = database_path(url)
        if path is None:
            return url, None
        path = path.absolute()
    else:
        path = Path(url_or_path).expanduser().absolute()
    return make_url(URL.create(backend, database=str(path)).render_as_string()), path


def _check_kind(path: Path, expected: FileKind) -> FileKind:
    kind = detect_file_kind(path)
    if kind not in (expected, FileKind.MISSING, FileKind.EMPTY):
        raise foreign_database_error(path, kind, expected)
    return kind


def _prepare_dir(path: Path, *, create_dirs: bool) -> None:
    if create_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise NotFound("directory", str(path.parent))


# --------------------------------------------------------------------------------------------
# SQLite


def create_sqlite_engine(
    url_or_path: str | os.PathLike[str] | URL,
    *,
    busy_timeout: float = 30.0,
    create_dirs: bool = False,
    file_mode: int | None = None,
    **kw: Any,
) -> Engine:
    """An engine for a SQLite file: WAL, ``synchronous=NORMAL``, foreign keys, busy timeout.

    Transactions begin with ``BEGIN IMMEDIATE`` (the write lock is taken up front and waited
    for up to ``busy_timeout``), so read-then-write units of work never fail half-way. A
    read-only unit of work may ask for a plain deferred ``BEGIN``, which lets it run beside a
    writer in WAL mode::

        with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn: ...

    Args:
        url_or_path: a ``sqlite://`` URL or a file path.
        busy_timeout: seconds to wait for another connection's write lock.
        create_dirs: create missing parent directories.
        file_mode: permission bits for the database file and its ``-wal``/``-shm`` files
            (e.g. ``0o600``); None leaves them to the umask.
        **kw: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. Nothing is opened until its first connection.

    Raises:
        ForeignDatabase: the path holds a DuckDB database or a file that is not a database.
        NotFound: the parent directory is missing and ``create_dirs`` is false.
    """
    url, path = _resolve(url_or_path, "sqlite")
    if path is not None:
        _check_kind(path, FileKind.SQLITE)
        _prepare_dir(path, create_dirs=create_dirs)
        if file_mode is not None:
            # SQLite gives -wal and -shm the permissions of the main file, so creating the
            # main file with the mode up front covers all three.
            with contextlib.suppress(FileExistsError):
                os.close(os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, file_mode))
    engine = sa.create_engine(url, **kw)
    timeout_ms = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        if path is not None:
            _check_kind(path, FileKind.SQLITE)
        # Take transaction control away from the sqlite3 module; _on_begin emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            if path is not None:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()
        if path is not None and file_mode is not None:
            _apply_mode(path, file_mode)

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be IMMEDIATE, DEFERRED or EXCLUSIVE: {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _apply_mode(path: Path, mode: int) -> None:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        try:
            if candidate.stat().st_mode & 0o777 != mode:
                candidate.chmod(mode)
        except FileNotFoundError:
            continue


# --------------------------------------------------------------------------------------------
# DuckDB


def _wait_for_lock(
    path: Path, lock_timeout: float, attempt: Callable[[], _T], *, check_kind: bool = True
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
        kind = _check_kind(path, FileKind.DUCKDB) if check_kind else FileKind.DUCKDB
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


def damaged_database_error(path: str | os.PathLike[str], err: BaseException) -> StorageError | None:
    """The :class:`~storage_core.errors.DatabaseDamaged` error for a DuckDB error that says
    the file is truncated or damaged (raised on open or by any later query), else None.

    Args:
        path: the database file.
        err: the DuckDB error, or SQLAlchemy's wrapper of it.
    """
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
    guard = _file_guard(file)

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


def _open_locked(path: Path, lock_timeout: float, attempt: Callable[[], _T]) -> _T:
    """Take the database lock (see :mod:`storage_core.database.locks`), then open the file.

    On success the caller owns one hold on the lock and must release it after closing.
    """
    started = time.monotonic()
    # Reading the header opens and closes the file, which would drop DuckDB's own fcntl lock
    # if another thread of this process has the file open: check only on the first hold.
    first_hold = not database_lock(path).is_locked
    if first_hold:
        _check_kind(path, FileKind.DUCKDB)  # a foreign file gets no lock file beside it
    try:
        acquire_database_lock(path, lock_timeout)
    except LockTimeout as err:
        waited = time.monotonic() - started
        raise DatabaseLocked(str(path), lock_holder_pid(path), waited) from err
    try:
        remaining = max(lock_timeout - (time.monotonic() - started), 0.0)
        return _wait_for_lock(path, remaining, attempt, check_kind=first_hold)
    except BaseException:
        release_database_lock(path)
        raise


class _Keeper:
    """Keeps a DuckDB file open between an engine's units of work.

    After a unit of work, one extra connection (and one hold on the database lock) stays open
    so the next unit of work finds the database open: no 15 ms open, no 7 ms checkpointing
    close. It is closed, and the file released, when:

    * another process waits for the file (it touches the lock file, :func:`lock_wanted`),
      checked after every unit of work and every few milliseconds by a daemon thread;
    * no unit of work ended for ``linger`` seconds;
    * the engine is disposed, another engine or a raw connection of this process opens the
      file, or the interpreter exits.

    Commits are unaffected: each unit of work still commits (DuckDB writes its WAL) before it
    returns; only the file handle outlives it.
    """

    def __init__(self, path: Path, linger: float, connect: Callable[[], Any], close: Any) -> None:
        self.path = path
        self.linger = linger
        self._connect = connect
        self._close = close
        self._guard = threading.Lock()
        self._conn: Any = None
        self._stamp: int | None = None
        self._last_used = 0.0
        self._thread: threading.Thread | None = None

    def keep(self) -> None:
        """Called with a unit of work's connection open: make sure the keeper holds the file."""
        if _exiting:
            return
        with self._guard:
            if self._conn is not None:
                return
            # Held by this process: a counted re-entry (the wait is for other threads only).
            acquire_database_lock(self.path, 5.0)
            try:
                self._conn = self._connect()
            except BaseException:
                release_database_lock(self.path)
                raise
            self._stamp = lock_stamp(self.path)
            self._last_used = time.monotonic()
            _KEEPERS[self.path] = self
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="duckdb-keeper", daemon=True
                )
                _WATCHERS.add(self._thread)
                self._thread.start()

    def used(self) -> None:
        """Called after a unit of work closed: let go now if another process waits."""
        self._last_used = time.monotonic()
        if self._conn is not None and lock_wanted(self.path, self._stamp):
            self.release()

    def release(self) -> None:
        """Close the kept connection and drop its hold on the lock (no-op when none)."""
        with self._guard:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            if _KEEPERS.get(self.path) is self:
                del _KEEPERS[self.path]
            try:
                with _file_guard(self.path):
                    self._close(conn)
            finally:
                release_database_lock(self.path)

    def _watch(self) -> None:
        while True:
            time.sleep(_KEEPER_POLL)
            with self._guard:
                if self._conn is None:
                    _WATCHERS.discard(threading.current_thread())
                    self._thread = None
                    return
            idle = time.monotonic() - self._last_used
            if idle >= self.linger or lock_wanted(self.path, self._stamp):
                with contextlib.suppress(Exception):
                    self.release()


_KEEPERS: dict[Path, _Keeper] = {}
_WATCHERS: set[threading.Thread] = set()
_exiting = False
# DuckDB shares one database instance between the connections of a process and destroys it
# (checkpointing) when the last one closes. A connect from another thread during that close
# finds no instance, creates a second one and fails with "Unique file handle conflict": opens
# and closes of one file are serialised within the process.
_FILE_GUARDS: dict[Path, threading.RLock] = {}
_FILE_GUARDS_GUARD = threading.Lock()


def _file_guard(path: Path) -> threading.RLock:
    with _FILE_GUARDS_GUARD:
        guard = _FILE_GUARDS.get(path)
        if guard is None:
            guard = _FILE_GUARDS[path] = threading.RLock()
        return guard


def release_kept_connection(path: str | os.PathLike[str]) -> None:
    """Close the connection an engine of this process keeps open on a DuckDB file, if any."""
    keeper = _KEEPERS.get(Path(path).expanduser().absolute())
    if keeper is not None:
        keeper.release()


@atexit.register
def _release_all_kept() -> None:
    # Close kept files cleanly (checkpointed) at exit; connections opened later (an exit-time
    # flush) are not kept.
    global _exiting
    _exiting = True
    for keeper in list(_KEEPERS.values()):
        with contextlib.suppress(Exception):
            keeper.release()
    # Watchers end within one poll once nothing is kept. A daemon thread still holding DuckDB
    # objects while the interpreter finalises makes DuckDB's bindings print "leaked" reports.
    for thread in list(_WATCHERS):
        if thread is not threading.current_thread():
            thread.join(timeout=1.0)


def create_duckdb_engine(
    url_or_path: str | os.PathLike[str] | URL,
    *,
    lock_timeout: float = 30.0,
    read_only: bool = False,
    create_dirs: bool = False,
    keep_open: float = DEFAULT_KEEP_OPEN,
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
        **kw: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. Nothing is opened until its first connection.

    Raises:
        ForeignDatabase: the path holds a SQLite database or a file that is not a database
            (checked before DuckDB opens the file, which leaves it untouched).
        DatabaseLocked: on connect, when the lock wait times out.
    """
    url, path = _resolve(url_or_path, "duckdb")
    if path is not None:
        if not database_lock(path).is_locked:  # see _open_locked: never while we hold the file
            _check_kind(path, FileKind.DUCKDB)
        _prepare_dir(path, create_dirs=create_dirs)
    connect_args = dict(kw.pop("connect_args", {}))
    if read_only:
        connect_args["read_only"] = True
    kw.setdefault("poolclass", NullPool)
    if kw["poolclass"] is NullPool:
        # The connection is closed when it is returned, and DuckDB rolls back whatever is
        # left open on close: the pool's extra ROLLBACK (~0.2 ms) would buy nothing.
        kw.setdefault("pool_reset_on_return", None)
    engine = sa.create_engine(url, connect_args=connect_args, **kw)

    if path is not None:
        db_path = path
        # SQLAlchemy has no "after close" event; the database lock must outlive DuckDB's close
        # (its checkpoint), so the engine's own dialect closes, then releases.
        close = engine.dialect.do_close
        keepers: list[_Keeper] = []
        guard = _file_guard(db_path)

        @sa.event.listens_for(engine, "do_connect")
        def _connect(dialect: Any, _record: Any, cargs: Any, cparams: Any) -> Any:
            # Through the dialect so duckdb-engine still wraps and configures the connection.
            def connect() -> Any:
                with guard:
                    return dialect.connect(*cargs, **cparams)

            other = _KEEPERS.get(db_path)
            if other is not None and (not keepers or other is not keepers[0]):
                other.release()  # another engine's connection may be configured differently
            conn = _open_locked(db_path, lock_timeout, connect)
            if keep_open > 0:
                if not keepers:
                    keepers.append(_Keeper(db_path, keep_open, connect, close))
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
