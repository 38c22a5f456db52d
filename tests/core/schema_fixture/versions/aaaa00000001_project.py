"""Create the project table.

Revision ID: aaaa00000001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "aaaa00000001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # String primary keys: DuckDB has no autoincrement for Integer keys.
    op.create_table(
        "project",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("project")
