"""The tables buildlog uses: the original tool's schema v7 plus what this package adds.

The original's table and column names are kept so that a database it wrote can be adopted
in place and it can still read a database written here. Additions are nullable, so the
original tool ignores them:

* ``projects.id_source``: ``git-remote`` or ``path``, how the id was derived;
* ``projects.id_alias``: the id of the origin URL without its credentials, when the URL has
  some: a rotated token gives another id, the alias finds the project again;
* ``posterior_snapshots.record_key``: the SHA-256 of an imported snapshot's canonical JSON,
  unique per project, which makes re-importing a snapshot file a no-op (the table has no
  natural key).

Lists are stored as JSON text, booleans as 0/1 and timestamps as ISO 8601 text, as the
original does.
"""

from __future__ import annotations

import sqlalchemy as sa

from buildlog.schema_v7 import build_original_metadata

__all__ = [
    "active_sessions",
    "bandit_arms",
    "metadata",
    "mistakes",
    "posterior_snapshots",
    "projects",
    "review_history",
    "review_learnings",
    "reward_events",
    "sessions",
    "skill_decisions",
]

metadata = build_original_metadata()

projects = metadata.tables["projects"]
projects.append_column(sa.Column("id_source", sa.Text, nullable=True))
projects.append_column(sa.Column("id_alias", sa.Text, nullable=True))
sa.Index("ix_projects_id_alias", projects.c.id_alias)

posterior_snapshots = metadata.tables["posterior_snapshots"]
posterior_snapshots.append_column(sa.Column("record_key", sa.Text, nullable=True))
sa.Index(
    "uq_posterior_snapshots_record",
    posterior_snapshots.c.project_id,
    posterior_snapshots.c.record_key,
    unique=True,
)

skill_decisions = metadata.tables["skill_decisions"]
review_learnings = metadata.tables["review_learnings"]
review_history = metadata.tables["review_history"]
active_sessions = metadata.tables["active_sessions"]
reward_events = metadata.tables["reward_events"]
sessions = metadata.tables["sessions"]
mistakes = metadata.tables["mistakes"]
bandit_arms = metadata.tables["bandit_arms"]
