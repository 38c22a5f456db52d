"""``diary model``: the model registry."""

from __future__ import annotations

import click

from diary.cli.common import (
    ARTIFACT,
    ITERATION,
    MODEL,
    MODEL_VERSION,
    echo_created,
    echo_record,
    echo_records,
    store,
)
from diary.enums import ModelStage
from storage_core.cli_support import json_option

__all__ = ["model"]


@click.group()
def model() -> None:
    """Register models and their versions; move versions between stages."""


@model.command("create")
@click.argument("project_id", metavar="PROJECT")
@click.argument("name")
@click.option("--description", default="", help="Free text.")
@json_option
def model_create(project_id: str, name: str, description: str, as_json: bool) -> None:
    """Register model NAME in PROJECT (an id or a unique name) and print its id."""
    opened = store()
    owner = opened.find_project(project_id)
    echo_created(opened.create_model(owner.id, name, description=description), as_json)


@model.command("list")
@click.argument("project_id", metavar="PROJECT")
@json_option
def model_list(project_id: str, as_json: bool) -> None:
    """List the models of PROJECT (an id or a unique name)."""
    opened = store()
    models = opened.list_models(opened.find_project(project_id).id)
    echo_records(models, ["id", "name", "created_at", "description"], as_json)


@model.group("version")
def version() -> None:
    """Create, list and stage model versions."""


@version.command("create")
@click.argument("model_id", metavar="MODEL", type=MODEL)
@click.option(
    "--iteration", "iteration_id", type=ITERATION, required=True, help="The producing iteration."
)
@click.option("--artifact", "artifact_id", type=ARTIFACT, help="The artifact holding the model.")
@click.option("--description", default="", help="Free text.")
@json_option
def version_create(
    model_id: str, iteration_id: str, artifact_id: str | None, description: str, as_json: bool
) -> None:
    """Register the next version of MODEL (an id) and print its id."""
    created = store().create_model_version(
        model_id, iteration_id, resource_id=artifact_id, description=description
    )
    echo_created(created, as_json)


@version.command("list")
@click.argument("model_id", metavar="MODEL", type=MODEL)
@json_option
def version_list(model_id: str, as_json: bool) -> None:
    """List the versions of MODEL (an id)."""
    versions = store().list_model_versions(model_id)
    echo_records(versions, ["id", "version", "stage", "iteration_id", "created_at"], as_json)


@version.command("stage")
@click.argument("version_id", metavar="VERSION", type=MODEL_VERSION)
@click.argument("stage", type=click.Choice([s.value for s in ModelStage]))
@json_option
def version_stage(version_id: str, stage: str, as_json: bool) -> None:
    """Move VERSION (an id) to STAGE; production archives the previous production version."""
    echo_record(store().set_model_version_stage(version_id, stage), as_json)
