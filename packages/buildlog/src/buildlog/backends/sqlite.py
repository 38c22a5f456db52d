"""The global database backend: every project's records in one SQLite file.

Each write is one transaction (``BEGIN IMMEDIATE`` on SQLite, so concurrent processes queue
on the busy timeout instead of failing); each query is filtered by the backend's project id.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from buildlog.backends.protocol import Decision, EventKind, EventRecord, ProjectInfo
from buildlog.backends.rows import decode_list, from_row, to_row
from buildlog.backends.sql import insert_ignore
from buildlog.errors import InvalidRecord
from buildlog.identifiers import format_timestamp
from buildlog.models import (
    active_sessions,
    bandit_arms,
    metadata,
    mistakes,
    projects,
    review_history,
    review_learnings,
    reward_events,
    sessions,
    skill_decisions,
)
from buildlog.records import (
    BanditArm,
    Learning,
    Mistake,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    SkillDecision,
    check_text,
    record_to_dict,
)
from storage_core.errors import AlreadyExists

__all__ = ["EVENT_TABLES", "SQLiteBackend"]

# kind -> (table, record class, time column)
EVENT_TABLES: dict[EventKind, tuple[sa.Table, type[EventRecord], str]] = {
    "rewards": (reward_events, RewardEvent, "timestamp"),
    "sessions": (sessions, Session, "started_at"),
    "mistakes": (mistakes, Mistake, "timestamp"),
}
_LEARNING_UPDATES = (
    "rule",
    "last_reinforced",
    "reinforcement_count",
    "contradiction_count",
    "functional_principle",
)


class SQLiteBackend:
    """:class:`~buildlog.backends.protocol.StorageBackend` over the global database.

    Args:
        engine: an engine for a database at the schema head (see :func:`buildlog.db.open_engine`).
        project_id: the project to read and write; it must be registered.
        owns_engine: dispose the engine on :meth:`close`.
    """

    def __init__(self, engine: Engine, project_id: str, *, owns_engine: bool = True) -> None:
        self._engine = engine
        self._project_id = project_id
        self._owns_engine = owns_engine

    @property
    def kind(self) -> str:
        """The database engine: ``"sqlite"``, or ``"postgresql"`` on a server."""
        return str(self._engine.dialect.name)

    @property
    def project_id(self) -> str:
        """The project this backend is bound to."""
        return self._project_id

    @property
    def engine(self) -> Engine:
        """The engine (for migrate, export and import, which work table by table)."""
        return self._engine

    def close(self) -> None:
        """Dispose the engine if this backend owns it."""
        if self._owns_engine:
            self._engine.dispose()

    def _read(self) -> Connection:
        # Reads take no write lock: a deferred BEGIN runs beside writers in WAL mode.
        return self._engine.connect().execution_options(sqlite_begin="DEFERRED")

    def _mine(self, table: sa.Table) -> sa.ColumnElement[bool]:
        return table.c.project_id == self._project_id

    # -- registry ---------------------------------------------------------------------------
    def list_projects(self) -> list[ProjectInfo]:
        """Every registered project, by name then id."""
        query = sa.select(projects).order_by(projects.c.name, projects.c.id)
        with self._read() as conn:
            return [
                ProjectInfo(
                    id=row.id,
                    name=row.name,
                    path=row.path,
                    id_source=row.id_source,
                    created_at=row.created_at,
                    updated_at=row.updated_at,
                )
                for row in conn.execute(query)
            ]

    # -- id sets ----------------------------------------------------------------------------
    def load_skill_decisions(self, decision: Decision | None = None) -> list[SkillDecision]:
        """The project's skill decisions, by skill id."""
        query = sa.select(skill_decisions).where(self._mine(skill_decisions))
        if decision is not None:
            query = query.where(skill_decisions.c.decision == decision)
        with self._read() as conn:
            rows = conn.execute(query.order_by(skill_decisions.c.skill_id)).mappings()
            return [from_row(SkillDecision, row) for row in rows]

    def decide_skills(
        self, decision: Decision, skill_ids: Iterable[str], metadata: object = None
    ) -> int:
        """Promote or reject skills; a skill has one decision, so the other one is replaced."""
        now = format_timestamp()
        changed = 0
        wanted = list(skill_ids)
        for skill_id in wanted:
            check_text("skill id", skill_id, required=True)
        with self._engine.begin() as conn:
            for skill_id in dict.fromkeys(wanted):
                where = sa.and_(self._mine(skill_decisions), skill_decisions.c.skill_id == skill_id)
                current = conn.execute(
                    sa.select(skill_decisions.c.decision).where(where)
                ).scalar_one_or_none()
                if current == decision:
                    continue
                row = to_row(
                    SkillDecision(skill_id, decision, now, now if metadata is None else metadata),
                    project_id=self._project_id,
                )
                if current is None:
                    conn.execute(skill_decisions.insert(), row)
                else:
                    conn.execute(skill_decisions.update().where(where).values(row))
                changed += 1
        return changed

    # -- learnings --------------------------------------------------------------------------
    def load_learnings(self) -> dict[str, Learning]:
        """The project's learnings by id."""
        query = sa.select(review_learnings).where(self._mine(review_learnings))
        with self._read() as conn:
            rows = conn.execute(query.order_by(review_learnings.c.first_seen)).mappings()
            return {row["id"]: from_row(Learning, row) for row in rows}

    def save_learnings(self, learnings: Iterable[Learning]) -> None:
        """Upsert learnings: a known id gets the new rule text, counts and timestamps."""
        with self._engine.begin() as conn:
            for learning in learnings:
                self._upsert_learning(conn, learning)

    def _upsert_learning(self, conn: Connection, learning: Learning) -> None:
        row = to_row(learning, project_id=self._project_id)
        where = sa.and_(self._mine(review_learnings), review_learnings.c.id == learning.id)
        if conn.execute(sa.select(review_learnings.c.id).where(where)).first() is None:
            conn.execute(review_learnings.insert(), row)
        else:
            values = {name: row[name] for name in _LEARNING_UPDATES}
            conn.execute(review_learnings.update().where(where).values(values))

    def load_review_history(self) -> list[ReviewHistoryEntry]:
        """The review history, oldest first."""
        query = (
            sa.select(review_history)
            .where(self._mine(review_history))
            .order_by(review_history.c.timestamp, review_history.c.rowid)
        )
        with self._read() as conn:
            return [from_row(ReviewHistoryEntry, row) for row in conn.execute(query).mappings()]

    def append_review_history(self, entries: Iterable[ReviewHistoryEntry]) -> int:
        """Append entries whose timestamp the project's history does not have yet."""
        with self._engine.begin() as conn:
            return append_history(conn, self._project_id, entries)

    # -- active session ---------------------------------------------------------------------
    def known_skill_ids(self) -> set[str]:
        """Every skill id the project knows: its learnings, decisions, bandit arms and
        gauntlet rules (a promotion of anything else is a typo)."""
        rules = metadata.tables["gauntlet_rules"]
        queries = [
            sa.select(review_learnings.c.id).where(self._mine(review_learnings)),
            sa.select(skill_decisions.c.skill_id).where(self._mine(skill_decisions)),
            sa.select(bandit_arms.c.rule_id).where(self._mine(bandit_arms)),
            # The original keeps gauntlet rules for every project (no project column).
            sa.select(rules.c.rule_id),
        ]
        with self._read() as conn:
            return {str(value) for query in queries for value in conn.execute(query).scalars()}

    def latest_credited_rules(self) -> list[str] | None:
        """The rules of the project's latest ``gauntlet_credits`` row, None without one."""
        credits = metadata.tables["gauntlet_credits"]
        query = (
            sa.select(credits.c.rules)
            .where(credits.c.project_id == self._project_id)
            .order_by(credits.c.timestamp.desc())
            .limit(1)
        )
        with self._read() as conn:
            row = conn.execute(query).first()
        return None if row is None else decode_list(row.rules)

    def load_active_session(self) -> Session | None:
        """The running session, if any."""
        query = sa.select(active_sessions.c.data).where(self._mine(active_sessions))
        with self._read() as conn:
            data = conn.execute(query).scalar_one_or_none()
        if data is None:
            return None
        from buildlog.records import parse_record

        return parse_record(Session, json.loads(data))

    def save_active_session(self, session: Session, *, replace: bool = True) -> None:
        """Store the running session; with ``replace=False`` refuse if one is running.

        The check and the write share one ``BEGIN IMMEDIATE`` transaction, so of two
        processes starting a session at once exactly one succeeds.
        """
        row = {
            "project_id": self._project_id,
            "data": json.dumps(record_to_dict(session)),
            "created_at": format_timestamp(),
        }
        with self._engine.begin() as conn:
            if not replace:
                query = sa.select(active_sessions.c.data).where(self._mine(active_sessions))
                if (data := conn.execute(query).scalar_one_or_none()) is not None:
                    from buildlog.records import parse_record

                    running = parse_record(Session, json.loads(data))
                    raise AlreadyExists(
                        "session",
                        running.id,
                        f"an experiment is already running ({running.id}); end it with "
                        "'buildlog experiment end' first",
                    )
            conn.execute(active_sessions.delete().where(self._mine(active_sessions)))
            conn.execute(active_sessions.insert(), row)

    def delete_active_session(self) -> None:
        """Forget the running session."""
        with self._engine.begin() as conn:
            conn.execute(active_sessions.delete().where(self._mine(active_sessions)))

    # -- events -----------------------------------------------------------------------------
    def append_events(self, kind: EventKind, records: Iterable[EventRecord]) -> int:
        """Append events idempotently by id; returns how many were new."""
        table, cls, _ = EVENT_TABLES[kind]
        rows = []
        for record in records:
            if not isinstance(record, cls):
                raise InvalidRecord(
                    f"append {kind}", f"takes {cls.__name__} records, not {type(record).__name__}"
                )
            rows.append(to_row(record, project_id=self._project_id))
        with self._engine.begin() as conn:
            return insert_ignore(conn, table, rows)

    def load_events(self, kind: EventKind, *, limit: int | None = None) -> list[EventRecord]:
        """Events oldest first; with ``limit``, the newest ``limit`` of them."""
        table, cls, time_column = EVENT_TABLES[kind]
        order = (table.c[time_column], table.c.id)
        query = sa.select(table).where(self._mine(table))
        if limit is not None:
            query = query.order_by(*(c.desc() for c in order)).limit(limit)
        else:
            query = query.order_by(*order)
        with self._read() as conn:
            records: list[Any] = [from_row(cls, row) for row in conn.execute(query).mappings()]
        return records[::-1] if limit is not None else records

    def count_events(self, kind: EventKind) -> int:
        """How many events of one kind the project has."""
        table = EVENT_TABLES[kind][0]
        query = sa.select(sa.func.count()).select_from(table).where(self._mine(table))
        with self._read() as conn:
            return int(conn.execute(query).scalar_one())

    # -- bandit -----------------------------------------------------------------------------
    def load_bandit_state(self) -> list[BanditArm]:
        """Every arm of the project, by context and rule id."""
        query = (
            sa.select(bandit_arms)
            .where(self._mine(bandit_arms))
            .order_by(bandit_arms.c.context, bandit_arms.c.rule_id)
        )
        with self._read() as conn:
            return [from_row(BanditArm, row) for row in conn.execute(query).mappings()]

    def save_bandit_state(self, arms: Iterable[BanditArm]) -> None:
        """Replace the project's arms (one transaction: readers see old or new, never half)."""
        now = format_timestamp()
        rows = [
            to_row(arm, project_id=self._project_id) | {"updated_at": arm.updated_at or now}
            for arm in arms
        ]
        with self._engine.begin() as conn:
            conn.execute(bandit_arms.delete().where(self._mine(bandit_arms)))
            if rows:
                conn.execute(bandit_arms.insert(), rows)

    def update_arm(self, context: str, rule_id: str, reward: float) -> BanditArm:
        """Add one observation to an arm, in one write transaction (read-modify-write)."""
        if not 0.0 <= reward <= 1.0:
            raise InvalidRecord("bandit update", f"reward must be between 0 and 1, got {reward}")
        check_text("bandit context", context, required=True)
        check_text("rule id", rule_id, required=True)
        where = sa.and_(
            self._mine(bandit_arms),
            bandit_arms.c.context == context,
            bandit_arms.c.rule_id == rule_id,
        )
        with self._engine.begin() as conn:
            row = conn.execute(sa.select(bandit_arms).where(where)).mappings().first()
            arm = from_row(BanditArm, row) if row is not None else BanditArm(context, rule_id)
            arm.alpha += reward
            arm.beta += 1.0 - reward
            arm.updated_at = format_timestamp()
            values = to_row(arm, project_id=self._project_id)
            if row is None:
                conn.execute(bandit_arms.insert(), values)
            else:
                conn.execute(bandit_arms.update().where(where).values(values))
        return arm


def append_history(conn: Connection, project_id: str, entries: Iterable[ReviewHistoryEntry]) -> int:
    """Append history entries on ``conn`` (inside the caller's transaction), skipping known ones.

    The original de-duplicates history by its ``timestamp``; so does this.
    """
    known = set(
        conn.execute(
            sa.select(review_history.c.timestamp).where(review_history.c.project_id == project_id)
        ).scalars()
    )
    added = 0
    for entry in entries:
        if entry.timestamp in known:
            continue
        conn.execute(review_history.insert(), to_row(entry, project_id=project_id))
        known.add(entry.timestamp)
        added += 1
    return added
