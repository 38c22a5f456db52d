"""Each database records an identity of its own, which owns the artifact objects it writes.

Several databases may share one artifact root (two files in one folder use the same default
root; a ``db backup`` copy points at the same objects as the live file). An object written
under ``<root>/<identity>/<aa>/<uuid>`` belongs to the database with that identity, and no
command of another database ever deletes it. The row also records where the database was when
it took the identity, so a copy (or a moved file) notices it is not at that place, takes an
identity of its own, and treats every object it did not write as borrowed.

The table is empty after the upgrade: the first artifact command of a database fills it.

Revision ID: 0003_store_identity
Revises: 0002_resource_blob
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_store_identity"
down_revision: str | None = "0002_resource_blob"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create ``store_identity`` (one row once used: the database's identity and place)."""
    op.create_table(
        "store_identity",
        sa.Column("id", sa.Uuid(), primary_key=True, nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    """Drop ``store_identity`` (objects stay where they are; rows keep their URIs)."""
    op.drop_table("store_identity")
