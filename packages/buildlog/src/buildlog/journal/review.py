"""``status`` and ``diff``: the journal's skills against the project's stored decisions, as
the original's ``core/operations.py`` reports them (same keys, same order)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildlog.journal.confidence import LEVELS, Level
from buildlog.journal.entries import JOURNAL_DIR
from buildlog.journal.skills import SkillSet, generate_skills

if TYPE_CHECKING:
    from buildlog.backends.protocol import StorageBackend
    from buildlog.records import Decision

__all__ = [
    "UNINITIALIZED_DIFF",
    "UNINITIALIZED_STATUS",
    "journal_exists",
    "journal_skill_ids",
    "project_skills",
    "skill_diff",
    "skill_status",
]

#: What the original prints (``--json``) for a project without a ``buildlog/`` folder.
UNINITIALIZED_STATUS: dict[str, Any] = {
    "initialized": False, "total_skills": 0, "total_entries": 0, "skills": {},
    "by_confidence": {"high": 0, "medium": 0, "low": 0}, "promotable_ids": [], "error": None,
}  # fmt: skip
UNINITIALIZED_DIFF: dict[str, Any] = {
    "initialized": False, "pending": {}, "total_pending": 0, "already_promoted": 0,
    "already_rejected": 0, "error": None,
}  # fmt: skip


def journal_exists(project_root: Path) -> bool:
    """Whether the project has a journal folder (the original's "initialized")."""
    return (project_root / JOURNAL_DIR).exists()


def project_skills(project_root: Path, backend: StorageBackend, **options: Any) -> SkillSet:
    """The project's skills: its journal's, merged with its stored review learnings.

    Args:
        project_root: the folder holding ``buildlog/``.
        backend: the project's storage, for its learnings.
        options: passed on to :func:`~buildlog.journal.skills.generate_skills`
            (``min_frequency``, ``since``).
    """
    return generate_skills(project_root, learnings=backend.load_learnings(), **options)


def journal_skill_ids(project_root: Path) -> set[str]:
    """The ids of the skills the project's journal yields (what ``promote`` accepts beyond
    the stored ones); empty without a journal."""
    if not journal_exists(project_root):
        return set()
    return {skill.id for skill in generate_skills(project_root).all()}


@dataclass(slots=True)
class StatusReport:
    """The original's ``StatusResult``; :meth:`to_dict` is its JSON."""

    skills: dict[str, list[dict[str, Any]]]
    total_entries: int
    total_skills: int
    by_confidence: dict[str, int]
    promotable_ids: list[str]
    message: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields in the original's order."""
        return asdict(self)


@dataclass(slots=True)
class DiffReport:
    """The original's ``DiffResult``; :meth:`to_dict` is its JSON."""

    pending: dict[str, list[dict[str, Any]]]
    total_pending: int
    already_promoted: int
    already_rejected: int
    message: str = ""
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """The fields in the original's order."""
        return asdict(self)


def _decided(backend: StorageBackend, decision: Decision) -> set[str]:
    return {d.skill_id for d in backend.load_skill_decisions(decision)}


def skill_status(
    project_root: Path, backend: StorageBackend, min_confidence: Level = "low"
) -> StatusReport:
    """The project's skills that are not rejected, at ``min_confidence`` or above.

    The counts by level and the promotable (high) ids cover every level, whatever
    ``min_confidence`` shows, as in the original.
    """
    skill_set = project_skills(project_root, backend)
    rejected = _decided(backend, "rejected")
    floor = LEVELS.index(min_confidence)
    shown: dict[str, list[dict[str, Any]]] = {}
    counts = {"high": 0, "medium": 0, "low": 0}
    promotable: list[str] = []
    for category, skills in skill_set.skills.items():
        kept = [s for s in skills if s.id not in rejected]
        for skill in kept:
            counts[skill.confidence] += 1
            if skill.confidence == "high":
                promotable.append(skill.id)
        listed = [s.to_dict() for s in kept if LEVELS.index(s.confidence) >= floor]
        if listed:
            shown[category] = listed
    total = sum(counts.values())
    parts = [f"{total} skills from {skill_set.source_entries} entries"]
    if promotable:
        parts.append(f"{len(promotable)} ready to promote")
    return StatusReport(
        shown, skill_set.source_entries, total, counts, promotable, " | ".join(parts)
    )


def skill_diff(project_root: Path, backend: StorageBackend) -> DiffReport:
    """The project's skills neither promoted nor rejected yet, and how many ids are each.

    The two counts are of every stored decision of the project, journal skill or not.
    """
    skill_set = project_skills(project_root, backend)
    rejected = _decided(backend, "rejected")
    promoted = _decided(backend, "promoted")
    pending: dict[str, list[dict[str, Any]]] = {}
    for category, skills in skill_set.skills.items():
        listed = [s.to_dict() for s in skills if s.id not in rejected and s.id not in promoted]
        if listed:
            pending[category] = listed
    total = sum(len(skills) for skills in pending.values())
    message = f"{total} pending | {len(promoted)} promoted | {len(rejected)} rejected"
    return DiffReport(pending, total, len(promoted), len(rejected), message)
