"""Initial schema: projects, experiments, iterations, parameters, metrics, resources, tags, models.

Written by hand (autogenerate cannot reflect DuckDB) and frozen: it does not import
``diary.models``, whose later changes belong in later revisions. A test checks that the two
agree through DuckDB's catalog.

Foreign keys are created everywhere except on DuckDB, which cannot delete a parent in the
transaction that deleted its children (the store cascades deletes itself); the metric table's
index is skipped on DuckDB too (see ``diary.models``).

Revision ID: 0001_initial
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001_initial"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_TABLES = (
    "model_version",
    "model",
    "iteration_tag",
    "experiment_tag",
    "project_tag",
    "resource",
    "metric",
    "parameter",
    "iteration",
    "experiment",
    "project",
)


def _duckdb() -> bool:
    # get_context() works online and with --sql, where there is no bind.
    return bool(op.get_context().dialect.name == "duckdb")


def _fk(column: str, target: str, name: str) -> list[sa.ForeignKeyConstraint]:
    if _duckdb():
        return []
    return [sa.ForeignKeyConstraint([column], [target], name=name)]


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False, server_default="")


def _not_empty(table: str, column: str) -> sa.CheckConstraint:
    return sa.CheckConstraint(f"{column} <> ''", name=f"ck_{table}_{column}_not_empty")


def _choice(table: str, column: str, values: Sequence[str]) -> sa.CheckConstraint:
    allowed = ", ".join(f"'{value}'" for value in values)
    return sa.CheckConstraint(f"{column} IN ({allowed})", name=f"ck_{table}_{column}")


def upgrade() -> None:
    """Create every table of the first schema."""
    op.create_table(
        "project",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("name", sa.Text(), nullable=False),
        _text("description"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        _not_empty("project", "name"),
    )
    op.create_table(
        "experiment",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _text("description"),
        sa.Column("status", sa.String(16), nullable=False, server_default="in_progress"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        *_fk("project_id", "project.id", "fk_experiment_project_id_project"),
        _not_empty("experiment", "name"),
        _choice("experiment", "status", ("in_progress", "stopped", "finished")),
    )
    op.create_table(
        "iteration",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("status", sa.String(16), nullable=False, server_default="running"),
        _text("notes"),
        _text("error_message"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("ended_at", sa.DateTime(), nullable=True),
        _text("python_version"),
        _text("git_sha"),
        sa.Column("git_dirty", sa.Boolean(), nullable=True),
        _text("entry_point"),
        _text("packages"),
        *_fk("experiment_id", "experiment.id", "fk_iteration_experiment_id_experiment"),
        *_fk("parent_id", "iteration.id", "fk_iteration_parent_id_iteration"),
        _choice("iteration", "status", ("running", "succeeded", "failed", "killed")),
    )
    op.create_table(
        "parameter",
        sa.Column("iteration_id", sa.Uuid(), primary_key=True, nullable=False),
        sa.Column("key", sa.Text(), primary_key=True, nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        *_fk("iteration_id", "iteration.id", "fk_parameter_iteration_id_iteration"),
        _not_empty("parameter", "key"),
    )
    op.create_table(
        "metric",
        sa.Column("iteration_id", sa.Uuid(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("value", sa.Double(), nullable=False),
        sa.Column("timestamp", sa.DateTime(), nullable=False),
    )
    if not _duckdb():
        op.create_index("ix_metric_iteration_key_step", "metric", ["iteration_id", "key", "step"])
    op.create_table(
        "resource",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("experiment_id", sa.Uuid(), nullable=False),
        sa.Column("iteration_id", sa.Uuid(), nullable=True),
        sa.Column("name", sa.Text(), nullable=False),
        _text("description"),
        sa.Column(
            "media_type", sa.Text(), nullable=False, server_default="application/octet-stream"
        ),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("backend", sa.Text(), nullable=False, server_default="inline"),
        sa.Column("uri", sa.Text(), nullable=False, server_default=""),
        sa.Column("size_bytes", sa.BigInteger(), nullable=False, server_default=sa.text("0")),
        sa.Column("content_hash", sa.Text(), nullable=False, server_default=""),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        *_fk("experiment_id", "experiment.id", "fk_resource_experiment_id_experiment"),
        *_fk("iteration_id", "iteration.id", "fk_resource_iteration_id_iteration"),
        _not_empty("resource", "name"),
    )
    for owner in ("project", "experiment", "iteration"):
        table = f"{owner}_tag"
        op.create_table(
            table,
            sa.Column(f"{owner}_id", sa.Uuid(), primary_key=True, nullable=False),
            sa.Column("tag", sa.Text(), primary_key=True, nullable=False),
            sa.Column("created_at", sa.DateTime(), nullable=False),
            *_fk(f"{owner}_id", f"{owner}.id", f"fk_{table}_{owner}_id_{owner}"),
            _not_empty(table, "tag"),
        )
    op.create_table(
        "model",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("project_id", sa.Uuid(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        _text("description"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        *_fk("project_id", "project.id", "fk_model_project_id_project"),
        sa.UniqueConstraint("project_id", "name", name="uq_model_project_name"),
        _not_empty("model", "name"),
    )
    op.create_table(
        "model_version",
        sa.Column("id", sa.Uuid(), primary_key=True),
        sa.Column("model_id", sa.Uuid(), nullable=False),
        sa.Column("version", sa.BigInteger(), nullable=False),
        sa.Column("iteration_id", sa.Uuid(), nullable=False),
        sa.Column("resource_id", sa.Uuid(), nullable=True),
        sa.Column("stage", sa.String(16), nullable=False, server_default="none"),
        _text("description"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=True),
        *_fk("model_id", "model.id", "fk_model_version_model_id_model"),
        *_fk("iteration_id", "iteration.id", "fk_model_version_iteration_id_iteration"),
        *_fk("resource_id", "resource.id", "fk_model_version_resource_id_resource"),
        sa.UniqueConstraint("model_id", "version", name="uq_model_version_model_version"),
        sa.CheckConstraint("version > 0", name="ck_model_version_version_positive"),
        _choice("model_version", "stage", ("none", "staging", "production", "archived")),
    )


def downgrade() -> None:
    """Drop every table, children first."""
    if not _duckdb():
        op.drop_index("ix_metric_iteration_key_step", table_name="metric")
    for table in _TABLES:
        op.drop_table(table)
