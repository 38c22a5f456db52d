"""The tables ``buildlog export`` writes and ``buildlog import`` reads: one file each."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from buildlog.errors import UnknownTable
from buildlog.records import (
    BanditArm,
    EmissionEdge,
    GauntletCredit,
    GauntletRule,
    Learning,
    Mistake,
    PosteriorSnapshot,
    RewardEvent,
    Session,
    SkillDecision,
)

__all__ = ["TABLES", "TableSpec", "parse_tables", "table_spec"]

# The original's six, then every other table it writes.
TABLES = (
    "rewards",
    "sessions",
    "mistakes",
    "bandit_state",
    "learnings",
    "skill_decisions",
    "posterior_snapshots",
    "gauntlet_credits",
    "emission_edges",
    "gauntlet_rules",
)


@dataclass(frozen=True)
class TableSpec:
    """How one exportable table maps to its SQL table and records.

    Attributes:
        name: the export name (``rewards``...).
        table: the SQL table name.
        record: the record class of a row.
        order: the columns that give a stable order (after ``project_id``).
        scoped: whether rows belong to a project (``project_id``); gauntlet rules belong to
            every project, so every export carries them.
    """

    name: str
    table: str
    record: type[Any]
    order: tuple[str, ...]
    scoped: bool = True

    @property
    def filename(self) -> str:
        """The export file name."""
        return f"{self.name}.jsonl"


_SPECS = {
    spec.name: spec
    for spec in (
        TableSpec("rewards", "reward_events", RewardEvent, ("timestamp", "id")),
        TableSpec("sessions", "sessions", Session, ("started_at", "id")),
        TableSpec("mistakes", "mistakes", Mistake, ("timestamp", "id")),
        TableSpec("bandit_state", "bandit_arms", BanditArm, ("context", "rule_id")),
        TableSpec("learnings", "review_learnings", Learning, ("id",)),
        TableSpec("skill_decisions", "skill_decisions", SkillDecision, ("skill_id",)),
        TableSpec(
            "posterior_snapshots",
            "posterior_snapshots",
            PosteriorSnapshot,
            ("timestamp", "rule_id", "id"),
        ),
        TableSpec("gauntlet_credits", "gauntlet_credits", GauntletCredit, ("timestamp",)),
        TableSpec("emission_edges", "emission_edges", EmissionEdge, ("emitted_at", "id")),
        TableSpec(
            "gauntlet_rules",
            "gauntlet_rules",
            GauntletRule,
            ("persona", "rule_id"),
            scoped=False,
        ),
    )
}


def table_spec(name: str) -> TableSpec:
    """The spec of an exportable table.

    Raises:
        UnknownTable: the name is not one of :data:`TABLES`.
    """
    try:
        return _SPECS[name]
    except KeyError:
        raise UnknownTable(name, TABLES) from None


def parse_tables(value: str | Sequence[str] | None) -> list[str]:
    """Table names from ``--tables`` (comma-separated, repeatable); all tables by default.

    Raises:
        UnknownTable: a name is not exportable.
    """
    if value is None:
        return list(TABLES)
    items = value.split(",") if isinstance(value, str) else [p for v in value for p in v.split(",")]
    names = [item.strip() for item in items if item.strip()]
    for name in names:
        table_spec(name)
    return list(dict.fromkeys(names)) or list(TABLES)
