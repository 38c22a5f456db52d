"""SQLite engines: WAL, a long busy timeout, and write transactions that begin IMMEDIATE.

A transaction that reads and then writes would otherwise fail at once with "database is
locked" under contention, whatever the busy timeout (PITFALLS.md).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import URL, Connection, Engine
from sqlalchemy.pool import ConnectionPoolEntry

from storage_core.database.files import FileKind, create_private_file, is_read_only_file
from storage_core.database.targets import check_kind, database_path, prepare_dir, resolve_target
from storage_core.errors import IntegrityError

__all__ = ["create_sqlite_engine", "sqlite_foreign_keys_off"]


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
        file_mode: permission bits of a new database file, which its ``-wal``/``-shm`` files
            take too (e.g. ``0o600``); the default is ``0o644``. Group and world write are
            never given, whatever the umask; an existing file keeps its mode.
        **kw: passed on to :func:`sqlalchemy.create_engine`.

    Returns:
        The engine. Nothing is opened until its first connection.

    Raises:
        ForeignDatabase: the path holds a DuckDB database or a file that is not a database.
        NotFound: the parent directory is missing and ``create_dirs`` is false.
    """
    url, path = resolve_target(url_or_path, "sqlite")
    if path is not None:
        check_kind(path, FileKind.SQLITE)
        prepare_dir(path, create_dirs=create_dirs)
        # SQLite gives -wal and -shm the permissions of the main file, so creating the main
        # file with the mode up front covers all three. An existing file (or a symlink) keeps
        # the mode it has: nothing is ever chmod-ed, least of all through a link.
        create_private_file(path, 0o644 if file_mode is None else file_mode)
    read_only = path is not None and is_read_only_file(path)
    if read_only and path is not None:
        url = _read_only_url(url, path)
    engine = sa.create_engine(url, **kw)
    timeout_ms = int(busy_timeout * 1000)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
        if path is not None:
            check_kind(path, FileKind.SQLITE)
        # Take transaction control away from the sqlite3 module; _on_begin emits BEGIN.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            # busy_timeout first: switching to WAL needs a lock another process may hold.
            cursor.execute(f"PRAGMA busy_timeout = {timeout_ms}")
            if path is not None and not read_only:
                cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
            cursor.execute("PRAGMA foreign_keys = ON")
        finally:
            cursor.close()

    @sa.event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "IMMEDIATE")
        if mode not in ("IMMEDIATE", "DEFERRED", "EXCLUSIVE"):
            raise ValueError(f"sqlite_begin must be IMMEDIATE, DEFERRED or EXCLUSIVE: {mode!r}")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


def _read_only_url(url: URL, path: Path) -> URL:
    """A URL that opens a database the user made read-only without writing anything beside it.

    ``mode=ro`` refuses every write (the engine reports it as read-only); without a log
    beside the file nobody is writing it, and ``immutable=1`` then keeps SQLite from creating
    ``-wal``/``-shm`` files, so a read leaves the folder exactly as it was.
    """
    busy = any(Path(f"{path}{suffix}").exists() for suffix in ("-wal", "-journal"))
    query = {"mode": "ro", "uri": "true", **({} if busy else {"immutable": "1"})}
    return url.set(database=f"file:{path}").update_query_dict(query)


@contextlib.contextmanager
def sqlite_foreign_keys_off(conn: Connection) -> Iterator[None]:
    """Migrations on SQLite run with foreign keys off (batch table rebuilds need it).

    The pragma only works outside a transaction, so it goes straight to the DBAPI connection.
    Afterwards ``foreign_key_check`` proves the migrations left every reference intact.
    """
    if conn.dialect.name != "sqlite":
        yield
        return
    raw = conn.connection.dbapi_connection
    assert raw is not None  # a live connection
    if conn.in_transaction():
        conn.commit()
    raw.execute("PRAGMA foreign_keys = OFF")
    try:
        yield
        if conn.in_transaction():
            conn.commit()
        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        conn.commit()
        if broken:
            raise IntegrityError(
                str(database_path(conn.engine.url)),
                "no broken references",
                broken[:5],
                what="foreign key check",
            )
    finally:
        if conn.in_transaction():
            conn.rollback()
        raw.execute("PRAGMA foreign_keys = ON")
