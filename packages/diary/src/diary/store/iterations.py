"""Iterations (runs): create, read, list, end, delete, and the ``store.iteration()`` context."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from diary import models as m
from diary.enums import IterationStatus
from diary.environment import EnvironmentSnapshot, take_snapshot
from diary.errors import InvalidValue, NotFound, StorageError
from diary.records import Iteration
from diary.store.base import IdLike, as_uuid
from diary.store.cascade import delete_iterations
from diary.store.experiments import ExperimentsMixin
from diary.store.tags import insert_tags
from diary.store.tracking import TrackingMixin
from diary.values import check_text
from storage_core.database.statements import (
    count_inserted,
    insert_skipping_duplicates,
    supports_skipping_duplicates,
)

if TYPE_CHECKING:
    pass

__all__ = [
    "IterationsMixin",
    "iteration_query",
    "iteration_record",
    "parse_iteration_status",
]

logger = logging.getLogger(__name__)

_NO_SNAPSHOT = EnvironmentSnapshot("", "", None, "", ())


def iteration_record(row: Row[Any]) -> Iteration:
    """An :class:`Iteration` from a row of :func:`iteration_query`."""
    return Iteration(
        row.id,
        row.experiment_id,
        row.parent_id,
        IterationStatus(row.status),
        row.notes,
        row.error_message,
        row.created_at,
        row.ended_at,
        row.python_version,
        row.git_sha,
        row.git_dirty,
        row.entry_point,
        tuple(line for line in row.packages.splitlines() if line),
    )


def iteration_query() -> sa.Select[Any]:
    """Iterations with their environment: the columns :func:`iteration_record` reads."""
    table, env = m.iteration, m.environment
    snapshot = [
        sa.func.coalesce(env.c[name], table.c[name]).label(name)
        for name in ("python_version", "git_sha", "git_dirty", "entry_point", "packages")
    ]
    plain = [column for column in table.c if column.name not in {c.name for c in snapshot}]
    return sa.select(*plain, *snapshot).select_from(
        table.outerjoin(env, env.c.id == table.c.environment_id)
    )


def _fetch_iteration(conn: Connection, iteration_id: IdLike) -> Row[Any]:
    key = as_uuid("iteration", iteration_id)
    rows = conn.execute(iteration_query().where(m.iteration.c.id == key)).all()
    if not rows:
        raise NotFound("iteration", str(iteration_id))
    return rows[0]


def _store_environment(conn: Connection, env: EnvironmentSnapshot, now: datetime) -> None:
    """Store a snapshot unless a row with its key exists (another process may add it too)."""
    row = {
        "id": env.key,
        "python_version": env.python_version,
        "git_sha": env.git_sha,
        "git_dirty": env.git_dirty,
        "entry_point": env.entry_point,
        "packages": "\n".join(env.packages),
        "created_at": now,
    }
    if supports_skipping_duplicates(conn):
        conn.execute(insert_skipping_duplicates(conn, m.environment), row)
        return
    found = conn.execute(sa.select(m.environment.c.id).where(m.environment.c.id == env.key))
    if found.first() is None:
        conn.execute(sa.insert(m.environment), row)


def parse_iteration_status(value: str | IterationStatus) -> IterationStatus:
    """An iteration status from its value.

    Raises:
        InvalidValue: not one of running, succeeded, failed, killed.
    """
    try:
        return IterationStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in IterationStatus)
        raise InvalidValue("iteration status", value, f"expected one of {choices}") from None


class IterationsMixin(TrackingMixin, ExperimentsMixin):
    """Iteration operations of the store."""

    def create_iteration(
        self,
        experiment_id: IdLike,
        *,
        parent: IdLike | None = None,
        notes: str = "",
        tags: Iterable[str] = (),
        snapshot: EnvironmentSnapshot | bool = True,
    ) -> Iteration:
        """Start an iteration (status running) of an experiment.

        Args:
            experiment_id: the experiment.
            parent: the parent iteration (same experiment) for sweeps, folds and fan-outs.
            notes: free text.
            tags: tags to attach.
            snapshot: record the environment (True), not (False), or record the given one.

        Raises:
            NotFound: no such experiment or parent.
            InvalidValue: the parent belongs to another experiment.
        """
        check_text("notes", notes)
        env = take_snapshot() if snapshot is True else (snapshot or _NO_SNAPSHOT)
        experiment = as_uuid("experiment", experiment_id)
        parent_id = None if parent is None else as_uuid("iteration", parent)
        environment = env.key if env.recorded else None
        record = Iteration(
            uuid4(), experiment, parent_id, IterationStatus.RUNNING, notes, "", self.clock.now(),
            None, env.python_version, env.git_sha, env.git_dirty, env.entry_point, env.packages,
        )  # fmt: skip
        with self.transaction() as conn:
            if environment is not None and environment not in self._stored_environments:
                _store_environment(conn, env, record.created_at)
            # One statement inserts the row and checks its parents (the application's foreign
            # key check on DuckDB): it inserts nothing when one is missing.
            inserted = count_inserted(
                conn, _insert_iteration(record, environment), m.iteration.c.id
            )
            if inserted != 1:
                self._refuse_iteration(conn, experiment_id, parent)
            insert_tags(conn, "iteration", record.id, tags, record.created_at)
        with self._state_lock:
            if environment is not None:
                self._stored_environments.add(environment)
            self._known_iterations.add(record.id)
            self._fresh_iterations.add(record.id)
        return record

    def _refuse_iteration(
        self, conn: Connection, experiment: IdLike, parent: IdLike | None
    ) -> None:
        """Raise why an iteration of ``experiment`` under ``parent`` cannot be created."""
        key = self.require_row(conn, m.experiment, "experiment", experiment)
        if parent is not None:
            parent_row = self.fetch_row(conn, m.iteration, "iteration", parent)
            if parent_row.experiment_id != key:
                raise InvalidValue("parent iteration", str(parent), "belongs to another experiment")
        raise StorageError(f"could not create an iteration of experiment {experiment}")

    def get_iteration(self, iteration_id: IdLike) -> Iteration:
        """The iteration with this id.

        Raises:
            NotFound: no such iteration.
        """
        with self.reading() as conn:
            return iteration_record(_fetch_iteration(conn, iteration_id))

    def list_iterations(
        self,
        experiment_id: IdLike,
        *,
        status: IterationStatus | str | None = None,
        parent: IdLike | None = None,
        top_level: bool = False,
    ) -> list[Iteration]:
        """The iterations of an experiment, oldest first.

        Args:
            experiment_id: the experiment.
            status: only iterations in this status.
            parent: only the children of this iteration.
            top_level: only iterations without a parent.

        Raises:
            NotFound: no such experiment.
        """
        table = m.iteration
        query = iteration_query().order_by(table.c.created_at, table.c.id)
        if status is not None:
            query = query.where(table.c.status == parse_iteration_status(status).value)
        if parent is not None:
            query = query.where(table.c.parent_id == as_uuid("iteration", parent))
        if top_level:
            query = query.where(table.c.parent_id.is_(None))
        with self.reading() as conn:
            experiment = self.require_row(conn, m.experiment, "experiment", experiment_id)
            rows = conn.execute(query.where(table.c.experiment_id == experiment))
            return [iteration_record(row) for row in rows]

    def get_iterations(self, experiment_id: IdLike) -> list[Iteration]:
        """DearDiary.jl's name for :meth:`list_iterations`."""
        return self.list_iterations(experiment_id)

    def get_child_iterations(self, parent_id: IdLike) -> list[Iteration]:
        """The children of an iteration, oldest first.

        Raises:
            NotFound: no such iteration.
        """
        parent = self.get_iteration(parent_id)
        return self.list_iterations(parent.experiment_id, parent=parent.id)

    def update_iteration(
        self,
        iteration_id: IdLike,
        *,
        notes: str | None = None,
        status: IterationStatus | str | None = None,
        error_message: str | None = None,
        flush: bool = True,
    ) -> Iteration:
        """Change an iteration's notes, status or error message (None leaves a field as is).

        A status other than running records the end time, after writing the iteration's
        buffered points, so whoever sees it ended also sees all it logged.

        Args:
            iteration_id: the iteration.
            notes: new notes.
            status: new status.
            error_message: new error message.
            flush: write buffered points before ending the iteration.

        Raises:
            NotFound: no such iteration.
            InvalidValue: an unknown status.
        """
        changes: dict[str, Any] = {}
        if notes is not None:
            changes["notes"] = check_text("notes", notes)
        if error_message is not None:
            changes["error_message"] = error_message
        if status is not None:
            changes["status"] = parse_iteration_status(status).value
            if flush and changes["status"] != IterationStatus.RUNNING.value:
                self.flush()
        with self.transaction() as conn:
            row = _fetch_iteration(conn, iteration_id)
            changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
            if not changes:
                return iteration_record(row)
            if "status" in changes:
                running = changes["status"] == IterationStatus.RUNNING.value
                changes["ended_at"] = None if running else self.clock.now()
            # Only unindexed columns change: this works on iterations that parameters, child
            # iterations and model versions refer to (the DuckDB UPDATE pitfall).
            conn.execute(sa.update(m.iteration).where(m.iteration.c.id == row.id).values(**changes))
            return iteration_record(_fetch_iteration(conn, row.id))

    def end_iteration(
        self,
        iteration_id: IdLike,
        status: IterationStatus | str = IterationStatus.SUCCEEDED,
        *,
        error: str | None = None,
    ) -> Iteration:
        """End an iteration as succeeded (default), failed or killed.

        Raises:
            NotFound: no such iteration.
            InvalidValue: the status is running or unknown.
        """
        parsed = parse_iteration_status(status)
        if parsed is IterationStatus.RUNNING:
            raise InvalidValue("iteration status", status, "an ended iteration is not running")
        return self.update_iteration(iteration_id, status=parsed, error_message=error)

    def delete_iteration(self, iteration_id: IdLike) -> list[UUID]:
        """Delete an iteration, its child iterations and everything logged to them.

        Returns:
            The ids of every deleted iteration.

        Raises:
            NotFound: no such iteration.
            ReferencedError: a model version refers to one of them.
        """
        self.flush()
        with self.transaction() as conn:
            key = self.require_row(conn, m.iteration, "iteration", iteration_id)
            deleted = delete_iterations(conn, [key])
        self._forget_iterations(deleted)
        return deleted


def _insert_iteration(record: Iteration, environment: str | None) -> sa.Insert:
    """``INSERT INTO iteration SELECT <row> WHERE <experiment exists> [AND <parent fits>]``."""
    table = m.iteration
    values = {
        "id": record.id,
        "experiment_id": record.experiment_id,
        "parent_id": record.parent_id,
        "status": record.status.value,
        "notes": record.notes,
        "error_message": "",
        "created_at": record.created_at,
        "environment_id": environment,
    }
    row = [sa.bindparam(None, value, type_=table.c[name].type) for name, value in values.items()]
    exists = [sa.exists().where(m.experiment.c.id == record.experiment_id)]
    if record.parent_id is not None:
        parent = table.alias("parent")
        exists.append(
            sa.exists().where(
                parent.c.id == record.parent_id, parent.c.experiment_id == record.experiment_id
            )
        )
    return sa.insert(table).from_select(list(values), sa.select(*row).where(*exists))
