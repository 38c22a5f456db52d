"""Projects, experiments, tags: create, get, list, update, delete, on DuckDB and SQLite."""

from __future__ import annotations

from uuid import uuid4

import pytest

from diary.enums import ExperimentStatus
from diary.errors import AlreadyExists, InvalidValue, NotFound
from diary.store import Store


def test_project_crud(any_store: Store) -> None:
    created = any_store.create_project("mnist", description="digits", tags=["vision", "vision"])
    assert created.name == "mnist"
    assert created.created_at.tzinfo is not None
    fetched = any_store.get_project(created.id)
    assert fetched == created
    assert any_store.get_project(str(created.id)) == created
    assert any_store.get_tags("project", created.id) == ["vision"]

    updated = any_store.update_project(created.id, name="mnist-2", description="")
    assert (updated.name, updated.description) == ("mnist-2", "")
    assert updated.updated_at is not None
    assert any_store.update_project(created.id, name="mnist-2") == updated  # no-op: no new time

    any_store.delete_project(created.id)
    with pytest.raises(NotFound) as raised:
        any_store.get_project(created.id)
    assert str(raised.value) == f"project not found: {created.id}"


def test_lists_are_in_creation_order(any_store: Store) -> None:
    names = [f"p{i}" for i in range(12)]
    for name in names:
        any_store.create_project(name)
    assert [p.name for p in any_store.list_projects()] == names
    assert [p.name for p in any_store.list_projects(name="p3")] == ["p3"]


def test_malformed_and_missing_ids_are_not_found(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        store.get_project("not-a-uuid")
    assert str(raised.value) == "project not found: not-a-uuid"
    missing = uuid4()
    with pytest.raises(NotFound) as raised:
        store.create_experiment(missing, "e")
    assert str(raised.value) == f"project not found: {missing}"


def test_empty_names_are_refused(store: Store) -> None:
    with pytest.raises(InvalidValue) as raised:
        store.create_project("  ")
    assert str(raised.value) == "invalid project name ' ': must not be empty"


def test_find_project_by_id_or_unique_name(store: Store) -> None:
    first = store.create_project("alpha")
    twin = store.create_project("twin")
    with pytest.raises(AlreadyExists) as taken:
        store.create_project("twin")
    assert str(taken.value) == (
        f"a project named 'twin' exists already ({twin.id}); get_or_create_project (or its id) "
        "reuses it"
    )
    _duplicate_project(store, "twin")  # as a database from before names were unique has
    assert store.find_project("alpha") == first
    assert store.find_project(str(first.id)) == first
    with pytest.raises(InvalidValue) as raised:
        store.find_project("twin")
    assert str(raised.value) == "invalid project name 'twin': 2 projects have this name; use an id"
    with pytest.raises(NotFound) as missing:
        store.find_project("nobody")
    assert str(missing.value) == "project not found: nobody"


def test_experiment_lifecycle(any_store: Store) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "baseline", tags=["a", "b"])
    assert experiment.status is ExperimentStatus.IN_PROGRESS
    assert experiment.ended_at is None
    assert any_store.list_experiments(project.id) == [experiment]
    assert any_store.find_experiment("baseline", project="p") == experiment

    stopped = any_store.end_experiment(experiment.id, "stopped")
    assert stopped.status is ExperimentStatus.STOPPED
    assert stopped.ended_at is not None
    resumed = any_store.update_experiment(experiment.id, status="in_progress", name="b2")
    assert (resumed.status, resumed.ended_at, resumed.name) == (
        ExperimentStatus.IN_PROGRESS,
        None,
        "b2",
    )
    finished = any_store.end_experiment(experiment.id)
    assert finished.status is ExperimentStatus.FINISHED

    with pytest.raises(InvalidValue) as raised:
        any_store.end_experiment(experiment.id, "paused")
    assert str(raised.value) == (
        "invalid experiment status 'paused': expected one of in_progress, stopped, finished"
    )
    with pytest.raises(InvalidValue) as raised:
        any_store.end_experiment(experiment.id, "in_progress")
    assert str(raised.value) == (
        "invalid experiment status 'in_progress': an ended experiment is finished or stopped"
    )


def test_tags_add_remove(any_store: Store) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    assert any_store.add_tags("experiment", experiment.id, "b", "a", "b") == ["a", "b"]
    assert any_store.add_tags("experiment", experiment.id, "a", "c") == ["a", "b", "c"]
    assert any_store.remove_tags("experiment", experiment.id, "b", "zzz") == ["a", "c"]
    with pytest.raises(InvalidValue) as raised:
        any_store.get_tags("model", experiment.id)  # type: ignore[arg-type]
    assert str(raised.value) == (
        "invalid tag target 'model': expected one of project, experiment, iteration"
    )
    with pytest.raises(NotFound):
        any_store.add_tags("iteration", uuid4(), "x")


def test_records_serialise_to_json_friendly_dicts(store: Store) -> None:
    project = store.create_project("p", description="d")
    data = project.to_dict()
    assert data == {
        "id": str(project.id),
        "name": "p",
        "description": "d",
        "created_at": project.created_at.isoformat(),
        "updated_at": None,
    }
    experiment = store.create_experiment(project.id, "e")
    assert experiment.to_dict()["status"] == "in_progress"


def _duplicate_project(store: Store, name: str) -> None:
    from datetime import UTC, datetime
    from uuid import uuid4

    import sqlalchemy as sa

    from diary import models as m

    with store.transaction() as conn:
        conn.execute(
            sa.insert(m.project).values(id=uuid4(), name=name, created_at=datetime.now(UTC))
        )


def test_get_or_create_makes_a_script_rerunnable(store: Store) -> None:
    project = store.get_or_create_project("mnist", description="digits")
    assert store.get_or_create_project("mnist") == project
    experiment = store.get_or_create_experiment(project.id, "baseline")
    assert store.get_or_create_experiment(project.id, "baseline") == experiment
    other = store.get_or_create_experiment(store.get_or_create_project("cifar").id, "baseline")
    assert other.id != experiment.id  # names are unique within a project, not across
    assert [p.name for p in store.list_projects()] == ["mnist", "cifar"]
    with pytest.raises(AlreadyExists):
        store.create_experiment(project.id, "baseline")
    _duplicate_project(store, "mnist")
    with pytest.raises(InvalidValue, match="several projects have this name; use an id"):
        store.get_or_create_project("mnist")
