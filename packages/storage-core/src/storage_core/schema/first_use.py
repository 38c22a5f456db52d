"""First use of a database: create it, or back it up and upgrade it, or refuse, under a lock.

:func:`ensure_schema` is what a library calls when it opens a database. At the head it costs one
query and imports no alembic. Otherwise a file lock next to the database (on PostgreSQL an
advisory lock) serialises processes doing their first use at the same moment, and an empty
database is created from the environment's schema snapshot
(:mod:`storage_core.schema.snapshot`) when it has one for the engine at head: one transaction,
no alembic.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from storage_core.database import backup_database, database_path
from storage_core.database.locks import (
    LockTimeout,
    acquire_database_lock,
    lock_holder_pid,
    release_database_lock,
)
from storage_core.errors import (
    ConfigError,
    DatabaseLocked,
    DatabaseUnreachable,
    SchemaOutOfDate,
    SchemaTooNew,
)
from storage_core.schema.runner import (
    Action,
    Adopter,
    SchemaEnvironment,
    SchemaStatus,
    current_revision,
    declared_head,
    describe,
    foreign,
    is_known_revision,
    stamp,
    survey,
    upgrade,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["ensure_schema", "require_reachable"]


# Threads of one process share the (counted) database lock, so schema work also takes a
# per-file lock within the process.
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _first_use_lock(engine: Engine, timeout: float, name: str) -> Iterator[None]:
    """Serialise schema work with the database's ``<db>.lock`` (see storage_core.database.locks).

    On PostgreSQL, where machines share no file, a session advisory lock keyed by ``name`` (the
    package's version table) does it. Other server databases get no lock: alembic's
    transactions are all they have.
    """
    if engine.dialect.name == "postgresql":
        with _advisory_lock(engine, timeout, name):
            yield
        return
    path = database_path(engine.url)
    if path is None:
        yield
        return
    path = path.absolute()
    with _THREAD_LOCKS_GUARD:
        thread_lock = _THREAD_LOCKS.setdefault(path, threading.Lock())
    if not thread_lock.acquire(timeout=timeout):
        raise DatabaseLocked(str(path), os.getpid(), timeout)
    try:
        try:
            acquire_database_lock(path, timeout)
        except LockTimeout as err:
            raise DatabaseLocked(str(path), lock_holder_pid(path), timeout) from err
        try:
            yield
        finally:
            release_database_lock(path)
    finally:
        thread_lock.release()


@contextlib.contextmanager
def _advisory_lock(engine: Engine, timeout: float, name: str) -> Iterator[None]:
    """PostgreSQL's session advisory lock ``hashtext(name)``, waited for up to ``timeout``
    seconds, on a connection of its own that holds it while the schema work runs."""
    deadline = time.monotonic() + timeout
    key = sa.func.hashtext(f"storage_core.schema:{name}")
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        while not conn.execute(sa.select(sa.func.pg_try_advisory_lock(key))).scalar():
            if time.monotonic() >= deadline:
                raise DatabaseLocked(describe(engine), None, timeout)
            time.sleep(0.05)
        try:
            yield
        finally:
            conn.execute(sa.select(sa.func.pg_advisory_unlock(key)))


def require_reachable(engine: Engine) -> None:
    """Connect to a server database once, so that a server that is down, a wrong host or a
    refused login is one clear error rather than a driver's traceback.

    Raises:
        DatabaseUnreachable: the connection failed.
    """
    from storage_core.database.targets import display_url

    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as err:
        cause = err.orig if err.orig is not None else err
        reason = " ".join(str(cause).split()) or type(cause).__name__
        password = engine.url.password
        if password:
            reason = reason.replace(str(password), "***")
        raise DatabaseUnreachable(display_url(engine.url), reason) from None


def _backup_name(path: Path, revision: str | None) -> Path:
    stamp_text = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    base = path.with_name(f"{path.name}.backup-{revision or 'none'}-{stamp_text}")
    candidate, n = base, 1
    while candidate.exists():
        candidate, n = base.with_name(f"{base.name}-{n}"), n + 1
    return candidate


def ensure_schema(
    engine: Engine,
    env: SchemaEnvironment,
    *,
    auto_upgrade: bool = True,
    backup: bool = True,
    adopt: Adopter | None = None,
    lock_timeout: float = 300.0,
) -> SchemaStatus:
    """Bring the database to the head revision on first use, or say why not.

    When the database is already at head this costs one query and takes no lock. Otherwise a
    file lock (``<db>.lock``) serialises processes doing their first use at the same moment,
    and the state is read again under it:

    * empty database: brought to head ("created"), even with ``auto_upgrade=False``, since a
      new database holds nothing to lose. With a snapshot of the head for its dialect (see
      :mod:`storage_core.schema.snapshot`) that is one transaction and alembic is not
      imported; otherwise the migrations run;
    * behind head: the file is backed up to ``<db>.backup-<old revision>-<UTC time>`` and
      upgraded ("upgraded");
    * tables but no version table of ours: ``adopt(conn)`` (read-only) may name the revision
      the existing tables correspond to; the file is backed up, stamped and upgraded
      ("adopted"). Without a hook, or when it returns None: :class:`ForeignDatabase`.

    Args:
        engine: the database.
        env: the package's alembic environment.
        auto_upgrade: upgrade a database that is behind; when false raise SchemaOutOfDate.
        backup: back up file databases before changing an existing schema.
        adopt: recognises a database written by an older tool; see above.
        lock_timeout: seconds to wait for another process doing the same.

    Raises:
        SchemaTooNew: the database is at a revision these scripts do not know.
        SchemaOutOfDate: behind head and ``auto_upgrade`` is false.
        ForeignDatabase: the database holds other tables and is not adopted.
        DatabaseLocked: another process held the database or the lock file too long.
    """
    head = declared_head(env)
    where = describe(engine)
    if database_path(engine.url) is None:
        require_reachable(engine)
    try:
        current = current_revision(engine, env)
    except sa.exc.DBAPIError:
        current = None  # unreadable version table: decided under the lock with full checks
    if current is not None:
        if current == head:
            return SchemaStatus(current, head, "none")
        if not is_known_revision(env, current):
            raise SchemaTooNew(where, current, head)
        if not auto_upgrade:
            raise SchemaOutOfDate(where, current, head)
    with _first_use_lock(engine, lock_timeout, env.version_table):
        return _ensure_locked(engine, env, head, where, auto_upgrade, backup, adopt)


def _ensure_locked(
    engine: Engine,
    env: SchemaEnvironment,
    head: str,
    where: str,
    auto_upgrade: bool,
    backup: bool,
    adopt: Adopter | None,
) -> SchemaStatus:
    with engine.connect() as conn:
        found = survey(conn, env, adopt)
    current = found.current
    if current is None and not found.other_tables:
        if found.has_version_table or not _create_from_snapshot(engine, env, head):
            upgrade(engine, env, head)
        return SchemaStatus(head, head, "created")
    if current is None:
        if found.adopted is None:
            raise foreign(where, env, found)
        if not is_known_revision(env, found.adopted):
            raise ConfigError("adopted revision", found.adopted, f"unknown to {env.name}")
        if found.adopted != head and not auto_upgrade:
            raise SchemaOutOfDate(where, None, head)
    elif current == head:
        return SchemaStatus(current, head, "none")
    elif not is_known_revision(env, current):
        raise SchemaTooNew(where, current, head)
    elif not auto_upgrade:
        raise SchemaOutOfDate(where, current, head)
    path = database_path(engine.url)
    saved = None
    if backup and path is not None:
        saved = backup_database(engine, _backup_name(path, current or "adopted"))
    if found.adopted is not None:
        stamp(engine, env, found.adopted)
    upgrade(engine, env, head)
    action: Action = "adopted" if found.adopted is not None else "upgraded"
    return SchemaStatus(head, head, action, previous=current, backup=saved)


def _create_from_snapshot(engine: Engine, env: SchemaEnvironment, head: str) -> bool:
    """Create an empty database from the snapshot of ``head``; False when there is none."""
    from storage_core.schema.snapshot import apply_snapshot, read_snapshot

    snapshot = read_snapshot(env, engine.dialect.name)
    if snapshot is None or snapshot.revision != head:
        return False  # a snapshot behind the scripts would need the migrations after it
    with engine.connect() as conn:
        apply_snapshot(conn, snapshot, env.version_table)
    return True
