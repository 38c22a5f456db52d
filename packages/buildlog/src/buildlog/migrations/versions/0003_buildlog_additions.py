"""What this package adds to the original schema (nullable, so the original still works).

* ``projects.id_source``: how the project id was derived (``git-remote`` or ``path``);
* ``posterior_snapshots.record_key`` with a unique index per project: makes importing a
  snapshot file idempotent.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the columns and the index."""
    op.add_column("projects", sa.Column("id_source", sa.Text, nullable=True))
    op.add_column("posterior_snapshots", sa.Column("record_key", sa.Text, nullable=True))
    op.create_index(
        "uq_posterior_snapshots_record",
        "posterior_snapshots",
        ["project_id", "record_key"],
        unique=True,
    )


def downgrade() -> None:
    """Remove the additions."""
    op.drop_index("uq_posterior_snapshots_record", table_name="posterior_snapshots")
    with op.batch_alter_table("posterior_snapshots") as batch:
        batch.drop_column("record_key")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("id_source")
