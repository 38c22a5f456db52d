"""Create the note table, which references project.

Revision ID: bbbb00000002
Revises: aaaa00000001
"""

import sqlalchemy as sa
from alembic import op

revision = "bbbb00000002"
down_revision = "aaaa00000001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "note",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("project_id", sa.String(36), sa.ForeignKey("project.id"), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("note")
