"""Skills: the journal's merged insights and the project's review learnings, with the
original's ids, tags, levels and order."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from buildlog.journal.confidence import (
    ContinuousConfig,
    Level,
    confidence_level,
    confidence_score,
    confidence_tier,
)
from buildlog.journal.entries import CATEGORIES, distill
from buildlog.journal.similarity import group_insights
from buildlog.records import Learning

__all__ = ["Skill", "SkillSet", "extract_tags", "generate_skills", "skill_id", "utc_stamp"]

_ID_PREFIXES = {"architectural": "arch", "workflow": "wf", "tool_usage": "tool",
                "domain_knowledge": "dk"}  # fmt: skip

_KNOWN_TAGS = frozenset(
    [
        "api",
        "http",
        "json",
        "yaml",
        "sql",
        "database",
        "cache",
        "redis",
        "supabase",
        "postgres",
        "mongodb",
        "git",
        "docker",
        "kubernetes",
        "aws",
        "gcp",
        "azure",
        "react",
        "python",
        "typescript",
        "javascript",
        "rust",
        "go",
        "test",
        "testing",
        "ci",
        "cd",
        "deploy",
        "error",
        "retry",
        "timeout",
        "auth",
        "jwt",
        "oauth",
        "plugin",
        "middleware",
        "async",
        "sync",
    ]
)
_TAG_VARIANTS = {
    "caching": "cache", "cached": "cache", "databases": "database", "tests": "test",
    "tested": "test", "pytest": "test", "unittest": "test", "deploying": "deploy",
    "deployed": "deploy", "deployment": "deploy", "errors": "error", "retries": "retry",
    "retrying": "retry",
}  # fmt: skip


def skill_id(category: str, rule: str) -> str:
    """The original's stable id: a category prefix (``sk`` for other categories) and the
    first 10 hex digits of the SHA-256 of the lower-cased rule, e.g. ``arch-7032b98afe``."""
    digest = hashlib.sha256(rule.lower().encode()).hexdigest()[:10]
    return f"{_ID_PREFIXES.get(category, 'sk')}-{digest}"


def extract_tags(rule: str) -> list[str]:
    """The known technology words of a rule (whole words, "-" and "_" split), sorted."""
    words = set(rule.lower().replace("-", " ").replace("_", " ").split())
    tags = {w for w in words if w in _KNOWN_TAGS}
    tags.update(_TAG_VARIANTS[w] for w in words if w in _TAG_VARIANTS)
    return sorted(tags)


def utc_stamp(now: datetime | None = None) -> str:
    """An instant as the original writes ``generated_at``: ISO 8601 with ``Z``."""
    return (now or datetime.now(UTC)).isoformat().replace("+00:00", "Z")


@dataclass(slots=True)
class Skill:
    """One actionable rule (the original's ``Skill``, without its LLM-only fields)."""

    id: str
    category: str
    rule: str
    frequency: int
    confidence: Level
    sources: list[str] = field(default_factory=list)
    tags: list[str] = field(default_factory=list)
    confidence_score: float | None = None
    confidence_tier: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The original's dict: the seven fields, the score and tier only when computed."""
        data: dict[str, Any] = {
            "id": self.id, "category": self.category, "rule": self.rule,
            "frequency": self.frequency, "confidence": self.confidence,
            "sources": self.sources, "tags": self.tags,
        }  # fmt: skip
        if self.confidence_score is not None:
            data["confidence_score"] = self.confidence_score
        if self.confidence_tier is not None:
            data["confidence_tier"] = self.confidence_tier
        return data


@dataclass(slots=True)
class SkillSet:
    """The skills of a project by category (the four journal categories first, then any
    category only review learnings use), with when and from how many entries."""

    generated_at: str
    source_entries: int
    skills: dict[str, list[Skill]] = field(default_factory=dict)

    @property
    def total_skills(self) -> int:
        """How many skills, in all categories."""
        return sum(len(skills) for skills in self.skills.values())

    def all(self) -> list[Skill]:
        """Every skill, category by category."""
        return [skill for skills in self.skills.values() for skill in skills]

    def to_dict(self) -> dict[str, Any]:
        """The original's dict, in its key order."""
        return {
            "generated_at": self.generated_at,
            "source_entries": self.source_entries,
            "total_skills": self.total_skills,
            "skills": {c: [s.to_dict() for s in skills] for c, skills in self.skills.items()},
        }


def _order(skills: list[Skill]) -> None:
    skills.sort(key=lambda s: (-s.frequency, s.rule))


def generate_skills(
    project_root: Path,
    *,
    min_frequency: int = 1,
    since: date | None = None,
    learnings: Mapping[str, Learning] | None = None,
    continuous: ContinuousConfig | None = None,
) -> SkillSet:
    """The project's skills, as the original's ``generate_skills`` makes them.

    Args:
        project_root: the folder holding the ``buildlog/`` journal.
        min_frequency: drop journal skills seen fewer times (review learnings are kept).
        since: only journal entries dated on or after this day.
        learnings: the project's review learnings by id (``backend.load_learnings()``);
            one whose id equals a journal skill's in the same category reinforces it,
            the others become skills of their own.
        continuous: also compute the continuous ``confidence_score`` and tier.
    """
    now = datetime.now(UTC)
    distilled = distill(project_root, since)
    by_category: dict[str, list[Skill]] = {}
    for category in CATEGORIES:
        skills = []
        for group in group_insights(distilled.patterns[category]):
            if group.frequency < min_frequency:
                continue
            skill = Skill(
                id=skill_id(category, group.rule),
                category=category,
                rule=group.rule,
                frequency=group.frequency,
                confidence=confidence_level(group.frequency, group.most_recent),
                sources=group.sources,
                tags=extract_tags(group.rule),
            )
            if continuous is not None:
                last = _midnight(group.most_recent) or now
                skill.confidence_score = confidence_score(group.frequency, last, 0, continuous, now)
                skill.confidence_tier = confidence_tier(skill.confidence_score, continuous)
            skills.append(skill)
        _order(skills)
        by_category[category] = skills
    for learning_id, learning in (learnings or {}).items():
        _merge_learning(by_category, learning_id, learning, continuous, now)
    for skills in by_category.values():
        _order(skills)
    return SkillSet(utc_stamp(now), distilled.entry_count, by_category)


def _midnight(day: date | None) -> datetime | None:
    return None if day is None else datetime(day.year, day.month, day.day, tzinfo=UTC)


def _instant(text: str | None, now: datetime) -> datetime:
    # As the original: naive means UTC, unreadable means now.
    try:
        parsed = datetime.fromisoformat(text or "")
    except (TypeError, ValueError):
        return now
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _merge_learning(
    by_category: dict[str, list[Skill]],
    learning_id: str,
    learning: Learning,
    continuous: ContinuousConfig | None,
    now: datetime,
) -> None:
    if not learning.rule:
        return
    category = learning.category
    frequency = learning.reinforcement_count
    skills = by_category.setdefault(category, [])
    for skill in skills:
        if skill.id == learning_id:
            # The same rule seen in reviews too: it counts more, its level stays as it was.
            skill.frequency += frequency
            skill.sources = [*skill.sources, learning.source]
            return
    last = _instant(learning.last_reinforced, now)
    skill = Skill(
        id=learning_id,
        category=category,
        rule=learning.rule,
        frequency=frequency,
        confidence=confidence_level(frequency, last.date()),
        sources=[learning.source],
        tags=extract_tags(learning.rule),
    )
    if continuous is not None:
        skill.confidence_score = confidence_score(
            frequency, last, learning.contradiction_count, continuous, now
        )
        skill.confidence_tier = confidence_tier(skill.confidence_score, continuous)
    skills.append(skill)
