"""Experiments: create, read, list, update, end, delete."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from diary import models as m
from diary.enums import ExperimentStatus
from diary.errors import AlreadyExists, InvalidValue, NotFound
from diary.records import Experiment
from diary.store.base import IdLike, as_uuid, id_prefix_range, require_text
from diary.store.cascade import delete_experiments
from diary.store.projects import ProjectsMixin
from diary.store.tags import insert_tags
from diary.values import check_text

__all__ = ["ExperimentsMixin", "experiment_record", "parse_experiment_status"]


def experiment_record(row: Row[Any]) -> Experiment:
    """An :class:`Experiment` from an ``experiment`` row."""
    return Experiment(
        row.id,
        row.project_id,
        row.name,
        row.description,
        ExperimentStatus(row.status),
        row.created_at,
        row.ended_at,
        row.updated_at,
    )


def parse_experiment_status(value: str | ExperimentStatus) -> ExperimentStatus:
    """An experiment status from its value.

    Raises:
        InvalidValue: not one of in_progress, stopped, finished.
    """
    try:
        return ExperimentStatus(value)
    except ValueError:
        choices = ", ".join(s.value for s in ExperimentStatus)
        raise InvalidValue("experiment status", value, f"expected one of {choices}") from None


class ExperimentsMixin(ProjectsMixin):
    """Experiment operations of the store."""

    def create_experiment(
        self,
        project_id: IdLike,
        name: str,
        *,
        description: str = "",
        tags: Iterable[str] = (),
    ) -> Experiment:
        """Create an experiment (status in_progress) in a project.

        Raises:
            NotFound: no such project.
        """
        return self._experiment(project_id, name, description, tags, reuse=False)

    def get_or_create_experiment(
        self,
        project_id: IdLike,
        name: str,
        *,
        description: str = "",
        tags: Iterable[str] = (),
    ) -> Experiment:
        """The experiment called ``name`` in a project, created first if there is none: a
        training script that calls this can be run again unchanged.

        Raises:
            NotFound: no such project.
            InvalidValue: an empty name, or several experiments of the project have it (from
                before names were unique: use the id).
        """
        return self._experiment(project_id, name, description, tags, reuse=True)

    def _experiment(
        self,
        project_id: IdLike,
        name: str,
        description: str,
        tags: Iterable[str],
        *,
        reuse: bool,
    ) -> Experiment:
        """The experiment ``name`` of a project, inserted when there is none; an existing one
        is returned (``reuse``) or refused, in the transaction that checks for it."""
        require_text("experiment name", name)
        check_text("description", description)
        with self.transaction() as conn:
            project = self.require_row(conn, m.project, "project", project_id)
            self.claim_name(conn, "experiment", project, name)
            found = _named(conn, project, name)
            if found and not reuse:
                raise AlreadyExists(
                    "experiment",
                    name,
                    f"project {project} has an experiment named {name!r} already "
                    f"({found[0].id}); get_or_create_experiment (or its id) reuses it",
                )
            if len(found) > 1:
                raise InvalidValue(
                    "experiment name", name, "several experiments of the project have it; use an id"
                )
            if found:
                return experiment_record(found[0])
            return self._insert_experiment(conn, project, name, description, tags)

    def _insert_experiment(
        self, conn: Connection, project: UUID, name: str, description: str, tags: Iterable[str]
    ) -> Experiment:
        now = self.clock.now()
        record = Experiment(
            uuid4(), project, name, description, ExperimentStatus.IN_PROGRESS, now, None, None
        )
        conn.execute(
            sa.insert(m.experiment).values(
                id=record.id,
                project_id=project,
                name=name,
                description=description,
                status=record.status.value,
                created_at=now,
            )
        )
        insert_tags(conn, "experiment", record.id, tags, now)
        return record

    def get_experiment(self, experiment_id: IdLike) -> Experiment:
        """The experiment with this id.

        Raises:
            NotFound: no such experiment.
        """
        with self.reading() as conn:
            return experiment_record(
                self.fetch_row(conn, m.experiment, "experiment", experiment_id)
            )

    def list_experiments(self, project_id: IdLike, *, name: str | None = None) -> list[Experiment]:
        """The experiments of a project, oldest first; only those called ``name`` when given.

        Raises:
            NotFound: no such project.
        """
        table = m.experiment
        with self.reading() as conn:
            project = self.require_row(conn, m.project, "project", project_id)
            query = (
                sa.select(table)
                .where(table.c.project_id == project)
                .order_by(table.c.created_at, table.c.id)
            )
            if name is not None:
                query = query.where(table.c.name == name)
            return [experiment_record(row) for row in conn.execute(query)]

    def find_experiment(self, id_or_name: str, project: str | None = None) -> Experiment:
        """An experiment by id, by its name (within ``project``, an id or a name, when given;
        else across all projects, where it must be unique) or by a unique id prefix (a name
        wins over a prefix).

        Raises:
            NotFound: nothing matches.
            InvalidValue: the name is ambiguous.
        """
        try:
            return self.get_experiment(as_uuid("experiment", id_or_name))
        except NotFound:
            pass
        if project is not None:
            matches = self.list_experiments(self.find_project(project).id, name=id_or_name)
        else:
            matches = self._experiments_named(id_or_name)
        if not matches and id_prefix_range(id_or_name) is not None:
            return self.get_experiment(self.resolve_id("experiment", id_or_name))
        if not matches:
            raise NotFound("experiment", id_or_name)
        if len(matches) > 1:
            where = "" if project is not None else " (in several projects: name the project too)"
            raise InvalidValue(
                "experiment name",
                id_or_name,
                f"{len(matches)} experiments have it{where}; use an id",
            )
        return matches[0]

    def _experiments_named(self, name: str) -> list[Experiment]:
        table = m.experiment
        with self.reading() as conn:
            query = sa.select(table).where(table.c.name == name).order_by(table.c.created_at)
            return [experiment_record(row) for row in conn.execute(query)]

    def update_experiment(
        self,
        experiment_id: IdLike,
        *,
        name: str | None = None,
        description: str | None = None,
        status: ExperimentStatus | str | None = None,
    ) -> Experiment:
        """Change an experiment's name, description or status (None leaves a field as is).

        Setting a status other than in_progress records the end time; setting in_progress
        again clears it.

        Raises:
            NotFound: no such experiment.
            InvalidValue: an unknown status or an empty name.
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = require_text("experiment name", name)
        if description is not None:
            changes["description"] = check_text("description", description)
        if status is not None:
            changes["status"] = parse_experiment_status(status).value
        with self.transaction() as conn:
            row = self.fetch_row(conn, m.experiment, "experiment", experiment_id)
            changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
            if not changes:
                return experiment_record(row)
            now = self.clock.now()
            changes["updated_at"] = now
            if "status" in changes:
                ended = changes["status"] != ExperimentStatus.IN_PROGRESS.value
                changes["ended_at"] = now if ended else None
            # Only unindexed columns change: safe on rows that iterations refer to.
            conn.execute(
                sa.update(m.experiment).where(m.experiment.c.id == row.id).values(**changes)
            )
            return experiment_record(self.fetch_row(conn, m.experiment, "experiment", row.id))

    def end_experiment(
        self,
        experiment_id: IdLike,
        status: ExperimentStatus | str = ExperimentStatus.FINISHED,
    ) -> Experiment:
        """End an experiment as finished (default) or stopped.

        Raises:
            NotFound: no such experiment.
            InvalidValue: the status is in_progress or unknown.
        """
        parsed = parse_experiment_status(status)
        if parsed is ExperimentStatus.IN_PROGRESS:
            raise InvalidValue(
                "experiment status", status, "an ended experiment is finished or stopped"
            )
        return self.update_experiment(experiment_id, status=parsed)

    def delete_experiment(self, experiment_id: IdLike) -> None:
        """Delete an experiment with its iterations, metrics, parameters, artifacts and tags.

        Raises:
            NotFound: no such experiment.
            ReferencedError: a model version refers to one of its iterations or artifacts.
        """
        with self.transaction() as conn:
            key = self.require_row(conn, m.experiment, "experiment", experiment_id)
            delete_experiments(conn, [key])


def _named(conn: Connection, project: UUID, name: str) -> list[Row[Any]]:
    table = m.experiment
    query = sa.select(table).where(table.c.project_id == project, table.c.name == name)
    return list(conn.execute(query.limit(2)).all())
