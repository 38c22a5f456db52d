"""Add project.description (ADD COLUMN is the one change DuckDB allows on a referenced table).

Revision ID: cccc00000003
Revises: bbbb00000002
"""

import sqlalchemy as sa
from alembic import op

revision = "cccc00000003"
down_revision = "bbbb00000002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("project", sa.Column("description", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("project", "description")
