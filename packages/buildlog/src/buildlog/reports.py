"""Experiment metrics and reports (how often mistakes repeat, per session and overall), the
reward summary and the project overview.

The same numbers, keys and order as the original's ``buildlog experiment metrics``,
``experiment report`` and ``rewards --json``, computed from the project's records.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from buildlog.backends.protocol import StorageBackend
from buildlog.records import Mistake, RewardEvent, Session
from storage_core.errors import NotFound

__all__ = ["experiment_report", "overview", "reward_summary", "session_metrics"]


def _rate(repeated: int, total: int) -> float:
    return repeated / total if total > 0 else 0.0


def _load(backend: StorageBackend) -> tuple[list[Session], list[Mistake]]:
    sessions = [s for s in backend.load_events("sessions") if isinstance(s, Session)]
    mistakes = [m for m in backend.load_events("mistakes") if isinstance(m, Mistake)]
    return sessions, mistakes


def session_metrics(backend: StorageBackend, session_id: str | None = None) -> dict[str, Any]:
    """Mistakes, repeats, the repeat rate and the rule counts of one finished session, or of
    all of them (``session_id`` None: ``"aggregate"``, rules from the first session's start
    to the last one's end).

    Raises:
        NotFound: no finished session has that id.
    """
    sessions, mistakes = _load(backend)
    if session_id is not None:
        session = next((s for s in sessions if s.id == session_id), None)
        if session is None:
            raise NotFound("session", session_id)
        mistakes = [m for m in mistakes if m.session_id == session_id]
        start, end = session.rules_at_start, session.rules_at_end
    else:
        start = sessions[0].rules_at_start if sessions else []
        end = sessions[-1].rules_at_end if sessions else []
    repeated = sum(1 for m in mistakes if m.was_repeat)
    return {
        "session_id": session_id or "aggregate",
        "total_mistakes": len(mistakes),
        "repeated_mistakes": repeated,
        "repeated_mistake_rate": _rate(repeated, len(mistakes)),
        "rules_at_start": len(start),
        "rules_at_end": len(end),
        "rules_added": len(end) - len(start),
    }


def experiment_report(backend: StorageBackend) -> dict[str, Any]:
    """The summary over all sessions, each session's numbers, and mistakes per error class."""
    sessions, mistakes = _load(backend)
    per_session = []
    for session in sessions:
        owned = [m for m in mistakes if m.session_id == session.id]
        repeated = sum(1 for m in owned if m.was_repeat)
        per_session.append(
            {
                "session_id": session.id,
                "started_at": _iso(session.started_at),
                "error_class": session.error_class,
                "total_mistakes": len(owned),
                "repeated_mistakes": repeated,
                "repeated_mistake_rate": _rate(repeated, len(owned)),
                "rules_added": len(session.rules_at_end) - len(session.rules_at_start),
            }
        )
    classes: dict[str, dict[str, int]] = {}
    for mistake in mistakes:
        counts = classes.setdefault(mistake.error_class, {"total": 0, "repeated": 0})
        counts["total"] += 1
        counts["repeated"] += int(mistake.was_repeat)
    repeated = sum(1 for m in mistakes if m.was_repeat)
    return {
        "summary": {
            "total_sessions": len(sessions),
            "total_mistakes": len(mistakes),
            "total_repeated": repeated,
            "overall_repeat_rate": _rate(repeated, len(mistakes)),
        },
        "sessions": per_session,
        "error_classes": classes,
    }


def _iso(stamp: str) -> str:
    """The time as the original prints it (parsed, then ``isoformat()``)."""
    try:
        return datetime.fromisoformat(stamp).isoformat()
    except ValueError:
        return stamp


def reward_summary(
    backend: StorageBackend, *, limit: int | None = None, session_id: str | None = None
) -> dict[str, Any]:
    """The original's ``rewards --json`` object: counts and the mean reward over the project's
    rewards (of one session, when given), and the events newest first (the newest ``limit``).

    Each event has the original's keys: the optional ones only when set. Like the original,
    a reward whose time cannot be read is left out of the counts and the events.
    """
    events: list[tuple[datetime, RewardEvent]] = []
    for event in backend.load_events("rewards"):
        if not isinstance(event, RewardEvent):
            continue
        if session_id is not None and event.session_id != session_id:
            continue
        try:
            stamp = datetime.fromisoformat(event.timestamp)
        except ValueError:
            continue
        events.append((stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC), event))
    total = len(events)
    outcomes = [event.outcome for _, event in events]
    mean = sum(event.reward_value for _, event in events) / total if total else 0.0
    events.sort(key=lambda pair: pair[0], reverse=True)
    if limit is not None:
        events = events[:limit]
    return {
        "total_events": total,
        "accepted": outcomes.count("accepted"),
        "revisions": outcomes.count("revision"),
        "rejected": outcomes.count("rejected"),
        "mean_reward": mean,
        "events": [_reward_dict(stamp, event) for stamp, event in events],
    }


def _reward_dict(stamp: datetime, event: RewardEvent) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": event.id,
        "timestamp": stamp.isoformat(),
        "outcome": event.outcome,
        "reward_value": event.reward_value,
        "rules_active": event.rules_active,
    }
    for name in ("revision_distance", "error_class", "notes", "source", "session_id"):
        value = getattr(event, name)
        if value is not None:
            row[name] = value
    return row


def overview(backend: StorageBackend, project_root: Path) -> dict[str, Any]:
    """The project at a glance: the original's ``overview`` keys that storage knows
    (``initialized``: a ``buildlog/`` folder exists; ``entries``: its dated journal entries;
    promoted and rejected skills; the running session), and the number of records of each
    kind, the bandit arms and the learnings."""
    folder = project_root / "buildlog"
    entries = sorted(folder.glob("20??-??-??-*.md")) if folder.is_dir() else []
    promoted = len(backend.load_skill_decisions("promoted"))
    rejected = len(backend.load_skill_decisions("rejected"))
    active = backend.load_active_session()
    return {
        "initialized": folder.is_dir(),
        "entries": len(entries),
        "skills": {"promoted": promoted, "rejected": rejected},
        "active_session": None if active is None else active.id,
        "records": {
            "rewards": backend.count_events("rewards"),
            "sessions": backend.count_events("sessions"),
            "mistakes": backend.count_events("mistakes"),
            "learnings": len(backend.load_learnings()),
            "bandit_arms": len(backend.load_bandit_state()),
        },
        "backend": backend.kind,
        "project_id": backend.project_id,
    }
