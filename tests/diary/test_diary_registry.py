"""The model registry: unique names, monotonic versions, stages and promotion."""

from __future__ import annotations

from collections.abc import Callable
from uuid import UUID

import pytest

from diary.enums import ModelStage
from diary.errors import AlreadyExists, InvalidValue, NotFound
from diary.store import Store


def test_models_and_versions(any_store: Store, insert_resource: Callable[..., UUID]) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    iteration = any_store.create_iteration(experiment.id, snapshot=False)
    model = any_store.create_model(project.id, "clf", description="classifier")
    assert any_store.list_models(project.id) == [model]
    assert any_store.find_model("clf", project="p") == model
    with pytest.raises(AlreadyExists) as raised:
        any_store.create_model(project.id, "clf")
    assert str(raised.value) == f"project {project.id} already has a model 'clf'"

    artifact = insert_resource(any_store, experiment.id, iteration.id)
    first = any_store.create_model_version(model.id, iteration.id, resource_id=artifact)
    second = any_store.create_model_version(model.id, iteration.id, stage="staging")
    assert (first.version, first.stage, first.resource_id) == (1, ModelStage.NONE, artifact)
    assert (second.version, second.stage) == (2, ModelStage.STAGING)
    any_store.delete_model_version(second.id)
    third = any_store.create_model_version(model.id, iteration.id)
    assert third.version == 2  # the highest existing version plus one
    assert [v.version for v in any_store.list_model_versions(model.id)] == [1, 2]
    assert any_store.update_model(model.id, description="new").description == "new"


def test_promotion_archives_the_previous_production_version(any_store: Store) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    iteration = any_store.create_iteration(experiment.id, snapshot=False)
    model = any_store.create_model(project.id, "clf")
    other = any_store.create_model(project.id, "other")
    v1 = any_store.create_model_version(model.id, iteration.id, stage="production")
    untouched = any_store.create_model_version(other.id, iteration.id, stage="production")
    v2 = any_store.create_model_version(model.id, iteration.id)
    promoted = any_store.set_model_version_stage(v2.id, "production")
    assert promoted.stage is ModelStage.PRODUCTION
    assert promoted.updated_at is not None
    assert any_store.get_model_version(v1.id).stage is ModelStage.ARCHIVED
    assert any_store.get_model_version(untouched.id).stage is ModelStage.PRODUCTION
    v3 = any_store.create_model_version(model.id, iteration.id, stage=ModelStage.PRODUCTION)
    stages = [(v.version, v.stage) for v in any_store.list_model_versions(model.id)]
    assert stages == [
        (1, ModelStage.ARCHIVED),
        (2, ModelStage.ARCHIVED),
        (3, ModelStage.PRODUCTION),
    ]
    assert any_store.set_model_version_stage(v3.id, "none").stage is ModelStage.NONE
    with pytest.raises(InvalidValue) as raised:
        any_store.set_model_version_stage(v3.id, "live")
    assert str(raised.value) == (
        "invalid model stage 'live': expected one of none, staging, production, archived"
    )


def test_versions_stay_within_their_project(
    any_store: Store, insert_resource: Callable[..., UUID]
) -> None:
    mine = any_store.create_project("mine")
    theirs = any_store.create_project("theirs")
    foreign_experiment = any_store.create_experiment(theirs.id, "e")
    foreign = any_store.create_iteration(foreign_experiment.id, snapshot=False)
    model = any_store.create_model(mine.id, "clf")
    with pytest.raises(InvalidValue) as raised:
        any_store.create_model_version(model.id, foreign.id)
    assert str(raised.value) == (
        f"invalid iteration '{foreign.id}': belongs to another project than the model"
    )
    own_experiment = any_store.create_experiment(mine.id, "e")
    own = any_store.create_iteration(own_experiment.id, snapshot=False)
    artifact = insert_resource(any_store, foreign_experiment.id)
    with pytest.raises(InvalidValue):
        any_store.create_model_version(model.id, own.id, resource_id=artifact)
    with pytest.raises(NotFound) as missing:
        any_store.create_model_version(model.id, own.id, resource_id=foreign_experiment.id)
    assert str(missing.value) == f"artifact not found: {foreign_experiment.id}"


def test_update_model_version(any_store: Store) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    iteration = any_store.create_iteration(experiment.id, snapshot=False)
    model = any_store.create_model(project.id, "clf")
    version = any_store.create_model_version(model.id, iteration.id)
    updated = any_store.update_model_version(version.id, description="tuned", stage="staging")
    assert (updated.description, updated.stage) == ("tuned", ModelStage.STAGING)
    assert any_store.get_model_version(version.id) == updated
