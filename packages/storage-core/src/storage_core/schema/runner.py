"""Schema upgrades for alembic environments that ship inside a package.

Each package (diary, buildlog) has its own alembic environment and its own version table. This
module runs them without an ini file: :func:`ensure_schema` on first use (create, back up and
upgrade, or refuse), :func:`upgrade`/:func:`stamp`/:func:`check` behind the ``db`` commands, and
:func:`run_env_migrations` as the whole body of a package's ``env.py``, which works both when
called from here (a live connection in ``config.attributes``) and from the shell
(``alembic -n diary upgrade head``, ``--sql`` included).

alembic is imported only when scripts are read or run (it is a third of a first use's time):
a database at the declared head costs one query, and an empty one is created from the
environment's snapshot when it has one (:mod:`storage_core.schema.snapshot`). Running alembic
imports :mod:`storage_core.schema.env`, which registers the DuckDB implementation alembic lacks.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

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
    ForeignDatabase,
    SchemaOutOfDate,
    SchemaTooNew,
)

if TYPE_CHECKING:
    from alembic.config import Config
    from alembic.script import ScriptDirectory
    from sqlalchemy.engine import Connection, Engine

__all__ = [
    "SchemaEnvironment",
    "SchemaStatus",
    "check",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "is_known_revision",
    "stamp",
    "upgrade",
]

Action = Literal["created", "upgraded", "adopted", "none"]
Adopter = Callable[["Connection"], "str | None"]


@dataclass(frozen=True)
class SchemaEnvironment:
    """One package's alembic environment.

    Attributes:
        name: the package's short name, used in messages ("diary").
        script_location: a package resource spec alembic understands (``"diary:migrations"``)
            or an absolute directory.
        version_table: the package's own version table (``"diary_alembic_version"``); it must
            match what the environment's ``env.py`` passes to :func:`run_env_migrations`.
        head: the newest revision, declared so that :func:`ensure_schema` need not read the
            scripts (and import alembic) to know it. The package's tests must keep it equal
            to :func:`head_revision`; whenever alembic runs, a mismatch raises ConfigError.
        snapshots: where the schema snapshots are (``"diary:migrations/snapshots"``, or an
            absolute directory); see :mod:`storage_core.schema.snapshot`.
    """

    name: str
    script_location: str
    version_table: str
    head: str | None = None
    snapshots: str | None = None

    def config(self, connection: Connection | None = None) -> Config:
        """An alembic Config for this environment, built without an ini file.

        Args:
            connection: the live connection ``env.py`` should use.
        """
        from alembic.config import Config

        cfg = Config()
        cfg.set_main_option("script_location", self.script_location)
        cfg.set_main_option("path_separator", "os")
        cfg.attributes["version_table"] = self.version_table
        if connection is not None:
            cfg.attributes["connection"] = connection
        return cfg


@dataclass(frozen=True)
class SchemaStatus:
    """The outcome of :func:`ensure_schema` or :func:`check`.

    Attributes:
        current: the revision the database is at now.
        head: the newest revision the code knows.
        action: "created" (empty database brought to head), "upgraded", "adopted" (a foreign
            database stamped by the adopt hook, then upgraded if needed) or "none".
        previous: the revision before the action (None for a new or adopted database).
        backup: the backup file written before changing an existing database, if any.
    """

    current: str | None
    head: str
    action: Action
    previous: str | None = None
    backup: Path | None = None


@functools.lru_cache(maxsize=32)
def _script(env: SchemaEnvironment) -> ScriptDirectory:
    # Parsing the revision files is the slow part of a first-use check; they never change
    # while the process runs.
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(env.config())


def head_revision(env: SchemaEnvironment) -> str:
    """The head revision of the environment's scripts (reads them: imports alembic).

    Raises:
        ConfigError: the environment has no revisions or several heads, or declares another
            head than its scripts have.
    """
    from alembic.util import CommandError

    try:
        head = _script(env).get_current_head()
    except CommandError as err:
        raise ConfigError(f"{env.name} migrations", env.script_location, str(err)) from err
    if head is None:
        raise ConfigError(f"{env.name} migrations", env.script_location, "no revisions")
    if env.head is not None and env.head != head:
        raise ConfigError(f"{env.name} declared head", env.head, f"the scripts' head, {head}")
    return head


def _declared_head(env: SchemaEnvironment) -> str:
    return env.head if env.head is not None else head_revision(env)


def is_known_revision(env: SchemaEnvironment, revision: str) -> bool:
    """Whether ``revision`` is one of the environment's scripts (False for a newer one)."""
    from alembic.util import CommandError

    try:
        return _script(env).get_revision(revision) is not None
    except CommandError:
        return False


_is_known = is_known_revision


def _read_revision(conn: Connection, env: SchemaEnvironment) -> str | None:
    table = sa.table(env.version_table, sa.column("version_num"))
    rows = conn.execute(sa.select(table.c.version_num)).scalars().all()
    if len(rows) > 1:
        raise ConfigError(env.version_table, rows, "several revisions; branches are not supported")
    return rows[0] if rows else None


def current_revision(engine: Engine, env: SchemaEnvironment) -> str | None:
    """The revision stored in the database, or None when the version table is absent or empty."""
    with engine.connect() as conn:
        if not sa.inspect(conn).has_table(env.version_table):
            return None
        return _read_revision(conn, env)


