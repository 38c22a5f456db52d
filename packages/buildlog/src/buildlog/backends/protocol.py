"""The StorageBackend protocol: everything buildlog stores for one project.

Two implementations: :class:`~buildlog.backends.sqlite.SQLiteBackend` (the global database,
read-write) and :class:`~buildlog.backends.legacy.LegacyBackend` (the original's per-project
files, read-only). A backend is bound to one project; nothing it returns belongs to another
project, except :meth:`StorageBackend.list_projects`, which is the registry itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

from buildlog.records import (
    BanditArm,
    Learning,
    Mistake,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    SkillDecision,
)

__all__ = [
    "EVENT_KINDS",
    "Decision",
    "EventKind",
    "EventRecord",
    "ProjectInfo",
    "StorageBackend",
]

EventKind = Literal["rewards", "sessions", "mistakes"]
EVENT_KINDS: tuple[EventKind, ...] = ("rewards", "sessions", "mistakes")
Decision = Literal["promoted", "rejected"]
EventRecord = RewardEvent | Session | Mistake


@dataclass(frozen=True)
class ProjectInfo:
    """One row of the project registry.

    Attributes:
        id: the 12-hex project id.
        name: the project folder's name.
        path: the latest path the project was used from.
        id_source: ``git-remote`` or ``path`` (None for rows the original tool wrote).
        created_at: first registration (ISO 8601 text).
        updated_at: last change of the row (ISO 8601 text).
    """

    id: str
    name: str
    path: str
    id_source: str | None
    created_at: str | None
    updated_at: str | None


@runtime_checkable
class StorageBackend(Protocol):
    """What buildlog stores for one project.

    Event appends are idempotent by record id: appending a record whose id is stored already
    changes nothing and is not counted. Write methods of a read-only backend raise
    :class:`~buildlog.errors.ReadOnlyBackend`.
    """

    @property
    def kind(self) -> str:
        """``"sqlite"``, ``"postgresql"`` or ``"legacy"``."""
        ...

    @property
    def project_id(self) -> str:
        """The project this backend is bound to."""
        ...

    def close(self) -> None:
        """Release connections; the backend must not be used afterwards."""
        ...

    # -- registry ---------------------------------------------------------------------------
    def list_projects(self) -> list[ProjectInfo]:
        """Every registered project, by name."""
        ...

    # -- id sets ----------------------------------------------------------------------------
    def load_skill_decisions(self, decision: Decision | None = None) -> list[SkillDecision]:
        """The project's promoted and/or rejected skills, by skill id."""
        ...

    def decide_skills(
        self, decision: Decision, skill_ids: Iterable[str], metadata: object = None
    ) -> int:
        """Promote or reject skills (one decision per skill: it replaces the other one).

        Returns:
            How many skills changed.
        """
        ...

    def known_skill_ids(self) -> set[str]:
        """Every skill id the project knows: its learnings, decisions, bandit arms and
        gauntlet rules (a promotion of anything else is a typo)."""
        ...

    def latest_credited_rules(self) -> list[str] | None:
        """The rules of the project's latest ``gauntlet_credits`` row, None without one."""
        ...

    # -- learnings --------------------------------------------------------------------------
    def load_learnings(self) -> dict[str, Learning]:
        """The project's learnings by id."""
        ...

    def save_learnings(self, learnings: Iterable[Learning]) -> None:
        """Insert or update learnings (nothing is deleted)."""
        ...

    def load_review_history(self) -> list[ReviewHistoryEntry]:
        """The review history, oldest first."""
        ...

    def append_review_history(self, entries: Iterable[ReviewHistoryEntry]) -> int:
        """Append history entries; an entry whose timestamp is known is skipped.

        Returns:
            How many were added.
        """
        ...

    # -- active session ---------------------------------------------------------------------
    def load_active_session(self) -> Session | None:
        """The running session, if any."""
        ...

    def save_active_session(self, session: Session, *, replace: bool = True) -> None:
        """Store the running session.

        Args:
            session: the session.
            replace: replace a running one; when false, refuse atomically (of two processes
                starting a session at once, exactly one succeeds).

        Raises:
            AlreadyExists: ``replace`` is false and a session is running.
        """
        ...

    def delete_active_session(self) -> None:
        """Forget the running session."""
        ...

    # -- events -----------------------------------------------------------------------------
    def append_events(self, kind: EventKind, records: Iterable[EventRecord]) -> int:
        """Append rewards, sessions or mistakes, idempotently by id.

        Returns:
            How many were new.
        """
        ...

    def load_events(self, kind: EventKind, *, limit: int | None = None) -> list[EventRecord]:
        """The project's events of one kind, oldest first (the newest ``limit`` if given)."""
        ...

    def count_events(self, kind: EventKind) -> int:
        """How many events of one kind the project has."""
        ...

    # -- bandit -----------------------------------------------------------------------------
    def load_bandit_state(self) -> list[BanditArm]:
        """Every arm of the project, by context and rule id."""
        ...

    def save_bandit_state(self, arms: Iterable[BanditArm]) -> None:
        """Replace the project's arms with ``arms``."""
        ...

    def update_arm(self, context: str, rule_id: str, reward: float) -> BanditArm:
        """Add one observation to an arm (created at alpha = beta = 1 when new).

        ``alpha += reward`` and ``beta += 1 - reward``: a success is reward 1.0, a failure
        0.0, a revision anything between.

        Returns:
            The arm after the update.
        """
        ...
