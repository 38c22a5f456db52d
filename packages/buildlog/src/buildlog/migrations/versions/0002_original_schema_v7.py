"""Create, or complete, the original buildlog's schema at its version 7.

Idempotent by construction, because an adopted database may be at any original version
from 1 to 7 and, depending on the release that created it, may already have some later
columns: missing tables and indexes are created, missing columns added (ADD COLUMN only,
all of them nullable), and the versions 1 to 7 recorded in ``schema_version`` as the
original would. Nothing is dropped or rewritten.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from buildlog.schema_v7 import ORIGINAL_VERSION, build_original_metadata

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Bring the original's tables to version 7."""
    bind = op.get_bind()
    metadata = build_original_metadata()
    existing = set(sa.inspect(bind).get_table_names())
    metadata.create_all(bind, checkfirst=True)
    inspector = sa.inspect(bind)
    for table in metadata.sorted_tables:
        if table.name not in existing:
            continue
        present = {column["name"] for column in inspector.get_columns(table.name)}
        for column in table.columns:
            if column.name not in present:
                # Only the original's later columns can be missing (adoption checks the
                # rest), and every one of them is nullable TEXT without a default.
                op.add_column(table.name, sa.Column(column.name, column.type, nullable=True))
        indexes = {index["name"] for index in inspector.get_indexes(table.name)}
        for index in table.indexes:
            if index.name not in indexes:
                index.create(bind)
    versions = metadata.tables["schema_version"]
    recorded = set(bind.execute(sa.select(versions.c.version)).scalars())
    missing = [v for v in range(1, ORIGINAL_VERSION + 1) if v not in recorded]
    if missing:
        bind.execute(versions.insert(), [{"version": v} for v in missing])


def downgrade() -> None:
    """Not supported: the original tool's data must never be dropped by a downgrade."""
    raise NotImplementedError("buildlog does not downgrade below its own additions")
