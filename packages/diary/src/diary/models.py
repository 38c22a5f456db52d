"""diary's tables as SQLAlchemy Core metadata, portable across DuckDB, SQLite and PostgreSQL.

The migrations in :mod:`diary.migrations` create exactly these tables; a test compares the two
through DuckDB's own catalog, since SQLAlchemy's reflection does not work on DuckDB.

Design decisions, each forced by a measured DuckDB behaviour (see PITFALLS.md):

* **Ids** are UUIDs generated in Python (native ``UUID`` on DuckDB and PostgreSQL, 32-character
  text on SQLite); integer keys fail on DuckDB and UUIDs let a process name a row before it
  writes it.
* **Timestamps** are stored as naive UTC ``TIMESTAMP`` values and handed out timezone-aware
  (:class:`UTCDateTime`): DuckDB's Python client needs ``pytz`` to return ``TIMESTAMPTZ``
  values, and a naive UTC column is portable.
* **No foreign-key constraints on DuckDB.** DuckDB refuses to delete a parent row in the
  transaction that deleted its children, so with FK constraints a cascade could not be atomic;
  and updating an indexed column of a referenced row fails. The foreign keys are declared (and
  created on every other database); on DuckDB the store checks parents on insert and cascades
  deletes itself, in one transaction.
* **The metric table is lean**: no primary key, no foreign key, no index on DuckDB (an ART
  index per point costs bytes and Appender speed; DuckDB's zone maps and the insertion order
  serve history reads). Other databases get an index on ``(iteration_id, key, step)``.
  Ordering is ``(step, timestamp, value)``: rows equal in all of those are indistinguishable,
  so the order is deterministic without a sequence column.
* **Status and stage columns are plain, unindexed text with a CHECK**, so updating them on rows
  that other rows reference is always allowed.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.schema import SchemaItem
from sqlalchemy.sql.compiler import DDLCompiler
from sqlalchemy.sql.ddl import BaseDDLElement

from diary.enums import ExperimentStatus, IterationStatus, ModelStage

__all__ = [
    "METRIC_INDEX_NAME",
    "TABLE_NAMES",
    "UTCDateTime",
    "environment",
    "experiment",
    "experiment_tag",
    "iteration",
    "iteration_tag",
    "metadata",
    "metric",
    "metric_summary",
    "model",
    "model_version",
    "parameter",
    "project",
    "project_tag",
    "resource",
    "resource_blob",
    "skip_on_duckdb",
    "store_identity",
]

# FK names match the migrations on databases that create foreign keys (all but DuckDB).
metadata = sa.MetaData(
    naming_convention={"fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s"}
)
METRIC_INDEX_NAME = "ix_metric_iteration_key_step"


class UTCDateTime(sa.types.TypeDecorator[datetime]):
    """A timestamp stored as naive UTC and returned timezone-aware (UTC).

    Naive datetimes are refused on the way in: guessing their zone is how DearDiary.jl ended
    up with local times nobody could compare (defect 16).
    """

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        """Convert an aware datetime to naive UTC for storage."""
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"timestamp must be timezone-aware: {value.isoformat()}")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        """Attach UTC to a stored naive timestamp."""
        if value is None:
            return None
        if isinstance(value, str):  # SQLite hands back text when read through raw SQL
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def skip_on_duckdb(
    ddl: BaseDDLElement,
    target: SchemaItem | str,
    bind: Connection | None,
    tables: list[sa.Table] | None = None,
    state: Any | None = None,
    *,
    dialect: Dialect,
    compiler: DDLCompiler | None = None,
    checkfirst: bool = False,
) -> bool:
    """``ddl_if`` predicate: create the construct everywhere except on DuckDB."""
    return bool(dialect.name != "duckdb")


def _id() -> sa.Column[Any]:
    return sa.Column("id", sa.Uuid(), primary_key=True)


def _required_text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False)


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False, server_default="")


def _created() -> sa.Column[datetime]:
    return sa.Column("created_at", UTCDateTime(), nullable=False)


def _optional_time(name: str) -> sa.Column[datetime]:
    return sa.Column(name, UTCDateTime(), nullable=True)


def _choice(table: str, name: str, values: list[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{name} IN ({allowed})", name=f"ck_{table}_{name}")


def _not_empty(table: str, name: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{name} <> ''", name=f"ck_{table}_{name}_not_empty")


project = sa.Table(
    "project",
    metadata,
    _id(),
    _required_text("name"),
    _text("description"),
    _created(),
    _optional_time("updated_at"),
    _not_empty("project", "name"),
)

experiment = sa.Table(
    "experiment",
    metadata,
    _id(),
    sa.Column("project_id", sa.Uuid(), sa.ForeignKey("project.id"), nullable=False),
    _required_text("name"),
    _text("description"),
    sa.Column("status", sa.String(16), nullable=False, server_default="in_progress"),
    _created(),
    _optional_time("ended_at"),
    _optional_time("updated_at"),
    _not_empty("experiment", "name"),
    _choice("experiment", "status", [s.value for s in ExperimentStatus]),
)

iteration = sa.Table(
    "iteration",
    metadata,
    _id(),
    sa.Column("experiment_id", sa.Uuid(), sa.ForeignKey("experiment.id"), nullable=False),
    # Never updated: DuckDB cannot update an FK column of a referenced row, so a parent is
    # fixed at creation and deleting a parent deletes its children.
    sa.Column("parent_id", sa.Uuid(), sa.ForeignKey("iteration.id"), nullable=True),
    sa.Column("status", sa.String(16), nullable=False, server_default="running"),
    _text("notes"),
    _text("error_message"),
    _created(),
    _optional_time("ended_at"),
    # Where the environment snapshot was kept before revision 0004: emptied by it and no
    # longer written (a referenced table cannot drop columns on DuckDB).
    _text("python_version"),
    _text("git_sha"),
    sa.Column("git_dirty", sa.Boolean(), nullable=True),
    _text("entry_point"),
    _text("packages"),
    _choice("iteration", "status", [s.value for s in IterationStatus]),
    # The environment the iteration started in (NULL: none recorded). No FK constraint: it
    # was added by ALTER TABLE, which cannot add one on DuckDB or SQLite; environment rows
    # are never deleted.
    sa.Column("environment_id", sa.Text(), nullable=True),
)

# Each distinct environment snapshot once; its id is the sha256 of its content.
environment = sa.Table(
    "environment",
    metadata,
    sa.Column("id", sa.Text(), primary_key=True, nullable=False),
    _text("python_version"),
    _text("git_sha"),
    sa.Column("git_dirty", sa.Boolean(), nullable=True),
    _text("entry_point"),
    _text("packages"),
    _created(),
)

parameter = sa.Table(
    "parameter",
    metadata,
    sa.Column(
        "iteration_id", sa.Uuid(), sa.ForeignKey("iteration.id"), primary_key=True, nullable=False
    ),
    sa.Column("key", sa.Text(), primary_key=True, nullable=False),
    sa.Column("value", sa.Text(), nullable=False),
    _created(),
    _not_empty("parameter", "key"),
)

metric = sa.Table(
    "metric",
    metadata,
    # No primary key and, on DuckDB, no index: see the module docstring.
    sa.Column("iteration_id", sa.Uuid(), nullable=False),
    sa.Column("key", sa.Text(), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("value", sa.Double(), nullable=False),
    sa.Column("timestamp", UTCDateTime(), nullable=False),
)
sa.Index(METRIC_INDEX_NAME, metric.c.iteration_id, metric.c.key, metric.c.step).ddl_if(
    callable_=skip_on_duckdb
)

# Per (iteration, metric key): what searches filter, order and show, kept up to date by every
# write of points in the same transaction (as MLflow keeps ``latest_metrics``), so a search
# reads a row per key instead of every point. ``last`` is the value at the highest step, the
# latest logged on a tie (then the largest); ``last_timestamp`` breaks the tie for later writes.
metric_summary = sa.Table(
    "metric_summary",
    metadata,
    sa.Column("iteration_id", sa.Uuid(), primary_key=True, nullable=False),
    sa.Column("key", sa.Text(), primary_key=True, nullable=False),
    sa.Column("last", sa.Double(), nullable=False),
    sa.Column("step", sa.BigInteger(), nullable=False),
    sa.Column("last_timestamp", UTCDateTime(), nullable=False),
    sa.Column("min", sa.Double(), nullable=False),
    sa.Column("max", sa.Double(), nullable=False),
    sa.Column("count", sa.BigInteger(), nullable=False),
)

resource = sa.Table(
    "resource",
    metadata,
    _id(),
    sa.Column("experiment_id", sa.Uuid(), sa.ForeignKey("experiment.id"), nullable=False),
    sa.Column("iteration_id", sa.Uuid(), sa.ForeignKey("iteration.id"), nullable=True),
    _required_text("name"),
    _text("description"),
    sa.Column("media_type", sa.Text(), nullable=False, server_default="application/octet-stream"),
    # Unused since revision 0002 (always NULL): inline bytes live in resource_blob. Kept
    # because DuckDB cannot drop a column of a table that foreign keys refer to.
    sa.Column("data", sa.LargeBinary(), nullable=True),
    # Unindexed on purpose: moving an artifact updates backend and uri on rows that model
    # versions reference. "sqlite" is DearDiary.jl's old name of "inline".
    sa.Column("backend", sa.Text(), nullable=False, server_default="inline"),
    sa.Column("uri", sa.Text(), nullable=False, server_default=""),
    sa.Column("size_bytes", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
    sa.Column("content_hash", sa.Text(), nullable=False, server_default=""),
    _created(),
    _optional_time("updated_at"),
    _not_empty("resource", "name"),
)

#: The bytes of inline artifacts, apart from their metadata: a DuckDB checkpoint rewrites
#: whole row groups that received rows, so bytes inside ``resource`` were rewritten by every
#: metadata write (migration 0002 explains; on DuckDB ``data`` is stored uncompressed).
resource_blob = sa.Table(
    "resource_blob",
    metadata,
    sa.Column(
        "resource_id", sa.Uuid(), sa.ForeignKey("resource.id"), primary_key=True, nullable=False
    ),
    sa.Column("data", sa.LargeBinary(), nullable=False),
)


#: The database's own identity (one row, written by its first artifact command): artifact
#: objects under ``<root>/<id>/`` are its own; ``location`` is where the database was when it
#: took the identity, so a copy or a moved file can tell (migration 0003 explains).
store_identity = sa.Table(
    "store_identity",
    metadata,
    _id(),
    _required_text("location"),
    _created(),
)


def _tag_table(name: str, owner: str) -> sa.Table:
    return sa.Table(
        name,
        metadata,
        sa.Column(
            f"{owner}_id", sa.Uuid(), sa.ForeignKey(f"{owner}.id"), primary_key=True, nullable=False
        ),
        sa.Column("tag", sa.Text(), primary_key=True, nullable=False),
        _created(),
        _not_empty(name, "tag"),
    )


project_tag = _tag_table("project_tag", "project")
experiment_tag = _tag_table("experiment_tag", "experiment")
iteration_tag = _tag_table("iteration_tag", "iteration")

model = sa.Table(
    "model",
    metadata,
    _id(),
    sa.Column("project_id", sa.Uuid(), sa.ForeignKey("project.id"), nullable=False),
    # Never renamed: a UNIQUE column of a referenced row cannot be updated on DuckDB.
    _required_text("name"),
    _text("description"),
    _created(),
    _optional_time("updated_at"),
    sa.UniqueConstraint("project_id", "name", name="uq_model_project_name"),
    _not_empty("model", "name"),
)

model_version = sa.Table(
    "model_version",
    metadata,
    _id(),
    sa.Column("model_id", sa.Uuid(), sa.ForeignKey("model.id"), nullable=False),
    sa.Column("version", sa.BigInteger(), nullable=False),
    sa.Column("iteration_id", sa.Uuid(), sa.ForeignKey("iteration.id"), nullable=False),
    sa.Column("resource_id", sa.Uuid(), sa.ForeignKey("resource.id"), nullable=True),
    sa.Column("stage", sa.String(16), nullable=False, server_default="none"),
    _text("description"),
    _created(),
    _optional_time("updated_at"),
    sa.UniqueConstraint("model_id", "version", name="uq_model_version_model_version"),
    sa.CheckConstraint("version > 0", name="ck_model_version_version_positive"),
    _choice("model_version", "stage", [s.value for s in ModelStage]),
)

# Foreign keys exist everywhere but DuckDB (module docstring).
for _table in metadata.tables.values():
    for _fk in _table.foreign_key_constraints:
        _fk.ddl_if(callable_=skip_on_duckdb)

TABLE_NAMES: tuple[str, ...] = tuple(metadata.tables)
