"""Deletes cascade in one transaction, and every update works on rows other rows refer to.

DuckDB refuses to update an indexed column of a referenced row and to delete a parent in the
transaction that deleted its children (PITFALLS.md). These tests build rows that other rows
refer to, then run every update and delete the API offers, on DuckDB and SQLite.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from uuid import UUID

import pytest
import sqlalchemy as sa

from diary import models as m
from diary.enums import ExperimentStatus, IterationStatus, ModelStage
from diary.errors import NotFound, ReferencedError
from diary.store import Store

ResourceFactory = Callable[..., UUID]


@dataclass
class Tree:
    project: UUID
    experiment: UUID
    parent: UUID
    child: UUID
    grandchild: UUID
    resource: UUID
    model: UUID
    version: UUID


@pytest.fixture
def tree(any_store: Store, insert_resource: ResourceFactory) -> Tree:
    """Every kind of reference at once: tags, params, metrics, children, artifacts, versions."""
    store = any_store
    project = store.create_project("p", tags=["pt"])
    experiment = store.create_experiment(project.id, "e", tags=["et"])
    parent = store.create_iteration(experiment.id, tags=["it"], snapshot=False)
    child = store.create_iteration(experiment.id, parent=parent.id, snapshot=False)
    grandchild = store.create_iteration(experiment.id, parent=child.id, snapshot=False)
    for iteration in (parent, child, grandchild):
        store.log_params(iteration.id, {"lr": 0.1})
        store.log_metrics(iteration.id, {"loss": 1.0, "acc": 0.5})
    store.flush()
    resource = insert_resource(store, experiment.id, parent.id)
    model = store.create_model(project.id, "clf")
    version = store.create_model_version(model.id, parent.id, resource_id=resource)
    return Tree(
        project.id, experiment.id, parent.id, child.id, grandchild.id, resource, model.id,
        version.id,
    )  # fmt: skip


def counts(store: Store) -> dict[str, int]:
    with store.reading() as conn:
        return {
            name: conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
            for name, table in m.metadata.tables.items()
        }


def test_updates_work_on_referenced_rows(any_store: Store, tree: Tree) -> None:
    store = any_store
    # Ending iterations that parameters, children, artifacts and model versions refer to.
    for iteration in (tree.parent, tree.child, tree.grandchild):
        ended = store.end_iteration(iteration, "succeeded")
        assert ended.status is IterationStatus.SUCCEEDED
    store.update_iteration(tree.parent, notes="annotated", status="failed", error_message="x")
    # Ending an experiment that iterations and artifacts refer to.
    assert store.end_experiment(tree.experiment).status is ExperimentStatus.FINISHED
    store.update_experiment(tree.experiment, name="renamed", description="d")
    # A project and a model that rows refer to.
    store.update_project(tree.project, name="p2", description="d")
    store.update_model(tree.model, description="better")
    # Promoting a version, with a second version present and referenced rows everywhere.
    second = store.create_model_version(tree.model, tree.child)
    store.set_model_version_stage(tree.version, "production")
    promoted = store.set_model_version_stage(second.id, ModelStage.PRODUCTION)
    assert promoted.stage is ModelStage.PRODUCTION
    assert store.get_model_version(tree.version).stage is ModelStage.ARCHIVED
    # Moving an artifact that a model version refers to (what the artifact migration does).
    with store.transaction() as conn:
        conn.execute(
            sa.update(m.resource)
            .where(m.resource.c.id == tree.resource)
            .values(backend="filesystem", uri="file:///tmp/x", data=None)
        )
    with store.reading() as conn:
        row = conn.execute(sa.select(m.resource).where(m.resource.c.id == tree.resource)).one()
    assert (row.backend, row.uri, row.data) == ("filesystem", "file:///tmp/x", None)


def test_deleting_a_registered_iteration_is_refused_and_changes_nothing(
    any_store: Store, tree: Tree
) -> None:
    before = counts(any_store)
    with pytest.raises(ReferencedError) as raised:
        any_store.delete_iteration(tree.parent)
    assert str(raised.value) == (
        f"cannot delete iteration {tree.parent}: version 1 of model 'clf' refers to iteration "
        f"{tree.parent} or its artifact; delete that model version first"
    )
    with pytest.raises(ReferencedError):
        any_store.delete_experiment(tree.experiment)
    assert counts(any_store) == before


def test_deleting_an_iteration_takes_its_descendants(any_store: Store, tree: Tree) -> None:
    deleted = any_store.delete_iteration(tree.child)
    assert deleted == [tree.child, tree.grandchild]
    remaining = counts(any_store)
    assert remaining["iteration"] == 1
    assert remaining["metric"] == 2
    assert remaining["parameter"] == 1
    with pytest.raises(NotFound):
        any_store.get_iteration(tree.grandchild)
    # The parent (whose children were removed) still updates fine.
    assert any_store.end_iteration(tree.parent).status is IterationStatus.SUCCEEDED


def test_deleting_the_version_then_the_experiment(any_store: Store, tree: Tree) -> None:
    any_store.delete_model_version(tree.version)
    any_store.delete_experiment(tree.experiment)
    after = counts(any_store)
    assert after == {
        **dict.fromkeys(after, 0),
        "project": 1,
        "project_tag": 1,
        "model": 1,
    }


def test_deleting_a_project_removes_everything_in_one_transaction(
    any_store: Store, tree: Tree
) -> None:
    other = any_store.create_project("keep")
    any_store.delete_project(tree.project)
    after = counts(any_store)
    assert after == {**dict.fromkeys(after, 0), "project": 1}
    assert any_store.list_projects() == [other]


def test_deleting_a_model_keeps_its_iterations(any_store: Store, tree: Tree) -> None:
    any_store.delete_model(tree.model)
    after = counts(any_store)
    assert (after["model"], after["model_version"], after["iteration"], after["resource"]) == (
        0,
        0,
        3,
        1,
    )


def test_missing_rows_are_not_found(any_store: Store) -> None:
    missing = "00000000-0000-0000-0000-000000000001"
    for delete, what in [
        (any_store.delete_project, "project"),
        (any_store.delete_experiment, "experiment"),
        (any_store.delete_iteration, "iteration"),
        (any_store.delete_model, "model"),
        (any_store.delete_model_version, "model version"),
    ]:
        with pytest.raises(NotFound) as raised:
            delete(missing)
        assert str(raised.value) == f"{what} not found: {missing}"
