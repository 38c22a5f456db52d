"""Inline artifact bytes move from ``resource.data`` to their own table, ``resource_blob``.

Why (measured on DuckDB 2.0, see docs/performance.md): a DuckDB checkpoint rewrites every row
group that received rows since the previous checkpoint, all of its columns included. With the
bytes in ``resource``, logging any artifact (even a filesystem or S3 one, whose ``data`` is
NULL) made the next checkpoint rewrite every inline byte of the table: 0.4-0.7 s with 200 MiB
inline, and a checkpoint comes every 16 MiB of write-ahead log and at every close. Apart,
metadata writes never touch the bytes, and moving an artifact out of inline is a cheap
``DELETE`` instead of an ``UPDATE ... SET data = NULL`` that rewrote the column.

On DuckDB the column is stored uncompressed: DuckDB compresses long strings with ZSTD at
checkpoints, which artifacts (mostly compressed or random already) do not shrink under, and a
point read of a ZSTD segment costs ~6x more (3.1 s against 0.5 s for 200 x 1 MiB).

``resource.data`` stays (a table referenced by a foreign key cannot drop a column on DuckDB,
and SQLite would need a table rebuild); it is emptied here and no longer written.

Revision ID: 0002_resource_blob
Revises: 0001_initial
Create Date: 2026-11-25
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_resource_blob"
down_revision: str | None = "0001_initial"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# DearDiary.jl called the inline backend "sqlite"; its rows may still say so.
_INLINE = "('inline', 'sqlite')"


def _duckdb() -> bool:
    return bool(op.get_context().dialect.name == "duckdb")


def upgrade() -> None:
    """Create ``resource_blob``, move the inline bytes into it, empty ``resource.data``."""
    if _duckdb():
        # USING COMPRESSION has no SQLAlchemy spelling; the catalog test compares types only.
        op.execute(
            "CREATE TABLE resource_blob ("
            "resource_id UUID PRIMARY KEY, "
            "data BLOB USING COMPRESSION uncompressed NOT NULL)"
        )
    else:
        op.create_table(
            "resource_blob",
            sa.Column("resource_id", sa.Uuid(), primary_key=True, nullable=False),
            sa.Column("data", sa.LargeBinary(), nullable=False),
            sa.ForeignKeyConstraint(
                ["resource_id"], ["resource.id"], name="fk_resource_blob_resource_id_resource"
            ),
        )
    op.execute(
        "INSERT INTO resource_blob (resource_id, data) SELECT id, data FROM resource "
        f"WHERE data IS NOT NULL AND backend IN {_INLINE}"
    )
    op.execute("UPDATE resource SET data = NULL WHERE data IS NOT NULL")


def downgrade() -> None:
    """Put the inline bytes back into ``resource.data`` and drop ``resource_blob``."""
    op.execute(
        "UPDATE resource SET data = (SELECT b.data FROM resource_blob b "
        "WHERE b.resource_id = resource.id) "
        "WHERE id IN (SELECT resource_id FROM resource_blob)"
    )
    op.drop_table("resource_blob")
