"""The model registry: models (unique name per project) and their numbered versions."""

from __future__ import annotations

from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Row

from diary import models as m
from diary.enums import ModelStage
from diary.errors import AlreadyExists, InvalidValue, NotFound
from diary.records import Model, ModelVersion
from diary.store.base import IdLike, as_uuid, require_text
from diary.store.cascade import delete_models
from diary.store.reads import ReadsMixin
from diary.values import check_text

__all__ = ["RegistryMixin", "model_record", "model_version_record", "parse_stage"]


def model_record(row: Row[Any]) -> Model:
    """A :class:`Model` from a ``model`` row."""
    return Model(row.id, row.project_id, row.name, row.description, row.created_at, row.updated_at)


def model_version_record(row: Row[Any]) -> ModelVersion:
    """A :class:`ModelVersion` from a ``model_version`` row."""
    return ModelVersion(
        row.id,
        row.model_id,
        row.version,
        row.iteration_id,
        row.resource_id,
        ModelStage(row.stage),
        row.description,
        row.created_at,
        row.updated_at,
    )


def parse_stage(value: str | ModelStage) -> ModelStage:
    """A model stage from its value.

    Raises:
        InvalidValue: not one of none, staging, production, archived.
    """
    try:
        return ModelStage(value)
    except ValueError:
        choices = ", ".join(s.value for s in ModelStage)
        raise InvalidValue("model stage", value, f"expected one of {choices}") from None


