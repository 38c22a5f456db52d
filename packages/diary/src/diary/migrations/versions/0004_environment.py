"""Each distinct environment snapshot is stored once, in ``environment``; iterations refer to it.

A snapshot (Python version, git commit and dirtiness, entry point, installed packages) is a few
kilobytes and the same for every iteration a process runs: stored per iteration, it made disk
use grow with the number of iterations. An environment's id is the sha256 of its content
(:meth:`diary.environment.EnvironmentSnapshot.key`), so every process that runs in one
environment finds the same row, and the row never changes.

``iteration.environment_id`` has no foreign-key constraint: neither DuckDB nor SQLite can add one
with ``ALTER TABLE``. Environment rows are never deleted, so a reference never dangles. The old
snapshot columns of ``iteration`` stay (a table referenced by a foreign key cannot drop a column on
DuckDB); they are moved into ``environment`` here, emptied, and no longer written.

Revision ID: 0004_environment
Revises: 0003_store_identity
Create Date: 2026-12-07
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0004_environment"
down_revision: str | None = "0003_store_identity"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_SNAPSHOT = ("python_version", "git_sha", "git_dirty", "entry_point", "packages")


def _text(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text(), nullable=False, server_default="")


def environment_key(
    python_version: str, git_sha: str, git_dirty: bool | None, entry_point: str, packages: str
) -> str:
    """The id of a snapshot: sha256 of its fields as canonical JSON (packages one per line).

    The same function as :meth:`diary.environment.EnvironmentSnapshot.key`, repeated here
    because a migration must not change when the library does.
    """
    lines = [line for line in packages.splitlines() if line]
    content = [python_version, git_sha, git_dirty, entry_point, lines]
    encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
    return hashlib.sha256(encoded).hexdigest()


def upgrade() -> None:
    """Create ``environment``, add ``iteration.environment_id``, move the snapshots over."""
    op.create_table(
        "environment",
        sa.Column("id", sa.Text(), primary_key=True, nullable=False),
        _text("python_version"),
        _text("git_sha"),
        sa.Column("git_dirty", sa.Boolean(), nullable=True),
        _text("entry_point"),
        _text("packages"),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )
    op.add_column("iteration", sa.Column("environment_id", sa.Text(), nullable=True))
    bind = op.get_bind()
    iteration = sa.table(
        "iteration", sa.column("environment_id"), *(sa.column(name) for name in _SNAPSHOT)
    )
    environment = sa.table(
        "environment", sa.column("id"), sa.column("created_at"), *map(sa.column, _SNAPSHOT)
    )
    taken = [
        sa.func.coalesce(iteration.c[name], "") if name != "git_dirty" else iteration.c[name]
        for name in _SNAPSHOT
    ]
    # An iteration created without a snapshot has nothing to move: it keeps a NULL reference.
    recorded = sa.or_(
        *(iteration.c[name] != "" for name in _SNAPSHOT if name != "git_dirty"),
        iteration.c.git_dirty.is_not(None),
    )
    snapshots = bind.execute(sa.select(*taken).where(recorded).distinct()).all()
    now = datetime.now(UTC).replace(tzinfo=None)
    for snapshot in snapshots:
        values = dict(zip(_SNAPSHOT, snapshot, strict=True))
        if values["git_dirty"] is not None:  # SQLite hands back 0 and 1
            values["git_dirty"] = bool(values["git_dirty"])
        key = environment_key(**values)
        bind.execute(sa.insert(environment).values(id=key, created_at=now, **values))
        same = [
            iteration.c[name].is_not_distinct_from(value)
            if name == "git_dirty"
            else sa.func.coalesce(iteration.c[name], "") == value
            for name, value in values.items()
        ]
        bind.execute(
            sa.update(iteration)
            .where(*same)
            .values(
                environment_id=key,
                python_version="",
                git_sha="",
                git_dirty=None,
                entry_point="",
                packages="",
            )
        )


def downgrade() -> None:
    """Copy the snapshots back into ``iteration`` and drop ``environment``.

    ``iteration.environment_id`` stays on DuckDB (a referenced table cannot drop a column
    there), emptied; revision 0003's code never reads it.
    """
    for name in _SNAPSHOT:
        op.execute(
            f"UPDATE iteration SET {name} = (SELECT e.{name} FROM environment e "
            "WHERE e.id = iteration.environment_id) WHERE environment_id IS NOT NULL"
        )
    op.execute("UPDATE iteration SET environment_id = NULL WHERE environment_id IS NOT NULL")
    if op.get_context().dialect.name != "duckdb":
        op.drop_column("iteration", "environment_id")
    op.drop_table("environment")
