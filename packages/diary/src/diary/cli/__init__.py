"""The ``diary`` command line: a thin Click layer over the :mod:`diary` library.

Each command parses its arguments, calls one library function and prints. Errors are turned
into ``Error: <one line>`` and exit status 1 in one place (storage_core's
``ErrorBoundaryGroup``). SQLAlchemy, DuckDB, alembic and pyarrow are imported inside the
commands that need them, so ``diary --help`` starts instantly.
"""

from __future__ import annotations

import click

from diary import __version__
from diary.cli import runs as _runs  # noqa: F401 - adds the iteration read commands
from diary.cli.artifacts import artifact, artifacts
from diary.cli.common import CliState
from diary.cli.compare import compare
from diary.cli.db import db
from diary.cli.entities import experiment, iteration, project
from diary.cli.plot import metric_plot as _metric_plot  # noqa: F401 - adds its command
from diary.cli.registry import model
from diary.cli.settings import config
from diary.cli.tracking import log, metric
from storage_core.cli_support import ErrorBoundaryGroup, debug_option

__all__ = ["cli", "main"]


@click.group(cls=ErrorBoundaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diary")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    help="DuckDB database file; wins over DEARDIARY_DB_FILE and DEARDIARY_DB_URL "
    "[default: ./deardiary.db].",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Read DEARDIARY_* settings from this .env file (the environment wins).",
)
@debug_option
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, env_file: str | None) -> None:
    """Experiment tracking: projects, experiments, iterations, metrics, models, artifacts."""
    ctx.obj = CliState(db_path=db_path, env_file=env_file)
    ctx.call_on_close(ctx.obj.close)


for _command in (
    db,
    project,
    experiment,
    iteration,
    log,
    metric,
    model,
    artifact,
    artifacts,
    config,
    compare,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="diary")