def _describe(engine: Engine) -> str:
    path = database_path(engine.url)
    return str(path) if path is not None else engine.url.render_as_string(hide_password=True)


def _run_alembic(
    conn: Connection, env: SchemaEnvironment, action: Callable[[Config], None]
) -> None:
    # alembic leaves a transaction it did not begin to its owner; hand over a clean connection
    # so it commits each migration itself (transaction_per_migration).
    import storage_core.schema.env  # noqa: F401  (registers DuckDBImpl with alembic)
    from storage_core.database.sqlite import sqlite_foreign_keys_off

    head_revision(env)  # a declared head that differs from the scripts' is refused here
    if conn.in_transaction():
        conn.commit()
    with sqlite_foreign_keys_off(conn):
        action(env.config(conn))
        if conn.in_transaction():
            conn.commit()


def upgrade(engine: Engine, env: SchemaEnvironment, revision: str = "head") -> None:
    """Upgrade the database to ``revision`` (no lock, no backup: see :func:`ensure_schema`)."""
    from alembic import command

    with engine.connect() as conn:
        _run_alembic(conn, env, lambda cfg: command.upgrade(cfg, revision))


def stamp(engine: Engine, env: SchemaEnvironment, revision: str) -> None:
    """Record ``revision`` in the version table without running migrations."""
    from alembic import command

    with engine.connect() as conn:
        _run_alembic(conn, env, lambda cfg: command.stamp(cfg, revision))


@dataclass(frozen=True)
class _Found:
    """What a database holds, as far as schema management is concerned."""

    has_version_table: bool
    current: str | None
    other_tables: tuple[str, ...]
    adopted: str | None = None


def _survey(conn: Connection, env: SchemaEnvironment, adopt: Adopter | None) -> _Found:
    inspector = sa.inspect(conn)
    has_version = inspector.has_table(env.version_table)
    current = _read_revision(conn, env) if has_version else None
    others: tuple[str, ...] = ()
    adopted = None
    if current is None:
        others = tuple(t for t in inspector.get_table_names() if t != env.version_table)
        if others and adopt is not None:
            adopted = adopt(conn)
    # The survey only reads; end its transaction so nothing is held during the upgrade.
    conn.rollback()
    return _Found(has_version, current, others, adopted)


def _foreign(where: str, env: SchemaEnvironment, found: _Found) -> ForeignDatabase:
    listed = ", ".join(sorted(found.other_tables)[:5])
    more = ", ..." if len(found.other_tables) > 5 else ""
    return ForeignDatabase(
        where,
        f"database with other tables ({listed}{more}) and no {env.version_table} table",
        f"a {env.name} database",
        hint="use a new database file, or adopt this one if a command offers to",
    )


# Threads of one process share the (counted) database lock, so schema work also takes a
# per-file lock within the process.
_THREAD_LOCKS: dict[Path, threading.Lock] = {}
_THREAD_LOCKS_GUARD = threading.Lock()


@contextlib.contextmanager
def _first_use_lock(engine: Engine, timeout: float) -> Iterator[None]:
    """Serialise schema work with the database's ``<db>.lock`` (see storage_core.database.locks).

    Server databases get no file lock: alembic's transactions are all they have.
    """
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
    head = _declared_head(env)
    where = _describe(engine)
    try:
        current = current_revision(engine, env)
    except sa.exc.DBAPIError:
        current = None  # unreadable version table: decided under the lock with full checks
    if current is not None:
        if current == head:
            return SchemaStatus(current, head, "none")
        if not _is_known(env, current):
            raise SchemaTooNew(where, current, head)
        if not auto_upgrade:
            raise SchemaOutOfDate(where, current, head)
    with _first_use_lock(engine, lock_timeout):
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
        found = _survey(conn, env, adopt)
    current = found.current
    if current is None and not found.other_tables:
        if not found.has_version_table and _create_from_snapshot(engine, env, head):
            return SchemaStatus(head, head, "created")
        upgrade(engine, env, head)
        return SchemaStatus(head, head, "created")
    if current is None:
        if found.adopted is None:
            raise _foreign(where, env, found)
        if not _is_known(env, found.adopted):
            raise ConfigError("adopted revision", found.adopted, f"unknown to {env.name}")
        if found.adopted != head and not auto_upgrade:
            raise SchemaOutOfDate(where, None, head)
    elif current == head:
        return SchemaStatus(current, head, "none")
    elif not _is_known(env, current):
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


def check(engine: Engine, env: SchemaEnvironment) -> SchemaStatus:
    """Report that the database is at head, or raise what is wrong (reads only).

    Raises:
        SchemaOutOfDate: behind head, or empty (current revision None).
        SchemaTooNew: at a revision these scripts do not know.
        ForeignDatabase: other tables and no version table of ours.
    """
    head = head_revision(env)
    where = _describe(engine)
    with engine.connect() as conn:
        found = _survey(conn, env, None)
    if found.current is None:
        if found.other_tables:
            raise _foreign(where, env, found)
        raise SchemaOutOfDate(where, None, head)
    if found.current == head:
        return SchemaStatus(found.current, head, "none")
    if not _is_known(env, found.current):
        raise SchemaTooNew(where, found.current, head)
    raise SchemaOutOfDate(where, found.current, head)
