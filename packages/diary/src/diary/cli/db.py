"""``diary db``: schema upgrade, current revision, check, backup and compaction."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from diary.cli.common import settings
from storage_core.cli_support import echo_json, json_option

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from diary.config import Settings

__all__ = ["db"]


def _existing_engine() -> tuple[Settings, Engine]:
    """The engine of a database that must exist already (these commands never create one)."""
    from diary.errors import NotFound
    from diary.schema import create_engine

    config = settings()
    if not config.db_url and not config.db_file.exists():
        raise NotFound("database", str(config.db_file))
    return config, create_engine(config)


def _share_objects_with_the_copy(engine: Engine) -> None:
    """The copy will point at the same artifact objects: from now on neither side deletes
    them (see diary.artifacts.ownership). A read-only database deletes nothing anyway."""
    import sqlalchemy as sa

    from diary.artifacts.ownership import share_with_a_copy
    from storage_core.database import read_only_database_error

    try:
        with engine.begin() as conn:
            if sa.inspect(conn).has_table("store_identity"):
                share_with_a_copy(conn)
    except sa.exc.DBAPIError as err:
        if read_only_database_error("", err) is None:
            raise


@click.group()
def db() -> None:
    """Manage the database: schema revision, upgrade, backup, compaction."""


@db.command()
@json_option
def upgrade(as_json: bool) -> None:
    """Create the database or upgrade its schema to the newest revision (backing it up first)."""
    from diary.schema import create_engine, prepare_database

    config = settings()
    engine = create_engine(config)
    try:
        status = prepare_database(engine, config)
    finally:
        engine.dispose()
    if as_json:
        echo_json(
            {
                "revision": status.current,
                "previous": status.previous,
                "action": status.action,
                "backup": str(status.backup) if status.backup else None,
            }
        )
        return
    messages = {
        "created": f"created {config.describe()} at revision {status.current}",
        "upgraded": f"upgraded {config.describe()} from {status.previous} to {status.current}",
        "adopted": f"adopted {config.describe()} at revision {status.current}",
        "none": f"{config.describe()} is already at revision {status.current}",
    }
    click.echo(messages[status.action])
    if status.backup:
        click.echo(f"backup: {status.backup}")


@db.command()
@json_option
def current(as_json: bool) -> None:
    """Print the schema revision the database is at ("none" for an empty database)."""
    from diary.schema import schema_environment
    from storage_core.schema import current_revision

    _, engine = _existing_engine()
    try:
        revision = current_revision(engine, schema_environment())
    finally:
        engine.dispose()
    if as_json:
        echo_json({"revision": revision})
    else:
        click.echo(revision or "none")


@db.command()
@json_option
def check(as_json: bool) -> None:
    """Exit 0 when the schema is at the newest revision, else say what is wrong and exit 1."""
    from diary.schema import schema_environment
    from storage_core.schema import check as check_schema

    config, engine = _existing_engine()
    try:
        status = check_schema(engine, schema_environment())
    finally:
        engine.dispose()
    if as_json:
        echo_json({"revision": status.current, "head": status.head, "up_to_date": True})
    else:
        click.echo(f"{config.describe()} is up to date at revision {status.current}")


@db.command()
@click.argument("dest", type=click.Path(dir_okay=False))
@json_option
def backup(dest: str, as_json: bool) -> None:
    """Write a consistent copy of the database file to DEST."""
    from storage_core.database import backup_database

    config, engine = _existing_engine()
    try:
        _share_objects_with_the_copy(engine)
        written = backup_database(engine, dest, lock_timeout=config.lock_timeout)
    finally:
        engine.dispose()
    if as_json:
        echo_json({"backup": str(written)})
    else:
        click.echo(str(written))


@db.command()
@json_option
def compact(as_json: bool) -> None:
    """Rewrite the DuckDB file into a new one and swap it in, giving back unused space.

    Moving artifacts out of inline (or deleting rows) leaves the file as large as before;
    compaction shrinks it. Other processes of ours wait while the files are swapped.
    """
    from diary.cli.artifacts import compact_command_result
    from diary.errors import NotFound

    config = settings()
    if not config.db_url and not config.db_file.exists():
        raise NotFound("database", str(config.db_file))
    result = compact_command_result()
    if as_json:
        echo_json({key: value for key, value in result.items() if key != "summary"})
    else:
        click.echo(result["summary"])


@db.command("copy")
@click.option(
    "--to", "target", required=True, metavar="URL|FILE",
    help="The database to copy into: a SQLAlchemy URL (postgresql+psycopg://...) or a DuckDB "
    "file; created or upgraded first.",
)  # fmt: skip
@json_option
def copy(target: str, as_json: bool) -> None:
    """Copy everything in the database (metadata and inline artifact bytes) into another
    database: a local file onto a team's PostgreSQL server or back. Verified at the end;
    run it again after an interruption to finish (rows already there are skipped)."""
    from pathlib import Path

    from diary.config import Settings
    from diary.copy import copy_store
    from diary.errors import InvalidValue
    from diary.schema import create_engine, prepare_database
    from storage_core.cli_support import copy_progress, echo_copy_report

    config, source = _existing_engine()
    if "://" in target:
        destination = Settings(config.db_file, db_url=target, lock_timeout=config.lock_timeout)
    else:
        destination = Settings(db_file=Path(target).expanduser().absolute(),
                               lock_timeout=config.lock_timeout)  # fmt: skip
    if destination.url == config.url:
        raise InvalidValue("--to", target, "is the database being copied")
    prepare_database(source, config)
    engine = create_engine(destination)
    try:
        prepare_database(engine, destination)
        report = copy_store(
            source, engine, source_name=config.describe(), target_name=destination.describe(),
            progress=None if as_json else copy_progress,
        )  # fmt: skip
    finally:
        engine.dispose()
        source.dispose()
    echo_copy_report(report, as_json)
