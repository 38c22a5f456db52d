"""The starting point: an empty database, or one written by the original buildlog.

Adoption stamps this revision on a database that has the original's ``schema_version``
table (versions 1 to 7) and no alembic version table; the next revision then completes it
to the original's version 7. On an empty database this revision does nothing.

Revision ID: 0001
Revises:
Create Date: 2026-11-25
"""

from __future__ import annotations

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to do: this revision only marks where adoption starts."""


def downgrade() -> None:
    """Nothing to undo."""
