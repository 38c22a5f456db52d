"""``projects.id_alias``: the id of the origin URL without credentials, when it differs.

The project id is the hash of the origin URL exactly as git prints it, credentials included,
as the original tool computes it. A rotated token therefore gives another id; the alias (the
hash of the URL with its credentials removed) stays the same and finds the project again.
Nullable, so the original tool ignores it.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Add the column and its index."""
    op.add_column("projects", sa.Column("id_alias", sa.Text, nullable=True))
    op.create_index("ix_projects_id_alias", "projects", ["id_alias"])


def downgrade() -> None:
    """Remove them."""
    op.drop_index("ix_projects_id_alias", table_name="projects")
    with op.batch_alter_table("projects") as batch:
        batch.drop_column("id_alias")