class RegistryMixin(ReadsMixin):
    """Model registry operations of the store."""

    def create_model(self, project_id: IdLike, name: str, *, description: str = "") -> Model:
        """Register a model name in a project.

        Raises:
            NotFound: no such project.
            AlreadyExists: the project has a model with this name.
        """
        require_text("model name", name)
        check_text("description", description)
        with self.transaction() as conn:
            project = self.require_row(conn, m.project, "project", project_id)
            taken = conn.execute(
                sa.select(m.model.c.id).where(
                    m.model.c.project_id == project, m.model.c.name == name
                )
            ).first()
            if taken is not None:
                raise AlreadyExists(
                    "model", name, f"project {project} already has a model {name!r}"
                )
            record = Model(uuid4(), project, name, description, self.clock.now(), None)
            conn.execute(
                sa.insert(m.model).values(
                    id=record.id,
                    project_id=project,
                    name=name,
                    description=description,
                    created_at=record.created_at,
                )
            )
        return record

    def get_model(self, model_id: IdLike) -> Model:
        """The model with this id.

        Raises:
            NotFound: no such model.
        """
        with self.reading() as conn:
            return model_record(self.fetch_row(conn, m.model, "model", model_id))

    def find_model(self, id_or_name: str, project: str | None = None) -> Model:
        """A model by id, or by name within a project (id or name).

        Raises:
            NotFound: nothing matches.
        """
        try:
            return self.get_model(as_uuid("model", id_or_name))
        except NotFound:
            if project is None:
                raise
        owner = self.find_project(project)
        for model in self.list_models(owner.id):
            if model.name == id_or_name:
                return model
        raise NotFound("model", id_or_name)

    def list_models(self, project_id: IdLike) -> list[Model]:
        """The models of a project, by name.

        Raises:
            NotFound: no such project.
        """
        with self.reading() as conn:
            project = self.require_row(conn, m.project, "project", project_id)
            rows = conn.execute(
                sa.select(m.model).where(m.model.c.project_id == project).order_by(m.model.c.name)
            )
            return [model_record(row) for row in rows]

    def update_model(self, model_id: IdLike, *, description: str) -> Model:
        """Change a model's description.

        Models are not renamed: the name is part of a UNIQUE constraint, and DuckDB cannot
        update such a column on a row that versions refer to. Register a new model instead.

        Raises:
            NotFound: no such model.
        """
        check_text("description", description)
        with self.transaction() as conn:
            row = self.fetch_row(conn, m.model, "model", model_id)
            if row.description != description:
                conn.execute(
                    sa.update(m.model)
                    .where(m.model.c.id == row.id)
                    .values(description=description, updated_at=self.clock.now())
                )
            return model_record(self.fetch_row(conn, m.model, "model", row.id))

    def delete_model(self, model_id: IdLike) -> None:
        """Delete a model and its versions (their iterations and artifacts stay).

        Raises:
            NotFound: no such model.
        """
        with self.transaction() as conn:
            key = self.require_row(conn, m.model, "model", model_id)
            delete_models(conn, [key])

    def create_model_version(
        self,
        model_id: IdLike,
        iteration_id: IdLike,
        *,
        resource_id: IdLike | None = None,
        description: str = "",
        stage: ModelStage | str = ModelStage.NONE,
    ) -> ModelVersion:
        """Register the next version of a model (1, 2, 3, ...), produced by an iteration.

        Args:
            model_id: the model.
            iteration_id: the iteration that produced it (in the model's project).
            resource_id: the artifact holding it, if any (in the model's project).
            description: free text.
            stage: the initial stage; production archives the current production version.

        Raises:
            NotFound: no such model, iteration or artifact.
            InvalidValue: the iteration or artifact belongs to another project.
        """
        parsed = parse_stage(stage)
        check_text("description", description)
        with self.transaction() as conn:
            model = self.fetch_row(conn, m.model, "model", model_id)
            iteration = self.fetch_row(conn, m.iteration, "iteration", iteration_id)
            self._same_project(
                conn, model.project_id, iteration.experiment_id, "iteration", iteration.id
            )
            resource = None
            if resource_id is not None:
                row = self.fetch_row(conn, m.resource, "artifact", resource_id)
                self._same_project(conn, model.project_id, row.experiment_id, "artifact", row.id)
                resource = row.id
            highest = conn.execute(
                sa.select(sa.func.max(m.model_version.c.version)).where(
                    m.model_version.c.model_id == model.id
                )
            ).scalar()
            now = self.clock.now()
            if parsed is ModelStage.PRODUCTION:
                self._archive_production(conn, model.id, now)
            record = ModelVersion(
                uuid4(), model.id, (highest or 0) + 1, iteration.id, resource, parsed,
                description, now, None,
            )  # fmt: skip
            conn.execute(
                sa.insert(m.model_version).values(
                    id=record.id,
                    model_id=model.id,
                    version=record.version,
                    iteration_id=iteration.id,
                    resource_id=resource,
                    stage=parsed.value,
                    description=description,
                    created_at=now,
                )
            )
        return record

    def get_model_version(self, version_id: IdLike) -> ModelVersion:
        """The model version with this id.

        Raises:
            NotFound: no such version.
        """
        with self.reading() as conn:
            return model_version_record(
                self.fetch_row(conn, m.model_version, "model version", version_id)
            )

    def list_model_versions(self, model_id: IdLike) -> list[ModelVersion]:
        """The versions of a model, by version number.

        Raises:
            NotFound: no such model.
        """
        table = m.model_version
        with self.reading() as conn:
            model = self.require_row(conn, m.model, "model", model_id)
            rows = conn.execute(
                sa.select(table).where(table.c.model_id == model).order_by(table.c.version)
            )
            return [model_version_record(row) for row in rows]

    def set_model_version_stage(self, version_id: IdLike, stage: ModelStage | str) -> ModelVersion:
        """Move a version to a stage; promoting to production archives the previous production
        version of the same model in the same transaction.

        Raises:
            NotFound: no such version.
            InvalidValue: an unknown stage.
        """
        parsed = parse_stage(stage)
        table = m.model_version
        with self.transaction() as conn:
            row = self.fetch_row(conn, table, "model version", version_id)
            if row.stage != parsed.value:
                now = self.clock.now()
                if parsed is ModelStage.PRODUCTION:
                    self._archive_production(conn, row.model_id, now)
                # stage is unindexed: updating it is fine on versions anything refers to.
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == row.id)
                    .values(stage=parsed.value, updated_at=now)
                )
            return model_version_record(self.fetch_row(conn, table, "model version", row.id))

    def update_model_version(
        self,
        version_id: IdLike,
        *,
        description: str | None = None,
        stage: ModelStage | str | None = None,
    ) -> ModelVersion:
        """Change a version's description or stage (None leaves a field as is).

        Raises:
            NotFound: no such version.
            InvalidValue: an unknown stage.
        """
        if description is not None:
            check_text("description", description)
        if stage is not None:
            self.set_model_version_stage(version_id, stage)
        table = m.model_version
        with self.transaction() as conn:
            row = self.fetch_row(conn, table, "model version", version_id)
            if description is not None and row.description != description:
                conn.execute(
                    sa.update(table)
                    .where(table.c.id == row.id)
                    .values(description=description, updated_at=self.clock.now())
                )
            return model_version_record(self.fetch_row(conn, table, "model version", row.id))

    def delete_model_version(self, version_id: IdLike) -> None:
        """Delete one model version (its iteration and artifact stay).

        Raises:
            NotFound: no such version.
        """
        table = m.model_version
        with self.transaction() as conn:
            key = self.require_row(conn, table, "model version", version_id)
            conn.execute(sa.delete(table).where(table.c.id == key))

    @staticmethod
    def _archive_production(conn: sa.Connection, model: Any, now: Any) -> None:
        table = m.model_version
        conn.execute(
            sa.update(table)
            .where(table.c.model_id == model, table.c.stage == ModelStage.PRODUCTION.value)
            .values(stage=ModelStage.ARCHIVED.value, updated_at=now)
        )

    @staticmethod
    def _same_project(
        conn: sa.Connection, project: Any, experiment: Any, what: str, key: Any
    ) -> None:
        owner = conn.execute(
            sa.select(m.experiment.c.project_id).where(m.experiment.c.id == experiment)
        ).scalar()
        if owner != project:
            raise InvalidValue(what, str(key), "belongs to another project than the model")
