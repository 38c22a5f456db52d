"""Schema revisions of alembic environments that ship inside a package, and the operator commands.

Each package (diary, buildlog) has its own alembic environment and its own version table. This
module runs them without an ini file: :func:`upgrade`/:func:`stamp`/:func:`check` behind the
``db`` commands, the revision lookups, and the survey of what a database holds that first use
(:mod:`storage_core.schema.first_use`) decides on. :func:`run_env_migrations`
(:mod:`storage_core.schema.env`) is the whole body of a package's ``env.py``, which works both
when called from here (a live connection in ``config.attributes``) and from the shell
(``alembic -n diary upgrade head``, ``--sql`` included).

alembic is imported only when scripts are read or run (it is a third of a first use's time).
Running alembic imports :mod:`storage_core.schema.env`, which registers the DuckDB
implementation alembic lacks.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import sqlalchemy as sa

from storage_core.database import database_path
from storage_core.database.targets import display_url
from storage_core.errors import (
    ConfigError,
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


def declared_head(env: SchemaEnvironment) -> str:
    """The head the environment declares, else the scripts' (see SchemaEnvironment.head)."""
    return env.head if env.head is not None else head_revision(env)


def is_known_revision(env: SchemaEnvironment, revision: str) -> bool:
    """Whether ``revision`` is one of the environment's scripts (False for a newer one)."""
    from alembic.util import CommandError

    try:
        return _script(env).get_revision(revision) is not None
    except CommandError:
        return False


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


def describe(engine: Engine) -> str:
    """The database as messages name it: its path, or its URL without the password."""
    path = database_path(engine.url)
    return str(path) if path is not None else display_url(engine.url)


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
class Found:
    """What a database holds, as far as schema management is concerned."""

    has_version_table: bool
    current: str | None
    other_tables: tuple[str, ...]
    adopted: str | None = None


def survey(conn: Connection, env: SchemaEnvironment, adopt: Adopter | None) -> Found:
    """Read what the database holds (and, for a foreign one, what ``adopt`` makes of it)."""
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
    return Found(has_version, current, others, adopted)


def foreign(where: str, env: SchemaEnvironment, found: Found) -> ForeignDatabase:
    """The refusal of a database that holds other tables and no version table of ours."""
    listed = ", ".join(sorted(found.other_tables)[:5])
    more = ", ..." if len(found.other_tables) > 5 else ""
    return ForeignDatabase(
        where,
        f"database with other tables ({listed}{more}) and no {env.version_table} table",
        f"a {env.name} database",
        hint="use a new database file, or adopt this one if a command offers to",
    )


def check(engine: Engine, env: SchemaEnvironment) -> SchemaStatus:
    """Report that the database is at head, or raise what is wrong (reads only).

    Raises:
        SchemaOutOfDate: behind head, or empty (current revision None).
        SchemaTooNew: at a revision these scripts do not know.
        ForeignDatabase: other tables and no version table of ours.
    """
    head = head_revision(env)
    where = describe(engine)
    with engine.connect() as conn:
        found = survey(conn, env, None)
    if found.current is None:
        if found.other_tables:
            raise foreign(where, env, found)
        raise SchemaOutOfDate(where, None, head)
    if found.current == head:
        return SchemaStatus(found.current, head, "none")
    if not is_known_revision(env, found.current):
        raise SchemaTooNew(where, found.current, head)
    raise SchemaOutOfDate(where, found.current, head)
