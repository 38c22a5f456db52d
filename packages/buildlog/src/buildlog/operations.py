"""Recording operations over any backend: what the ``buildlog`` commands do.

Each function takes a :class:`~buildlog.backends.protocol.StorageBackend`, builds records
with the original's ids and derived values (:mod:`buildlog.identifiers`) and stores them.
On the read-only legacy backend every write raises
:class:`~buildlog.errors.ReadOnlyBackend`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from buildlog.backends.protocol import StorageBackend
from buildlog.errors import InvalidRecord
from buildlog.identifiers import (
    OUTCOMES,
    format_timestamp,
    is_similar_description,
    mistake_id,
    reward_id,
    reward_value,
    rule_id,
    semantic_hash,
    session_id,
    utc_now,
)
from buildlog.records import (
    Learning,
    Mistake,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    check_text,
)
from storage_core.errors import AlreadyExists, NotFound

__all__ = [
    "GENERAL_CONTEXT",
    "LearningResult",
    "add_learning",
    "end_experiment",
    "log_mistake",
    "record_reward",
    "start_experiment",
]

GENERAL_CONTEXT = "general"
AUTO_END_SOURCE = "auto:end_session"


def _promoted(backend: StorageBackend) -> list[str]:
    return [d.skill_id for d in backend.load_skill_decisions("promoted")]


def record_reward(
    backend: StorageBackend,
    outcome: str,
    *,
    revision_distance: float | None = None,
    rules: Sequence[str] | None = None,
    notes: str | None = None,
    session: str | None = None,
    error_class: str | None = None,
    source: str = "cli",
) -> RewardEvent:
    """Record the outcome of a piece of work and credit the rules that were active.

    Args:
        backend: where to store it.
        outcome: ``accepted``, ``revision`` or ``rejected``.
        revision_distance: for revisions, how far the result was from the proposal (0-1).
        rules: the active rules (default, as the original: the rules of the project's latest
            gauntlet credit; without one, the running session's selected rules).
        notes: free text.
        session: the session id (default: the running session, if any).
        error_class: the bandit context (default: the running session's, else ``general``).
        source: who recorded it.

    Returns:
        The stored reward.

    Raises:
        InvalidRecord: unknown outcome, or a distance outside 0-1.
    """
    if outcome not in OUTCOMES:
        raise InvalidRecord("reward", f"outcome must be one of {', '.join(OUTCOMES)}: {outcome!r}")
    if revision_distance is not None and not 0.0 <= revision_distance <= 1.0:
        raise InvalidRecord("reward", f"distance must be between 0 and 1: {revision_distance}")
    check_text("notes", notes)
    check_text("error class", error_class)
    check_text("source", source, required=True)
    for rule in rules or ():
        check_text("rule id", rule, required=True)
    active = backend.load_active_session()
    if session is not None:
        check_text("session id", session, required=True)
        _require_session(backend, session, active)
    if rules is None:
        rules = backend.latest_credited_rules()
    if rules is None:
        rules = list(active.selected_rules) if active else []
    timestamp = format_timestamp()
    event = RewardEvent(
        id=reward_id(outcome, timestamp),
        timestamp=timestamp,
        outcome=outcome,
        reward_value=reward_value(outcome, revision_distance),
        rules_active=list(rules),
        revision_distance=revision_distance,
        error_class=error_class or (active.error_class if active else None),
        notes=notes,
        source=source,
        session_id=session or (active.id if active else None),
    )
    while backend.append_events("rewards", [event]) == 0:
        # Another process recorded the same outcome in the same microsecond: the id (a hash
        # of outcome and timestamp) is taken, so this reward moves on by a microsecond.
        timestamp = format_timestamp(datetime.fromisoformat(event.timestamp) + _MICROSECOND)
        event.timestamp, event.id = timestamp, reward_id(outcome, timestamp)
    context = event.error_class or GENERAL_CONTEXT
    for rule in event.rules_active:
        backend.update_arm(context, rule, event.reward_value)
    return event


_MICROSECOND = timedelta(microseconds=1)


def _require_session(backend: StorageBackend, session: str, active: Session | None) -> None:
    """Refuse a reward for a session the project does not have (a typo loses the link)."""
    if active is not None and active.id == session:
        return
    if any(record.id == session for record in backend.load_events("sessions")):
        return
    raise NotFound(
        "session",
        session,
        f"no session {session!r} in this project (see 'buildlog sessions')",
    )


def start_experiment(
    backend: StorageBackend, *, error_class: str | None = None, notes: str | None = None
) -> Session:
    """Start a session; the promoted skills are its rules.

    Raises:
        AlreadyExists: a session is running already.
    """
    check_text("error class", error_class)
    check_text("notes", notes)
    running = backend.load_active_session()
    if running is not None:
        raise AlreadyExists(
            "session",
            running.id,
            f"an experiment is already running ({running.id}); end it with "
            "'buildlog experiment end' first",
        )
    started = utc_now()
    rules = _promoted(backend)
    session = Session(
        id=session_id(started),
        started_at=format_timestamp(started),
        rules_at_start=rules,
        selected_rules=list(rules),
        error_class=error_class,
        notes=notes,
    )
    # Checked again atomically: another process may have started one since the check above.
    backend.save_active_session(session, replace=False)
    return session


def _require_active(backend: StorageBackend) -> Session:
    session = backend.load_active_session()
    if session is None:
        raise NotFound(
            "session",
            backend.project_id,
            "no experiment is running; start one with 'buildlog experiment start'",
        )
    return session


def end_experiment(
    backend: StorageBackend, *, entry_file: str | None = None, notes: str | None = None
) -> tuple[Session, RewardEvent | None]:
    """End the running session; without a linked reward, log an automatic revision (0.5).

    Returns:
        The finished session and the automatic reward, if one was logged.

    Raises:
        NotFound: no session is running.
    """
    check_text("entry file", entry_file)
    check_text("notes", notes)
    session = _require_active(backend)
    session.ended_at = format_timestamp()
    session.rules_at_end = _promoted(backend)
    session.entry_file = entry_file or session.entry_file
    if notes:
        session.notes = f"{session.notes}\n{notes}" if session.notes else notes
    auto = None
    rewards = backend.load_events("rewards")
    if not any(getattr(r, "session_id", None) == session.id for r in rewards):
        auto = record_reward(
            backend,
            "revision",
            revision_distance=0.5,
            session=session.id,
            source=AUTO_END_SOURCE,
        )
    backend.append_events("sessions", [session])
    backend.delete_active_session()
    return session, auto


def log_mistake(
    backend: StorageBackend,
    *,
    error_class: str,
    description: str,
    rule: str | None = None,
) -> Mistake:
    """Log a mistake in the running session; its selected rules get reward 0.

    ``was_repeat`` is set when a mistake of another session with the same error class has
    the same semantic hash or a similar description.

    Raises:
        NotFound: no session is running.
    """
    check_text("error class", error_class, required=True)
    check_text("mistake description", description, required=True)
    check_text("rule id", rule)
    session = _require_active(backend)
    now = utc_now()
    digest = semantic_hash(description)
    earlier = [
        m
        for m in backend.load_events("mistakes")
        if isinstance(m, Mistake) and m.session_id != session.id and m.error_class == error_class
    ]
    repeat = any(
        m.semantic_hash == digest or is_similar_description(description, m.description)
        for m in earlier
    )
    mistake = Mistake(
        id=mistake_id(error_class, now),
        session_id=session.id,
        timestamp=format_timestamp(now),
        error_class=error_class,
        description=description,
        semantic_hash=digest,
        was_repeat=repeat,
        corrected_by_rule=rule,
        rules_consulted=list(session.selected_rules),
    )
    backend.append_events("mistakes", [mistake])
    for selected in session.selected_rules:
        backend.update_arm(error_class, selected, 0.0)
    return mistake


@dataclass(frozen=True)
class LearningResult:
    """A learning after :func:`add_learning`, and whether it existed before."""

    learning: Learning
    reinforced: bool


def add_learning(
    backend: StorageBackend, *, rule: str, category: str, severity: str, source: str
) -> LearningResult:
    """Add a learning; the same rule text (case-insensitive) again reinforces it.

    A review history entry records the addition.
    """
    check_text("learning rule", rule, required=True)
    check_text("learning category", category, required=True)
    check_text("learning severity", severity, required=True)
    check_text("learning source", source, required=True)
    now = format_timestamp()
    learning_id = rule_id(rule, category)
    known = backend.load_learnings().get(learning_id)
    if known is None:
        learning = Learning(learning_id, rule, category, severity, source, now, now)
    else:
        learning = known
        learning.reinforcement_count += 1
        learning.last_reinforced = now
    backend.save_learnings([learning])
    backend.append_review_history(
        [
            ReviewHistoryEntry(
                timestamp=now,
                source=source,
                issues_count=1,
                new_learning_ids=[] if known else [learning_id],
                reinforced_learning_ids=[learning_id] if known else [],
            )
        ]
    )
    return LearningResult(learning, reinforced=known is not None)
