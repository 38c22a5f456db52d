"""The ``buildlog`` command line: a thin Click layer over the :mod:`buildlog` library.

Heavy modules (SQLAlchemy, alembic) are imported inside the commands that need them so
that ``buildlog --help`` starts instantly.
"""

from __future__ import annotations

import click

from storage_core.cli_support import ErrorBoundaryGroup, debug_option

from buildlog import __version__


@click.group(cls=ErrorBoundaryGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="buildlog")
@click.option(
    "--project-root",
    type=click.Path(file_okay=False),
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
    ctx.obj = {"project_root": project_root, "db": db}


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="buildlog")
