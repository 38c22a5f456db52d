"""Idempotent merges of legacy records into the database, one file's records at a time.

Each function runs inside the caller's transaction and may run again on the same records
(after a crash, or after the user fixed a malformed line) without duplicating or degrading
anything:

* events (rewards, sessions, mistakes) and posterior snapshots: insert if absent;
* skill decisions: insert if the skill has none; a different decision already stored wins
  (the database is where decisions were made since) and is reported;
* learnings: insert, or update when the file's ``last_reinforced`` is newer;
* review history: append entries whose timestamp is unknown;
* the active session: stored when the project has none;
* bandit arms: insert, or update when the file's ``updated_at`` is newer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from buildlog.backends.rows import to_row
from buildlog.backends.sql import insert_ignore
from buildlog.backends.sqlite import EVENT_TABLES, append_history
from buildlog.identifiers import format_timestamp
from buildlog.legacy import Record
from buildlog.models import (
    active_sessions,
    bandit_arms,
    posterior_snapshots,
    review_learnings,
    skill_decisions,
)
from buildlog.records import (
    BanditArm,
    Learning,
    Mistake,
    PosteriorSnapshot,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    SkillDecision,
    record_to_dict,
)

__all__ = ["MergeResult", "merge_records", "snapshot_key"]


@dataclass
class MergeResult:
    """What merging one file changed.

    Attributes:
        added: records inserted.
        updated: records replaced by a newer version.
        unchanged: records the database already had (or kept in a newer version).
        warnings: conflicts resolved in the database's favour, one line each.
    """

    added: int = 0
    updated: int = 0
    unchanged: int = 0
    warnings: list[str] = field(default_factory=list)


def snapshot_key(snapshot: PosteriorSnapshot) -> str:
    """The identity of a posterior snapshot: SHA-256 of its canonical JSON."""
    canonical = json.dumps(record_to_dict(snapshot), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def merge_records(
    conn: Connection, project_id: str, file_name: str, records: Sequence[Record]
) -> MergeResult:
    """Merge the records of one legacy file (chosen by its name) into the database.

    Args:
        conn: a connection inside a write transaction.
        project_id: the project the records belong to (registered).
        file_name: the legacy file's name, which says what the records are.
        records: the file's valid records.

    Returns:
        What changed.
    """
    result = MergeResult()
    if file_name == "active_session.json":
        for session in records:
            assert isinstance(session, Session)
            _merge_active(conn, project_id, session, result)
        return result
    events = [r for r in records if isinstance(r, RewardEvent | Session | Mistake)]
    if events:
        table = next(t for t, cls, _ in EVENT_TABLES.values() if isinstance(events[0], cls))
        added = insert_ignore(conn, table, [to_row(r, project_id=project_id) for r in events])
        result.added += added
        result.unchanged += len(events) - added
    snapshots = [r for r in records if isinstance(r, PosteriorSnapshot)]
    if snapshots:
        _merge_snapshots(conn, project_id, snapshots, result)
    history = [r for r in records if isinstance(r, ReviewHistoryEntry)]
    if history:
        added = append_history(conn, project_id, history)
        result.added += added
        result.unchanged += len(history) - added
    for record in records:
        if isinstance(record, SkillDecision):
            _merge_decision(conn, project_id, record, file_name, result)
        elif isinstance(record, Learning):
            _merge_learning(conn, project_id, record, result)
        elif isinstance(record, BanditArm):
            _merge_arm(conn, project_id, record, result)
    return result


def _merge_snapshots(
    conn: Connection, project_id: str, snapshots: list[PosteriorSnapshot], result: MergeResult
) -> None:
    now = format_timestamp()
    rows = []
    for snapshot in snapshots:
        row = to_row(snapshot, project_id=project_id, record_key=snapshot_key(snapshot))
        # The original's database writer fills a missing timestamp the same way.
        row["timestamp"] = snapshot.timestamp or now
        rows.append(row)
    added = insert_ignore(conn, posterior_snapshots, rows)
    result.added += added
    result.unchanged += len(rows) - added


def _merge_decision(
    conn: Connection, project_id: str, record: SkillDecision, file_name: str, result: MergeResult
) -> None:
    where = sa.and_(
        skill_decisions.c.project_id == project_id, skill_decisions.c.skill_id == record.skill_id
    )
    stored = conn.execute(sa.select(skill_decisions.c.decision).where(where)).scalar_one_or_none()
    if stored is None:
        row = to_row(record, project_id=project_id)
        row["decided_at"] = record.decided_at or format_timestamp()
        conn.execute(skill_decisions.insert(), row)
        result.added += 1
        return
    result.unchanged += 1
    if stored != record.decision:
        result.warnings.append(
            f"{record.skill_id} is {stored} in the database but listed in {file_name}; "
            "kept the database's decision"
        )


def _merge_learning(
    conn: Connection, project_id: str, learning: Learning, result: MergeResult
) -> None:
    where = sa.and_(
        review_learnings.c.project_id == project_id, review_learnings.c.id == learning.id
    )
    stored = conn.execute(
        sa.select(review_learnings.c.last_reinforced).where(where)
    ).scalar_one_or_none()
    row = to_row(learning, project_id=project_id)
    if stored is None:
        conn.execute(review_learnings.insert(), row)
        result.added += 1
    elif learning.last_reinforced > stored:
        keep = ("project_id", "id", "first_seen", "category", "severity", "source")
        values = {k: v for k, v in row.items() if k not in keep}
        conn.execute(review_learnings.update().where(where).values(values))
        result.updated += 1
    else:
        result.unchanged += 1


def _merge_active(conn: Connection, project_id: str, session: Session, result: MergeResult) -> None:
    where = active_sessions.c.project_id == project_id
    stored = conn.execute(sa.select(active_sessions.c.data).where(where)).scalar_one_or_none()
    if stored is None:
        data = json.dumps(record_to_dict(session))
        conn.execute(
            active_sessions.insert(),
            {"project_id": project_id, "data": data, "created_at": format_timestamp()},
        )
        result.added += 1
        return
    result.unchanged += 1
    stored_id = json.loads(stored).get("id")
    if stored_id != session.id:
        result.warnings.append(
            f"the database has another active session ({stored_id}); kept it, "
            f"session {session.id} from active_session.json was not made active"
        )


def _merge_arm(conn: Connection, project_id: str, arm: BanditArm, result: MergeResult) -> None:
    where = sa.and_(
        bandit_arms.c.project_id == project_id,
        bandit_arms.c.context == arm.context,
        bandit_arms.c.rule_id == arm.rule_id,
    )
    stored = conn.execute(sa.select(bandit_arms).where(where)).mappings().first()
    row = to_row(arm, project_id=project_id)
    if stored is None:
        row["updated_at"] = arm.updated_at or format_timestamp()
        conn.execute(bandit_arms.insert(), row)
        result.added += 1
    elif arm.updated_at is not None and arm.updated_at > (stored["updated_at"] or ""):
        conn.execute(bandit_arms.update().where(where).values(row))
        result.updated += 1
    else:
        result.unchanged += 1
