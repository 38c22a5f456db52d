"""Schema snapshots: a new database created in one transaction instead of by replaying migrations.

A snapshot is the DDL a database holds after ``alembic upgrade head``, dumped from the engine's
own catalog (so it keeps what SQLAlchemy cannot spell, such as DuckDB's ``USING COMPRESSION``),
and the revision it stands for. It lives beside the migrations as ``<dialect>.sql`` in the
directory a :class:`~storage_core.schema.SchemaEnvironment` names in ``snapshots``.

On first use of an empty database, :func:`~storage_core.schema.ensure_schema` runs the snapshot
and records its revision, as Rails' ``db:schema:load`` and alembic's cookbook recipe "building
an up to date database from scratch" do. That skips importing alembic and running each
migration, most of the cost of a first use. A snapshot whose revision is not the head is never
used, and each package has a test that its snapshots equal what its migrations build.

Snapshots hold the schema only: building one refuses migrations that seed rows.

Rewrite a package's snapshots after adding a migration::

    python -m storage_core.schema.snapshot diary.schema:schema_environment
"""

from __future__ import annotations

import graphlib
import importlib
import importlib.resources
import sys
import tempfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import sqlalchemy as sa

from storage_core.errors import ConfigError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from storage_core.schema.runner import SchemaEnvironment

__all__ = [
    "DIALECTS",
    "SchemaSnapshot",
    "apply_snapshot",
    "build_snapshot",
    "dump_schema",
    "read_snapshot",
    "snapshot_path",
    "write_snapshots",
]

# The engines storage_core creates databases for, and so can dump and load.
DIALECTS = ("duckdb", "sqlite")
# Statements are separated by a line ending in ";" and then an empty line; a statement that
# holds that sequence itself (a string literal, a trigger body) cannot be written.
_SEPARATOR = ";\n\n"
_REVISION = "-- revision: "


@dataclass(frozen=True)
class SchemaSnapshot:
    """The DDL of a database at one revision, for one dialect.

    Attributes:
        dialect: the SQLAlchemy dialect name ("duckdb", "sqlite").
        revision: the alembic revision the statements build.
        statements: CREATE statements in an order the engine accepts, without trailing ``;``;
            the version table is among them.
    """

    dialect: str
    revision: str
    statements: tuple[str, ...]

    def render(self, env_name: str) -> str:
        """The file text: a header, then each statement followed by ``;`` and an empty line.

        Raises:
            ConfigError: a statement contains the separator and could not be read back.
        """
        for statement in self.statements:
            if _SEPARATOR in statement + "\n":
                raise ConfigError(
                    f"{env_name} snapshot", statement[:60], "holds ';' before an empty line"
                )
        header = (
            f"-- {env_name} schema for {self.dialect}, dumped from the migrations by\n"
            "-- python -m storage_core.schema.snapshot; do not edit.\n"
            f"{_REVISION}{self.revision}\n\n"
        )
        return header + "".join(statement + _SEPARATOR for statement in self.statements)

    @classmethod
    def parse(cls, text: str, dialect: str, where: str) -> SchemaSnapshot:
        """Read a file written by :meth:`render`.

        Raises:
            ConfigError: no revision line, or no statements.
        """
        revision = None
        body: list[str] = []
        for line in text.splitlines(keepends=True):
            if not body and line.startswith("--"):
                if line.startswith(_REVISION):
                    revision = line[len(_REVISION) :].strip()
                continue
            if body or line.strip():
                body.append(line)
        statements = tuple(part.strip() for part in "".join(body).split(_SEPARATOR) if part.strip())
        if not revision or not statements:
            raise ConfigError("schema snapshot", where, "no revision line or no statements")
        return cls(dialect, revision, statements)


def snapshot_path(env: SchemaEnvironment, dialect: str) -> Path | None:
    """Where ``env`` keeps the snapshot for ``dialect`` (None when it keeps no snapshots).

    ``env.snapshots`` is ``"package:sub/dir"`` (a directory inside an importable package) or an
    absolute directory.
    """
    if env.snapshots is None:
        return None
    package, sep, sub = env.snapshots.partition(":")
    if not sep:
        return Path(env.snapshots) / f"{dialect}.sql"
    root = importlib.resources.files(package)
    return Path(str(root.joinpath(*sub.split("/"), f"{dialect}.sql")))


def read_snapshot(env: SchemaEnvironment, dialect: str) -> SchemaSnapshot | None:
    """The environment's snapshot for ``dialect``, or None when it has none.

    Raises:
        ConfigError: the file exists but is not a snapshot.
    """
    path = snapshot_path(env, dialect)
    if path is None or not path.is_file():
        return None
    return SchemaSnapshot.parse(path.read_text(encoding="utf-8"), dialect, str(path))


def apply_snapshot(conn: Connection, snapshot: SchemaSnapshot, version_table: str) -> None:
    """Create the snapshot's schema and record its revision, in one transaction.

    The database must hold no tables; a failure (or a killed process) leaves it empty.
    """
    if conn.in_transaction():
        conn.commit()
    version = sa.table(version_table, sa.column("version_num"))
    with conn.begin():
        for statement in snapshot.statements:
            conn.exec_driver_sql(statement)
        conn.execute(version.insert().values(version_num=snapshot.revision))


