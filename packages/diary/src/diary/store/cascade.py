"""Cascading deletes, done by the application inside the caller's transaction.

DuckDB has no ``ON DELETE CASCADE`` and cannot delete a parent in the transaction that deleted
its children when a foreign key exists, which is why diary creates no foreign keys on DuckDB
and deletes children before parents here, all in one transaction. On SQLite and PostgreSQL the
real foreign keys are there too and the same order satisfies them.

A model version is the one thing never deleted implicitly except with its project: deleting an
iteration, experiment or artifact that a model version refers to is refused with
:class:`~diary.errors.ReferencedError` (a registry entry must not vanish because somebody
cleaned up runs).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.errors import ReferencedError
from diary.store.summaries import delete_summaries

__all__ = ["delete_experiments", "delete_iterations", "delete_models", "delete_projects"]

Selectable = sa.Select[Any]
# Parameter lists are chunked: SQLite caps the number of bound parameters per statement.
_CHUNK = 500


def _ids(values: Sequence[UUID] | Selectable) -> list[Any] | Selectable:
    return values if isinstance(values, sa.Select) else list(values)


def delete_models(conn: Connection, model_ids: Sequence[UUID] | Selectable) -> None:
    """Delete models and their versions."""
    ids = _ids(model_ids)
    conn.execute(sa.delete(m.model_version).where(m.model_version.c.model_id.in_(ids)))
    conn.execute(sa.delete(m.model).where(m.model.c.id.in_(ids)))


def delete_projects(conn: Connection, project_ids: Sequence[UUID]) -> None:
    """Delete projects with their models, experiments and everything below them."""
    ids = list(project_ids)
    delete_models(conn, sa.select(m.model.c.id).where(m.model.c.project_id.in_(ids)))
    delete_experiments(
        conn, sa.select(m.experiment.c.id).where(m.experiment.c.project_id.in_(ids)), "project"
    )
    conn.execute(sa.delete(m.project_tag).where(m.project_tag.c.project_id.in_(ids)))
    conn.execute(sa.delete(m.project).where(m.project.c.id.in_(ids)))


def delete_experiments(
    conn: Connection, experiment_ids: Sequence[UUID] | Selectable, what: str = "experiment"
) -> None:
    """Delete experiments with their iterations, metrics, parameters, artifacts and tags.

    Raises:
        ReferencedError: a model version refers to one of their iterations or artifacts.
    """
    ids = _ids(experiment_ids)
    iterations = sa.select(m.iteration.c.id).where(m.iteration.c.experiment_id.in_(ids))
    resources = sa.select(m.resource.c.id).where(m.resource.c.experiment_id.in_(ids))
    _refuse_if_registered(conn, what, iterations, resources)
    _delete_logged_rows(conn, iterations)
    # All iterations of an experiment in one statement: parents and children go together, so
    # a self-referencing foreign key (where one exists) holds at the end of the statement.
    conn.execute(sa.delete(m.iteration).where(m.iteration.c.experiment_id.in_(ids)))
    _delete_resources(conn, m.resource.c.experiment_id.in_(ids))
    conn.execute(sa.delete(m.experiment_tag).where(m.experiment_tag.c.experiment_id.in_(ids)))
    conn.execute(sa.delete(m.experiment).where(m.experiment.c.id.in_(ids)))


def delete_iterations(conn: Connection, iteration_ids: Sequence[UUID]) -> list[UUID]:
    """Delete iterations, their descendants and everything logged to them.

    A child's ``parent_id`` is never cleared (an update of an FK column of a referenced row
    fails on DuckDB, DearDiary.jl's defect 10): children go with their parent.

    Returns:
        Every deleted iteration id, the given ones first.

    Raises:
        ReferencedError: a model version refers to one of them or to one of their artifacts.
    """
    every = list(dict.fromkeys(iteration_ids))
    frontier = every
    while frontier:
        children: list[UUID] = []
        for chunk in _chunks(frontier):
            children.extend(
                conn.execute(
                    sa.select(m.iteration.c.id).where(m.iteration.c.parent_id.in_(chunk))
                ).scalars()
            )
        frontier = [child for child in children if child not in every]
        every.extend(frontier)
    for chunk in _chunks(every):
        resources = sa.select(m.resource.c.id).where(m.resource.c.iteration_id.in_(chunk))
        _refuse_if_registered(conn, "iteration", chunk, resources)
    for chunk in _chunks(every):
        _delete_logged_rows(conn, chunk)
    # Breadth-first order puts every child after its parent; deleting in reverse removes
    # children first, so a foreign key never sees a missing parent, whatever the chunking.
    for chunk in _chunks(every[::-1]):
        conn.execute(sa.delete(m.iteration).where(m.iteration.c.id.in_(chunk)))
    return every


def _chunks(values: list[UUID]) -> list[list[UUID]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)] or [[]]


def _refuse_if_registered(
    conn: Connection, what: str, iterations: list[UUID] | Selectable, resources: Selectable
) -> None:
    version = m.model_version
    row = conn.execute(
        sa.select(version.c.version, version.c.iteration_id, m.model.c.name)
        .join(m.model, m.model.c.id == version.c.model_id)
        .where(sa.or_(version.c.iteration_id.in_(iterations), version.c.resource_id.in_(resources)))
        .order_by(m.model.c.name, version.c.version)
        .limit(1)
    ).first()
    if row is not None:
        raise ReferencedError(
            what,
            "(or something in it)" if what != "iteration" else str(row.iteration_id),
            f"version {row.version} of model {row.name!r} refers to iteration "
            f"{row.iteration_id} or its artifact; delete that model version first",
        )


def _delete_logged_rows(conn: Connection, iterations: list[UUID] | Selectable) -> None:
    """Delete what hangs off iterations (the iterations themselves are the caller's)."""
    conn.execute(sa.delete(m.metric).where(m.metric.c.iteration_id.in_(iterations)))
    delete_summaries(conn, iterations)
    conn.execute(sa.delete(m.parameter).where(m.parameter.c.iteration_id.in_(iterations)))
    conn.execute(sa.delete(m.iteration_tag).where(m.iteration_tag.c.iteration_id.in_(iterations)))
    _delete_resources(conn, m.resource.c.iteration_id.in_(iterations))


def _delete_resources(conn: Connection, where: sa.ColumnElement[bool]) -> None:
    """Delete artifact rows matching ``where``, their inline bytes first (foreign key order)."""
    owned = sa.select(m.resource.c.id).where(where)
    conn.execute(sa.delete(m.resource_blob).where(m.resource_blob.c.resource_id.in_(owned)))
    conn.execute(sa.delete(m.resource).where(where))
