"""The original buildlog's database schema at version 7, frozen (formats reference, 7.2-7.3).

This is a compatibility contract, not our model: the alembic revision that creates (or
completes) the original's tables builds them from here, so a database this package creates
can still be opened by the original tool, and one the original created can be adopted.
:mod:`buildlog.models` extends these tables with what this package adds. Never change a
definition here; add a new alembic revision instead.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import FunctionElement

__all__ = [
    "LATER_COLUMNS",
    "ORIGINAL_VERSION",
    "UtcNowText",
    "build_original_metadata",
]

ORIGINAL_VERSION = 7

# Columns the original added after version 1 (reference 7.4); an adopted database may lack
# them and gets them with ADD COLUMN. Every other column must be present for adoption.
LATER_COLUMNS = frozenset(
    {
        ("mistakes", "related_concepts"),
        ("mistakes", "relation_to_prior"),
        ("mistakes", "resolution_action"),
        ("mistakes", "context"),
        ("mistakes", "severity"),
        ("reward_events", "session_id"),
        ("mistakes", "rules_consulted"),
    }
)


class UtcNowText(FunctionElement[str]):
    """The original's TEXT timestamp default: the current UTC time as ISO 8601.

    SQLite renders ``strftime('%Y-%m-%dT%H:%M:%fZ','now')`` exactly as the original;
    other databases get an equivalent expression so the schema stays portable.
    """

    type = sa.Text()
    inherit_cache = True


@compiles(UtcNowText, "sqlite")
def _utc_now_sqlite(_element: UtcNowText, _compiler: Any, **_kw: Any) -> str:
    return "(strftime('%Y-%m-%dT%H:%M:%fZ','now'))"


@compiles(UtcNowText, "postgresql")
def _utc_now_postgresql(_element: UtcNowText, _compiler: Any, **_kw: Any) -> str:
    return "(to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'))"


@compiles(UtcNowText)
def _utc_now_default(_element: UtcNowText, _compiler: Any, **_kw: Any) -> str:
    return "(CAST(CURRENT_TIMESTAMP AS TEXT))"


def _text(name: str, *, nullable: bool = True, **kw: Any) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=nullable, **kw)


def _required(name: str, **kw: Any) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=False, **kw)


def _stamp(name: str) -> sa.Column[str]:
    return sa.Column(name, sa.Text, nullable=False, server_default=UtcNowText())


def _project_fk(*, primary_key: bool = False, nullable: bool = False) -> sa.Column[str]:
    return sa.Column(
        "project_id",
        sa.Text,
        sa.ForeignKey("projects.id"),
        nullable=nullable,
        primary_key=primary_key,
    )


def build_original_metadata() -> sa.MetaData:
    """Fresh Table objects for the original schema at version 7.

    Returns:
        A new MetaData each call, so callers may extend the tables without side effects.
    """
    md = sa.MetaData()
    sa.Table(
        "schema_version",
        md,
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        _stamp("applied_at"),
    )
    sa.Table(
        "projects",
        md,
        sa.Column("id", sa.Text, primary_key=True),
        _required("name"),
        _required("path", unique=True),
        _stamp("created_at"),
        _stamp("updated_at"),
    )
    sa.Table(
        "skill_decisions",
        md,
        _project_fk(primary_key=True),
        sa.Column("skill_id", sa.Text, primary_key=True),
        _required("decision"),
        _stamp("decided_at"),
        _text("metadata"),
        sa.CheckConstraint("decision IN ('promoted', 'rejected')"),
    )
    sa.Table(
        "review_learnings",
        md,
        _project_fk(primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        *(_required(n) for n in ("rule", "category", "severity", "source")),
        _required("first_seen"),
        _required("last_reinforced"),
        sa.Column("reinforcement_count", sa.Integer, nullable=False, server_default="1"),
        sa.Column("contradiction_count", sa.Integer, nullable=False, server_default="0"),
        _text("functional_principle"),
    )
    sa.Table(
        "review_history",
        md,
        sa.Column("rowid", sa.Integer, primary_key=True, autoincrement=True),
        _project_fk(),
        _required("timestamp"),
        _text("source"),
        sa.Column("issues_count", sa.Integer, nullable=False, server_default="0"),
        _text("new_learning_ids"),
        _text("reinforced_learning_ids"),
        sa.Index("idx_review_history_project", "project_id", sa.text("timestamp DESC")),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "active_sessions",
        md,
        _project_fk(primary_key=True, nullable=True),
        _required("data"),
        _stamp("created_at"),
    )
    sa.Table(
        "reward_events",
        md,
        _project_fk(primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        _required("timestamp"),
        _required("outcome"),
        sa.Column("reward_value", sa.Float, nullable=False),
        _text("rules_active"),
        sa.Column("revision_distance", sa.Float),
        _text("error_class"),
        _text("notes"),
        _text("source"),
        _text("session_id"),
        sa.Index("idx_reward_events_ts", "project_id", sa.text("timestamp DESC")),
        sa.Index("idx_reward_events_session", "project_id", "session_id"),
    )
    sa.Table(
        "sessions",
        md,
        _project_fk(primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        _required("started_at"),
        *(
            _text(n)
            for n in (
                "ended_at",
                "entry_file",
                "rules_at_start",
                "rules_at_end",
                "selected_rules",
                "error_class",
                "notes",
            )
        ),
        sa.Index("idx_sessions_ts", "project_id", sa.text("started_at DESC")),
    )
    sa.Table(
        "mistakes",
        md,
        _project_fk(primary_key=True),
        sa.Column("id", sa.Text, primary_key=True),
        *(
            _required(n)
            for n in ("session_id", "timestamp", "error_class", "description", "semantic_hash")
        ),
        sa.Column("was_repeat", sa.Integer, nullable=False, server_default="0"),
        _text("corrected_by_rule"),
        *(
            _text(n)
            for n in (
                "related_concepts",
                "relation_to_prior",
                "resolution_action",
                "context",
                "severity",
                "rules_consulted",
            )
        ),
        sa.Index("idx_mistakes_session", "project_id", "session_id"),
        sa.Index("idx_mistakes_hash", "project_id", "semantic_hash"),
    )
    sa.Table(
        "bandit_arms",
        md,
        _project_fk(primary_key=True),
        sa.Column("context", sa.Text, primary_key=True),
        sa.Column("rule_id", sa.Text, primary_key=True),
        sa.Column("alpha", sa.Float, nullable=False, server_default="1.0"),
        sa.Column("beta", sa.Float, nullable=False, server_default="1.0"),
        sa.Column("is_seed", sa.Integer, nullable=False, server_default="0"),
        _stamp("updated_at"),
        sa.Index("idx_bandit_context", "project_id", "context"),
    )
    sa.Table(
        "gauntlet_rules",
        md,
        sa.Column("rule_id", sa.Text, primary_key=True),
        *(_required(n) for n in ("persona", "rule", "category")),
        *(_required(n, server_default="") for n in ("context", "antipattern", "rationale")),
        _required("tags", server_default="[]"),
        _text("refs", server_default="[]"),
        _text("provenance"),
        sa.Column("version", sa.Integer, nullable=False, server_default="1"),
        sa.Column("active", sa.Integer, nullable=False, server_default="1"),
        _stamp("created_at"),
        _stamp("updated_at"),
        _text("seed_file_hash"),
        _text("seed_filename"),
        sa.Index("idx_gauntlet_rules_persona", "persona"),
        sa.Index("idx_gauntlet_rules_active", "active"),
    )
    sa.Table(
        "emission_edges",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        *(_required(n) for n in ("source_id", "target_id", "relation_type")),
        sa.Column("confidence", sa.Float),
        *(_required(n) for n in ("artifact_type", "project_id", "emitted_at", "consumed_at")),
        _text("properties"),
        sa.UniqueConstraint("source_id", "target_id", "relation_type", "emitted_at"),
        sa.Index("idx_emission_edges_relation", "relation_type"),
        sa.Index("idx_emission_edges_target", "target_id"),
        sa.Index("idx_emission_edges_project", "project_id"),
        sqlite_autoincrement=True,
    )
    sa.Table(
        "gauntlet_credits",
        md,
        _project_fk(primary_key=True),
        sa.Column("timestamp", sa.Text, primary_key=True),
        sa.Column("iteration", sa.Integer, nullable=False),
        _required("rules"),
        sa.Index("idx_gauntlet_credits_ts", "project_id", sa.text("timestamp DESC")),
    )
    sa.Table(
        "posterior_snapshots",
        md,
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        _project_fk(),
        _required("timestamp"),
        _required("rule_id"),
        *(sa.Column(n, sa.Float, nullable=False) for n in ("alpha", "beta", "mean")),
        _required("trigger"),
        sa.Column("iteration", sa.Integer),
        _text("batch_id"),
        sa.Index("idx_posterior_snapshots_rule", "project_id", "rule_id", "timestamp"),
        sa.Index("idx_posterior_snapshots_ts", "project_id", sa.text("timestamp DESC")),
        sa.Index("idx_posterior_snapshots_batch", "project_id", "batch_id"),
        sqlite_autoincrement=True,
    )
    return md
