"""Each metric of an iteration is summarised in ``metric_summary``, kept up to date on write.

A search filters, orders and shows metrics by their last value (or min, max, count, step).
Computed from the points, that reads every point of the key: 10 million for a sweep of 10,000
iterations. The summary row (last value, its step and time, min, max, count) is updated in the
transaction that writes the points, so a search reads one row per iteration and key.

The upgrade fills the table from the points already stored, with the same definition the
library keeps: the last value is the one at the highest step, the latest logged on a tie,
then the largest.

Revision ID: 0005_metric_summary
Revises: 0004_environment
Create Date: 2026-12-07
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_metric_summary"
down_revision: str | None = "0004_environment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_COLUMNS = "iteration_id, key, last, step, last_timestamp, min, max, count"

# DuckDB: one GROUP BY pass; arg_max over (step, timestamp, value) picks the last point.
_FILL_DUCKDB = f"""
INSERT INTO metric_summary ({_COLUMNS})
SELECT iteration_id, key,
       arg_max(value, (step, timestamp, value)),
       max(step),
       arg_max(timestamp, (step, timestamp, value)),
       min(value), max(value), count(*)
FROM metric GROUP BY iteration_id, key
"""

# Elsewhere: window functions rank each key's points; the first is the last point.
_FILL_PORTABLE = f"""
INSERT INTO metric_summary ({_COLUMNS})
SELECT iteration_id, key, value, step, timestamp, lo, hi, n FROM (
    SELECT iteration_id, key, value, step, timestamp,
           row_number() OVER (PARTITION BY iteration_id, key
                              ORDER BY step DESC, timestamp DESC, value DESC) AS rank,
           min(value) OVER (PARTITION BY iteration_id, key) AS lo,
           max(value) OVER (PARTITION BY iteration_id, key) AS hi,
           count(*) OVER (PARTITION BY iteration_id, key) AS n
    FROM metric
) ranked WHERE rank = 1
"""


def upgrade() -> None:
    """Create ``metric_summary`` and fill it from the stored points."""
    op.create_table(
        "metric_summary",
        sa.Column("iteration_id", sa.Uuid(), primary_key=True, nullable=False),
        sa.Column("key", sa.Text(), primary_key=True, nullable=False),
        sa.Column("last", sa.Double(), nullable=False),
        sa.Column("step", sa.BigInteger(), nullable=False),
        sa.Column("last_timestamp", sa.DateTime(), nullable=False),
        sa.Column("min", sa.Double(), nullable=False),
        sa.Column("max", sa.Double(), nullable=False),
        sa.Column("count", sa.BigInteger(), nullable=False),
    )
    fill = _FILL_DUCKDB if op.get_bind().dialect.name == "duckdb" else _FILL_PORTABLE
    op.execute(fill)


def downgrade() -> None:
    """Drop ``metric_summary`` (the points stay; searches before 0005 compute from them)."""
    op.drop_table("metric_summary")
