"""The ``diary`` command line: a thin Click layer over the :mod:`diary` library.

Heavy modules (SQLAlchemy, DuckDB, alembic, s3fs) are imported inside the commands that
need them so that ``diary --help`` starts instantly.
"""

from __future__ import annotations

import click

from storage_core.cli_support import ErrorBoundaryGroup, debug_option

from diary import __version__


@click.group(cls=ErrorBoundaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="diary")
@click.option(
    "--db",
    "db_path",
    type=click.Path(dir_okay=False),
    envvar="DEARDIARY_DB_FILE",
    help="DuckDB database file [env: DEARDIARY_DB_FILE; default: ./deardiary.db].",
)
@click.option(
    "--env-file",
    type=click.Path(dir_okay=False, exists=True),
    help="Read DEARDIARY_* settings from this .env file (the environment wins).",
)
@debug_option
@click.pass_context
def cli(ctx: click.Context, db_path: str | None, env_file: str | None) -> None:
    """Experiment tracking storage: projects, experiments, iterations, metrics, artifacts."""
    ctx.obj = {"db_path": db_path, "env_file": env_file}


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="diary")