def dump_schema(conn: Connection) -> tuple[str, ...]:
    """The CREATE statements of every table, view, index and sequence, from the catalog.

    Raises:
        ConfigError: the dialect is not one storage_core can dump.
    """
    name = conn.dialect.name
    if name == "duckdb":
        return _dump_duckdb(conn)
    if name == "sqlite":
        return _dump_sqlite(conn)
    raise _unknown_dialect(name)


def _unknown_dialect(name: str) -> ConfigError:
    return ConfigError("schema snapshot dialect", name, f"one of {', '.join(DIALECTS)}")


def _dump_sqlite(conn: Connection) -> tuple[str, ...]:
    # sqlite_master keeps each statement as written; SQLite accepts references to tables that
    # do not exist yet, so tables keep their catalog order. Internal tables (sqlite_sequence,
    # autoindexes) come back by themselves.
    rows = conn.exec_driver_sql(
        "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%' "
        "ORDER BY CASE type WHEN 'table' THEN 0 WHEN 'index' THEN 1 WHEN 'view' THEN 2 "
        "ELSE 3 END, rowid"
    )
    return tuple(_clean(sql) for (sql,) in rows)


_USER_OBJECTS = "NOT internal AND NOT temporary"


def _dump_duckdb(conn: Connection) -> tuple[str, ...]:
    def sql_of(function: str, order: str, where: str = _USER_OBJECTS) -> list[str]:
        query = (
            f"SELECT sql FROM {function}() WHERE database_name = current_database() "
            f"AND {where} AND sql IS NOT NULL ORDER BY schema_name, {order}"
        )
        return [sql for (sql,) in conn.exec_driver_sql(query)]

    tables = conn.exec_driver_sql(
        "SELECT schema_name, table_name, sql FROM duckdb_tables() "
        f"WHERE database_name = current_database() AND {_USER_OBJECTS}"
    ).all()
    references = conn.exec_driver_sql(
        "SELECT schema_name, table_name, referenced_table FROM duckdb_constraints() "
        "WHERE database_name = current_database() AND constraint_type = 'FOREIGN KEY'"
    ).all()
    # DuckDB refuses a foreign key to a table that does not exist yet: parents come first,
    # otherwise tables keep the order of their names.
    by_name = {(schema, table): sql for schema, table, sql in sorted(tables)}
    order: graphlib.TopologicalSorter[tuple[str, str]] = graphlib.TopologicalSorter()
    for key in by_name:
        order.add(key)
    for schema, table, referenced in references:
        if (schema, referenced) in by_name and referenced != table:
            order.add((schema, table), (schema, referenced))
    statements = [
        *sql_of("duckdb_sequences", "sequence_name", where="NOT temporary"),
        *(by_name[key] for key in order.static_order()),
        *sql_of("duckdb_views", "view_name"),
        *sql_of("duckdb_indexes", "index_name", where="TRUE"),
    ]
    return tuple(_clean(sql) for sql in statements)


def _clean(sql: str) -> str:
    return sql.strip().rstrip(";").rstrip()


def build_snapshot(env: SchemaEnvironment, dialect: str) -> SchemaSnapshot:
    """Run every migration on a new temporary database of ``dialect`` and dump the result.

    Raises:
        ConfigError: an unknown dialect, or migrations that leave rows outside the version
            table (a snapshot would lose them).
    """
    from storage_core.database import create_engine_for, duckdb_url, sqlite_url
    from storage_core.schema.runner import head_revision, upgrade

    if dialect not in DIALECTS:
        raise _unknown_dialect(dialect)
    head = head_revision(env)
    with tempfile.TemporaryDirectory(prefix="schema-snapshot-") as tmp:
        path = Path(tmp) / f"snapshot.{dialect}"
        url = duckdb_url(path) if dialect == "duckdb" else sqlite_url(path)
        engine = create_engine_for(url)
        try:
            upgrade(engine, env, head)
            with engine.connect() as conn:
                statements = dump_schema(conn)
                _refuse_seeded_rows(conn, env)
        finally:
            engine.dispose()
    return SchemaSnapshot(dialect, head, statements)


def _refuse_seeded_rows(conn: Connection, env: SchemaEnvironment) -> None:
    inspector = sa.inspect(conn)
    for table in inspector.get_table_names():
        if table == env.version_table:
            continue
        count = conn.execute(sa.select(sa.func.count()).select_from(sa.table(table))).scalar()
        if count:
            raise ConfigError(
                f"{env.name} schema snapshot",
                table,
                f"the migrations leave {count} row(s) in it; snapshots hold the schema only",
            )


def write_snapshots(env: SchemaEnvironment, dialects: Iterable[str] = DIALECTS) -> list[Path]:
    """Build and write ``env``'s snapshot for each dialect; returns the files written.

    Raises:
        ConfigError: ``env`` names no snapshot directory, or :func:`build_snapshot` refused.
    """
    from storage_core.blobs.localfs import atomic_write

    written = []
    for dialect in dialects:
        path = snapshot_path(env, dialect)
        if path is None:
            raise ConfigError(f"{env.name} environment", env.snapshots, "a snapshot directory")
        atomic_write(path, [build_snapshot(env, dialect).render(env.name).encode("utf-8")])
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m storage_core.schema.snapshot MODULE:FACTORY [DIALECT...]``."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or ":" not in args[0]:
        print(main.__doc__, file=sys.stderr)
        return 2
    module, _, factory = args[0].partition(":")
    env = getattr(importlib.import_module(module), factory)()
    for path in write_snapshots(env, args[1:] or DIALECTS):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
