"""``diary project``, ``diary experiment`` and ``diary iteration``."""

from __future__ import annotations

import click

from diary.cli.common import ITERATION, echo_created, echo_record, echo_records, store
from diary.enums import IterationStatus
from storage_core.cli_support import json_option

__all__ = ["experiment", "iteration", "project"]


@click.group()
def project() -> None:
    """Create, list and show projects."""


@project.command("create")
@click.argument("name")
@click.option("--description", default="", help="Free text.")
@json_option
def project_create(name: str, description: str, as_json: bool) -> None:
    """Create a project called NAME and print its id."""
    echo_created(store(create=True).create_project(name, description=description), as_json)


@project.command("list")
@json_option
def project_list(as_json: bool) -> None:
    """List all projects, oldest first."""
    echo_records(store().list_projects(), ["id", "name", "created_at", "description"], as_json)


@project.command("show")
@click.argument("project_id", metavar="PROJECT")
@json_option
def project_show(project_id: str, as_json: bool) -> None:
    """Show a project (PROJECT is an id or a unique name)."""
    echo_record(store().find_project(project_id), as_json)


@click.group()
def experiment() -> None:
    """Create, list, show and end experiments."""


@experiment.command("create")
@click.argument("project_id", metavar="PROJECT")
@click.argument("name")
@click.option("--description", default="", help="Free text.")
@json_option
def experiment_create(project_id: str, name: str, description: str, as_json: bool) -> None:
    """Create experiment NAME in PROJECT (an id or a unique name) and print its id."""
    opened = store()
    owner = opened.find_project(project_id)
    echo_created(opened.create_experiment(owner.id, name, description=description), as_json)


@experiment.command("list")
@click.argument("project_id", metavar="PROJECT")
@json_option
def experiment_list(project_id: str, as_json: bool) -> None:
    """List the experiments of PROJECT (an id or a unique name)."""
    opened = store()
    experiments = opened.list_experiments(opened.find_project(project_id).id)
    echo_records(experiments, ["id", "name", "status", "created_at", "ended_at"], as_json)


@experiment.command("show")
@click.argument("experiment_id", metavar="ID")
@json_option
def experiment_show(experiment_id: str, as_json: bool) -> None:
    """Show an experiment (an id or a unique name)."""
    echo_record(store().find_experiment(experiment_id), as_json)


@experiment.command("end")
@click.argument("experiment_id", metavar="ID")
@click.option(
    "--status",
    type=click.Choice(["finished", "stopped"]),
    default="finished",
    show_default=True,
    help="How the experiment ended.",
)
@json_option
def experiment_end(experiment_id: str, status: str, as_json: bool) -> None:
    """End an experiment (an id or a unique name)."""
    opened = store()
    echo_record(opened.end_experiment(opened.find_experiment(experiment_id).id, status), as_json)


@click.group()
def iteration() -> None:
    """Start, end, list and show iterations (runs)."""


@iteration.command("start")
@click.argument("experiment_id", metavar="EXPERIMENT")
@click.option("--parent", type=ITERATION, help="Parent iteration id (sweeps, folds, workers).")
@click.option("--notes", default="", help="Free text.")
@json_option
def iteration_start(experiment_id: str, parent: str | None, notes: str, as_json: bool) -> None:
    """Start an iteration of EXPERIMENT (an id or a unique name) and print its id."""
    opened = store()
    experiment = opened.find_experiment(experiment_id).id
    echo_created(opened.create_iteration(experiment, parent=parent, notes=notes), as_json)


@iteration.command("end")
@click.argument("iteration_id", metavar="ID", type=ITERATION)
@click.option(
    "--status",
    type=click.Choice([s.value for s in IterationStatus if s is not IterationStatus.RUNNING]),
    default="succeeded",
    show_default=True,
    help="How the iteration ended.",
)
@click.option("--error", help="The error message of a failed iteration.")
@json_option
def iteration_end(iteration_id: str, status: str, error: str | None, as_json: bool) -> None:
    """End an iteration."""
    echo_record(store().end_iteration(iteration_id, status, error=error), as_json)
