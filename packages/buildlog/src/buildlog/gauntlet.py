"""The review gauntlet's storage: reviewer rules (``gauntlet_rules``, shared by every project)
and the rules each review credited (``gauntlet_credits``, per project).

Reading the rules gives the shapes of the original's ``buildlog gauntlet list`` and
``gauntlet rules``; recording a credit is what its gauntlet loop does after a review, and a
reward given without rules then credits the latest credit's rules.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from buildlog.backends.rows import from_row
from buildlog.identifiers import format_timestamp
from buildlog.records import GauntletCredit, GauntletRule, RecordError, check_text

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "PERSONAS",
    "Persona",
    "load_credits",
    "load_personas",
    "record_credit",
]

# The original's descriptions of its bundled personas; any other persona is "Custom persona".
PERSONAS = {
    "security_karen": "OWASP Top 10 security review",
    "test_terrorist": "Comprehensive testing coverage audit",
    "ruthless_reviewer": "Code quality and functional principles",
    "bragi": "Detect and flag LLM-ish prose patterns in markdown",
}


@dataclass
class Persona:
    """A reviewer persona with its active rules, in stored order.

    Attributes:
        name: the persona.
        version: the version of its latest stored rule (the seed file's version).
        rules: its active rules.
    """

    name: str
    version: int
    rules: list[GauntletRule]

    @property
    def description(self) -> str:
        """The original's description of the persona."""
        return PERSONAS.get(self.name, "Custom persona")

    def rules_as_dicts(self, *, references: bool = True) -> list[dict[str, Any]]:
        """The rules as the original's ``gauntlet rules`` prints them."""
        shown = []
        for rule in self.rules:
            row: dict[str, Any] = {
                "rule": rule.rule,
                "category": rule.category,
                "context": rule.context,
                "antipattern": rule.antipattern,
                "rationale": rule.rationale,
                "tags": list(rule.tags),
            }
            if references:
                refs = rule.refs if isinstance(rule.refs, list) else []
                row["references"] = [
                    {"url": ref.get("url"), "title": ref.get("title")}
                    for ref in refs
                    if isinstance(ref, dict)
                ]
            shown.append(row)
        return shown


def load_personas(engine: Engine, persona: str | None = None) -> dict[str, Persona]:
    """The personas with active rules (one persona when given), by name, in stored order."""
    import sqlalchemy as sa

    from buildlog.models import metadata

    table = metadata.tables["gauntlet_rules"]
    stored = sa.literal_column("rowid") if engine.dialect.name == "sqlite" else table.c.created_at
    query = sa.select(table).where(table.c.active == 1).order_by(table.c.persona, stored)
    if persona is not None:
        query = query.where(table.c.persona == persona)
    personas: dict[str, Persona] = {}
    with engine.connect() as conn:
        for row in conn.execute(query).mappings():
            rule = from_row(GauntletRule, row)
            found = personas.setdefault(rule.persona, Persona(rule.persona, rule.version, []))
            found.rules.append(rule)
            found.version = rule.version
    return personas


def load_credits(engine: Engine, project_id: str) -> list[GauntletCredit]:
    """The project's gauntlet credits, oldest first."""
    import sqlalchemy as sa

    from buildlog.models import metadata

    table = metadata.tables["gauntlet_credits"]
    query = sa.select(table).where(table.c.project_id == project_id).order_by(table.c.timestamp)
    with engine.connect() as conn:
        return [from_row(GauntletCredit, row) for row in conn.execute(query).mappings()]


def record_credit(
    engine: Engine, project_id: str, iteration: int, rules: list[str]
) -> GauntletCredit:
    """Record the rules a review credited (the latest credit is what a reward given without
    rules credits).

    Raises:
        RecordError: no rules, a blank rule id, or a negative iteration.
    """
    import sqlalchemy as sa

    from buildlog.models import metadata

    if not rules:
        raise RecordError("a credit needs at least one rule")
    for rule in rules:
        check_text("rule id", rule, required=True)
    if iteration < 0:
        raise RecordError(f"the iteration must be 0 or more, not {iteration}")
    # Sorted, as the original records them.
    credit = GauntletCredit(format_timestamp(), iteration, sorted(set(rules)))
    table = metadata.tables["gauntlet_credits"]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(table).values(
                project_id=project_id,
                timestamp=credit.timestamp,
                iteration=credit.iteration,
                rules=json.dumps(credit.rules),
            )
        )
    return credit
