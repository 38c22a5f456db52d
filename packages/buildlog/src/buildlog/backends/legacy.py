"""The read-only fallback over the original tool's per-project files.

Used when there is no global database but a project has legacy files (resolution case 3).
Every read parses the file again (they are small, and another tool may append to them);
malformed lines are skipped and remembered in :attr:`LegacyBackend.issues`. Every write
raises :class:`~buildlog.errors.ReadOnlyBackend`, which tells the user to run
``buildlog migrate``.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, NoReturn

from buildlog.backends.protocol import Decision, EventKind, EventRecord, ProjectInfo
from buildlog.errors import ReadOnlyBackend
from buildlog.legacy import LegacyLayout, LegacyRead, ReadIssue, read_legacy_file
from buildlog.project import ProjectIdentity
from buildlog.records import (
    BanditArm,
    Learning,
    ReviewHistoryEntry,
    Session,
    SkillDecision,
)

__all__ = ["LegacyBackend"]

_EVENT_FILES: dict[EventKind, str] = {
    "rewards": "reward_events.jsonl",
    "sessions": "sessions.jsonl",
    "mistakes": "mistakes.jsonl",
}


class LegacyBackend:
    """:class:`~buildlog.backends.protocol.StorageBackend` over legacy files, read-only.

    Args:
        layout: where the files are.
        identity: the project they belong to.
    """

    def __init__(self, layout: LegacyLayout, identity: ProjectIdentity) -> None:
        self._layout = layout
        self._identity = identity
        self._issues: dict[tuple[Path, int | None, str], ReadIssue] = {}

    @property
    def kind(self) -> str:
        """``"legacy"``."""
        return "legacy"

    @property
    def project_id(self) -> str:
        """The project id derived from the project folder."""
        return self._identity.id

    @property
    def layout(self) -> LegacyLayout:
        """Where the files are."""
        return self._layout

    @property
    def issues(self) -> list[ReadIssue]:
        """Malformed lines met by the reads so far (each reported once)."""
        return list(self._issues.values())

    def close(self) -> None:
        """Nothing to release."""

    def _read(self, path: Path) -> LegacyRead:
        if not path.is_file():
            return LegacyRead(path)
        result = read_legacy_file(path)
        for issue in result.issues:
            self._issues.setdefault((issue.path, issue.line, issue.reason), issue)
        return result

    def scan(self) -> dict[str, int]:
        """Read every pending file once; returns record counts by file name.

        Afterwards :attr:`issues` holds every malformed line of every file.
        """
        return {path.name: len(self._read(path).records) for path in self._layout.pending_files()}

    def _refuse(self, operation: str) -> NoReturn:
        raise ReadOnlyBackend(self._layout.data_dir, operation)

    # -- registry ---------------------------------------------------------------------------
    def list_projects(self) -> list[ProjectInfo]:
        """Only this project: legacy files know no other."""
        identity = self._identity
        return [
            ProjectInfo(identity.id, identity.name, str(identity.path), identity.source, None, None)
        ]

    # -- id sets ----------------------------------------------------------------------------
    def load_skill_decisions(self, decision: Decision | None = None) -> list[SkillDecision]:
        """Decisions from promoted.json and rejected.json; a later file wins per skill."""
        found: dict[str, SkillDecision] = {}
        for name in ("promoted", "rejected"):
            if decision is not None and name != decision:
                continue
            for record in self._read(self._layout.data_dir / f"{name}.json").records:
                assert isinstance(record, SkillDecision)
                found[record.skill_id] = record
        return [found[key] for key in sorted(found)]

    def decide_skills(
        self, decision: Decision, skill_ids: Iterable[str], metadata: object = None
    ) -> int:
        """Refused: read-only."""
        self._refuse(f"record {decision} skills")

    # -- learnings --------------------------------------------------------------------------
    def _learnings_file(self) -> LegacyRead:
        return self._read(self._layout.data_dir / "review_learnings.json")

    def load_learnings(self) -> dict[str, Learning]:
        """Learnings from review_learnings.json."""
        return {r.id: r for r in self._learnings_file().records if isinstance(r, Learning)}

    def save_learnings(self, learnings: Iterable[Learning]) -> None:
        """Refused: read-only."""
        self._refuse("save learnings")

    def load_review_history(self) -> list[ReviewHistoryEntry]:
        """History from review_learnings.json, in file order."""
        return [r for r in self._learnings_file().records if isinstance(r, ReviewHistoryEntry)]

    def append_review_history(self, entries: Iterable[ReviewHistoryEntry]) -> int:
        """Refused: read-only."""
        self._refuse("append review history")

    # -- active session ---------------------------------------------------------------------
    def known_skill_ids(self) -> set[str]:
        """The skill ids in the project's files: learnings, decisions and bandit arms."""
        known = set(self.load_learnings())
        known.update(decision.skill_id for decision in self.load_skill_decisions())
        known.update(arm.rule_id for arm in self.load_bandit_state())
        return known

    def latest_credited_rules(self) -> list[str] | None:
        """None: the original keeps gauntlet credits in its database only."""
        return None

    def load_active_session(self) -> Session | None:
        """The session in active_session.json, if any."""
        records = self._read(self._layout.data_dir / "active_session.json").records
        session = records[0] if records else None
        return session if isinstance(session, Session) else None

    def save_active_session(self, session: Session, *, replace: bool = True) -> None:
        """Refused: read-only."""
        self._refuse("start a session")

    def delete_active_session(self) -> None:
        """Refused: read-only."""
        self._refuse("end the session")

    # -- events -----------------------------------------------------------------------------
    def append_events(self, kind: EventKind, records: Iterable[EventRecord]) -> int:
        """Refused: read-only."""
        self._refuse(f"record {kind}")

    def load_events(self, kind: EventKind, *, limit: int | None = None) -> list[EventRecord]:
        """Events in file order; a repeated id keeps its first record (the database would)."""
        seen: dict[str, Any] = {}
        for record in self._read(self._layout.data_dir / _EVENT_FILES[kind]).records:
            seen.setdefault(getattr(record, "id"), record)  # noqa: B009 - any event kind
        records: list[EventRecord] = list(seen.values())
        return records if limit is None else records[max(len(records) - limit, 0) :]

    def count_events(self, kind: EventKind) -> int:
        """How many distinct events the file holds."""
        return len(self.load_events(kind))

    # -- bandit -----------------------------------------------------------------------------
    def load_bandit_state(self) -> list[BanditArm]:
        """The compacted arms of the bandit file, by context and rule id."""
        arms = [r for r in self._read(self._layout.bandit_file).records if isinstance(r, BanditArm)]
        return sorted(arms, key=lambda arm: (arm.context, arm.rule_id))

    def save_bandit_state(self, arms: Iterable[BanditArm]) -> None:
        """Refused: read-only."""
        self._refuse("save bandit state")

    def update_arm(self, context: str, rule_id: str, reward: float) -> BanditArm:
        """Refused: read-only."""
        self._refuse("update a bandit arm")
