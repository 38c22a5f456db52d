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
from collections.abc import Mapping
from typing import Any

import duckdb
import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlalchemy.pool import NullPool

from storage_core.database.duckdb_open import (
    damaged_database_error,
    open_duckdb,
    open_locked,
    read_only_database_error,
)
from storage_core.database.files import FileKind, check_kind, is_read_only_file
from storage_core.database.keeper import (
    DEFAULT_KEEP_OPEN,
    Keeper,
    file_guard,
    kept_by,
    release_kept_connection,
)
from storage_core.database.locks import database_lock, release_database_lock
from storage_core.database.sqlite import create_sqlite_engine
from storage_core.database.targets import (
    database_path,
    duckdb_url,
    prepare_dir,
    resolve_target,
    sqlite_url,
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
        if not database_lock(path).is_locked:  # see open_locked: never while we hold the file
            check_kind(path, FileKind.DUCKDB)
        prepare_dir(path, create_dirs=create_dirs)
    connect_args = dict(kw.pop("connect_args", {}))
    if path is not None and is_read_only_file(path):
        # A database the user made read-only stays so: reads work, writes fail with an error
        # that says why (see duckdb_open.read_only_database_error); the file's mode never changes.
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
            conn = open_locked(db_path, lock_timeout, connect, read_only=read_only)
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
