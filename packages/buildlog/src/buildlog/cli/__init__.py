"""The ``buildlog`` command line: a thin Click layer over the :mod:`buildlog` library.

Commands parse arguments, call one library function and print: results on stdout (a table,
or JSON with ``--json``), notices and errors on stderr. Errors are turned into
``Error: <one line>`` and exit status 1 in one place, storage-core's ErrorBoundaryGroup.
SQLAlchemy and alembic are imported inside the commands that need them, so that
``buildlog --help`` starts instantly.
"""

from __future__ import annotations

import click

from buildlog import __version__
from buildlog.cli.admin import db, export_cmd, import_cmd, info, migrate, projects
from buildlog.cli.common import CliState
from buildlog.cli.gauntlet import gauntlet, import_seed, ingest_seeds
from buildlog.cli.journal import diff, skills, status
from buildlog.cli.recording import (
    bandit,
    decisions,
    experiment,
    learning,
    learnings,
    mistakes,
    promote,
    reject,
    reward,
    rewards,
    sessions,
)
from buildlog.cli.reports import overview  # also adds ``experiment metrics`` and ``report``
from storage_core.cli_support import ErrorBoundaryGroup, debug_option

__all__ = ["cli", "main"]


@click.group(cls=ErrorBoundaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="buildlog")
@click.option(
    "--project-root",
    # Checked by the library, which reports a bad folder as one "Error:" line.
    type=click.Path(path_type=str),
    metavar="DIRECTORY",
    help="Project whose records to use [default: the current directory].",
)
@click.option(
    "--db",
    "db",
    envvar="BUILDLOG_DB",
    help="Database file or SQLAlchemy URL [env: BUILDLOG_DB; default: ~/.buildlog/buildlog.db].",
)
@debug_option
@click.pass_context
def cli(ctx: click.Context, project_root: str | None, db: str | None) -> None:
    """A global store for what coding agents learned, per project."""
    if ctx.get_parameter_source("db") is click.core.ParameterSource.ENVIRONMENT:
        db = None  # the library reads BUILDLOG_DB itself, and names it in its errors
    ctx.obj = CliState(project_root=project_root, db=db)


for _command in (
    info,
    projects,
    migrate,
    export_cmd,
    import_cmd,
    db,
    reward,
    rewards,
    experiment,
    sessions,
    mistakes,
    overview,
    learning,
    learnings,
    promote,
    reject,
    decisions,
    status,
    diff,
    skills,
    bandit,
    gauntlet,
    import_seed,
    ingest_seeds,
):
    cli.add_command(_command)


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="buildlog")
