"""``diary artifact``: store, fetch, list, show, delete, migrate, verify and relocate artifacts.

``diary artifacts`` is the older spelling of the bulk commands, kept as a hidden alias of this group
so that scripts written for it go on working.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import click

from diary.cli.common import ARTIFACT, ITERATION, echo_record, echo_records, settings, store
from storage_core.cli_support import echo_json, json_option

if TYPE_CHECKING:
    from storage_core.migration import ProgressEvent

__all__ = ["artifact", "artifacts", "compact_command_result"]

_BACKENDS = ["inline", "filesystem", "s3"]
_PUT_COLUMNS = ["id", "name", "backend", "size_bytes", "content_hash"]
_LIST_COLUMNS = ["id", "name", "backend", "size_bytes", "iteration_id", "created_at"]


@click.group()
def artifact() -> None:
    """Store, fetch, list, show, delete, migrate, verify and relocate artifacts."""


@artifact.command("put")
@click.argument("experiment_id", metavar="EXPERIMENT")
# Not click.Path(exists=True): the library says what is wrong with a path (no such file, not a
# regular file), with exit status 1 like every other bad input.
@click.argument("paths", metavar="PATH...", nargs=-1, required=True)
@click.option("--name", help="The artifact's name (one PATH only) [default: the file name].")
@click.option("--iteration", "iteration_id", type=ITERATION, help="The iteration they belong to.")
@click.option("--description", default="", help="Free text.")
@click.option(
    "--media-type", help="e.g. application/json (one PATH only) [default: guessed from the name]."
)
@click.option(
    "--workers", type=click.IntRange(min=1), default=8, show_default=True,
    help="Files transferred at once (several PATHs).",
)  # fmt: skip
@json_option
def artifact_put(
    experiment_id: str,
    paths: tuple[str, ...],
    name: str | None,
    iteration_id: str | None,
    description: str,
    media_type: str | None,
    workers: int,
    as_json: bool,
) -> None:
    """Store the file PATH as an artifact of EXPERIMENT (an id or a unique name) in the
    configured backend.

    Prints the id, backend, uri, size and sha256. Several PATHs are stored at once, all or
    none, and listed as a table (a JSON array with --json).
    """
    if len(paths) > 1:
        for option, given in (("--name", name), ("--media-type", media_type)):
            if given is not None:
                raise click.UsageError(f"{option} applies to one PATH; {len(paths)} were given")
    experiment_id = str(store().find_experiment(experiment_id).id)
    if len(paths) > 1:
        records = store().put_artifacts(
            experiment_id, paths, iteration_id=iteration_id, description=description,
            workers=workers,
        )  # fmt: skip
        echo_records(records, _PUT_COLUMNS, as_json)
        return
    record = store().put_artifact(
        experiment_id,
        paths[0],
        name=name,
        iteration_id=iteration_id,
        description=description,
        media_type=media_type,
    )
    if as_json:
        echo_json(record.to_dict())
        return
    for key, value in (
        ("id", record.id),
        ("backend", record.backend),
        ("uri", record.uri),
        ("size", record.size_bytes),
        ("sha256", record.content_hash),
    ):
        click.echo(f"{key:<8} {value}".rstrip())


@artifact.command("get")
@click.argument("resource_id", metavar="ID", type=ARTIFACT)
@click.option(
    "-o",
    "--output",
    help="Where to write the bytes; '-' for stdout [default: the artifact's name in the "
    "current folder, never overwritten].",
)
def artifact_get(resource_id: str, output: str | None) -> None:
    """Fetch the bytes of artifact ID, checking size and sha256 on the way."""
    opened = store()
    if output == "-":
        out: BinaryIO = sys.stdout.buffer
        with opened.open_artifact(resource_id) as stream:
            while chunk := stream.read(1 << 20):
                out.write(chunk)
        out.flush()
        return
    if output is None:
        from diary.errors import AlreadyExists

        record = opened.get_resource(resource_id)
        # The name is metadata: only its last part, and never "." or "..", names a file here;
        # a name no file can have (NUL, a backslash) falls back to the artifact's id.
        name = Path(record.name).name
        usable = name not in ("", ".", "..") and not {"\0", "\\"} & set(name)
        target = Path(name if usable else str(record.id))
        # lexists: a dangling symlink with that name is there too, and is not replaced.
        if os.path.lexists(target):
            raise AlreadyExists(
                "file", str(target), f"{target} exists; choose another name with -o"
            )
        output = str(target)
    click.echo(str(opened.save_artifact(resource_id, output)))


@artifact.command("list")
@click.argument("experiment_id", metavar="EXPERIMENT")
@click.option(
    "--iteration", "iteration_id", type=ITERATION, help="Only the artifacts of this iteration."
)
@json_option
def artifact_list(experiment_id: str, iteration_id: str | None, as_json: bool) -> None:
    """List the artifacts of EXPERIMENT (an id or a unique name), oldest first."""
    opened = store()
    experiment = opened.find_experiment(experiment_id).id
    records = opened.list_resources(experiment, iteration_id=iteration_id)
    echo_records(records, _LIST_COLUMNS, as_json)


@artifact.command("show")
@click.argument("resource_id", metavar="ID", type=ARTIFACT)
@json_option
def artifact_show(resource_id: str, as_json: bool) -> None:
    """Show the metadata of artifact ID (backend, uri, size, sha256, ...)."""
    echo_record(store().get_resource(resource_id), as_json)


@artifact.command("rm")
@click.argument("resource_id", metavar="ID", type=ARTIFACT)
@json_option
def artifact_rm(resource_id: str, as_json: bool) -> None:
    """Delete artifact ID: its row, then its bytes."""
    record = store().delete_resource(resource_id)
    if as_json:
        echo_json(record.to_dict())
    else:
        click.echo(f"deleted {record.id}")


@contextmanager
def _progress_bar(label: str) -> Iterator[Callable[[ProgressEvent], None] | None]:
    """A progress callback drawing a bar on stderr, only when stderr is a terminal."""
    if not sys.stderr.isatty():
        yield None
        return
    bar: Any = None
    try:

        def update(event: ProgressEvent) -> None:
            nonlocal bar
            if bar is None:
                bar = click.progressbar(length=event.total or 0, label=label, file=sys.stderr)
                bar.__enter__()
            bar.update(1)

        yield update
    finally:
        if bar is not None:
            bar.__exit__(None, None, None)


@artifact.command("migrate")
@click.option("--to", "target", type=click.Choice(_BACKENDS), help="[default: the configured one]")
@click.option(
    "--from",
    "source",
    type=click.Choice([*_BACKENDS, "any"]),
    default="inline",
    show_default=True,
    help="The backend whose artifacts move; any: every artifact not on the target.",
)
@click.option("--dry-run", is_flag=True, help="Only report what would move.")
@click.option("--workers", type=click.IntRange(1, 64), default=4, show_default=True)
@click.option("--keep-source", is_flag=True, help="Do not delete the source bytes.")
@click.option("--compact", is_flag=True, help="Compact the database file afterwards.")
@json_option
def artifacts_migrate(
    target: str | None,
    source: str,
    dry_run: bool,
    workers: int,
    keep_source: bool,
    compact: bool,
    as_json: bool,
) -> None:
    """Move artifacts to another backend; safe to interrupt and to run again.

    Prints the report (planned, moved, skipped, failed with reasons, bytes moved); exits
    with status 1 when an artifact failed.
    """
    from diary.artifacts.migrate import migrate_artifacts

    opened = store()
    with _progress_bar("migrating artifacts") as progress:
        report = migrate_artifacts(
            opened,
            target,
            source,
            dry_run=dry_run,
            workers=workers,
            delete_source=not keep_source,
            progress=progress,
        )
    result: dict[str, Any] = report.to_dict()
    if compact and not dry_run:
        result["compaction"] = compact_command_result()
    if as_json:
        echo_json(result)
    else:
        click.echo(report.summary())
        for failure in report.failed:
            click.echo(f"failed: {failure.item}: {failure.error}")
        for warning in report.warnings:
            click.echo(f"warning: {warning}")
        if "compaction" in result:
            click.echo(result["compaction"]["summary"])
    if not report.ok:
        click.get_current_context().exit(1)


def compact_command_result() -> dict[str, Any]:
    """Compact the invocation's database (closing the store first): the report as a dict."""
    from diary.artifacts.compact import compact_database
    from diary.cli.common import close_store
    from diary.errors import StorageError

    config = settings()
    if config.db_url and not config.is_duckdb:
        raise StorageError("compaction applies to DuckDB files only")
    path = config.db_file
    if config.db_url:
        from storage_core.database import database_path

        found = database_path(config.db_url)
        if found is None:
            raise StorageError("compaction applies to DuckDB files only")
        path = found
    close_store()  # the swap needs the file closed by this process too
    report = compact_database(path, lock_timeout=config.lock_timeout)
    return {**report.to_dict(), "summary": report.summary()}


@artifact.command("verify")
@click.option("--quick", is_flag=True, help="Check existence and size only (no hashing).")
@click.option("--gc", is_flag=True, help="Delete orphaned objects older than --grace.")
@click.option(
    "--grace",
    type=click.FloatRange(min=0),
    default=900,
    show_default=True,
    help="Seconds an orphan must be old before --gc deletes it (uploads in flight are young).",
)
@click.option(
    "--include-borrowed",
    is_flag=True,
    help="With --gc, also delete orphans this database did not write (only for a root no "
    "other database, copy or backup uses).",
)
@json_option
def artifacts_verify(
    quick: bool, gc: bool, grace: float, include_borrowed: bool, as_json: bool
) -> None:
    """Re-hash every artifact and list missing, corrupt and orphaned objects.

    Orphans are objects under the configured filesystem root and S3 bucket/prefix that no
    artifact points at. --gc deletes only the ones this database wrote: a root can be shared
    with other databases and copies. Exits with status 1 when anything is wrong.
    """
    from datetime import timedelta

    from diary.artifacts.verify import verify_artifacts

    if include_borrowed and not gc:
        raise click.UsageError("--include-borrowed applies to --gc")
    report = verify_artifacts(
        store(),
        quick=quick,
        gc=gc,
        grace=timedelta(seconds=grace),
        include_borrowed=include_borrowed,
    )
    if as_json:
        echo_json(report.to_dict())
    else:
        for problem in report.problems:
            shown = problem.uri or "inline"
            click.echo(
                f"{problem.problem}: {problem.id} {problem.name!r} {shown}: {problem.detail}"
            )
        for orphan in report.orphans:
            note = (
                " (deleted)" if orphan.deleted else " (borrowed, kept)" if orphan.borrowed else ""
            )
            click.echo(f"orphan{note}: {orphan.uri}")
        click.echo(report.summary())
    if not report.ok:
        click.get_current_context().exit(1)


@artifact.command("relocate")
@click.argument("old_root", metavar="OLD")
@click.argument("new_root", metavar="NEW")
@click.option("--dry-run", is_flag=True, help="Only check and report.")
@json_option
def artifacts_relocate(old_root: str, new_root: str, dry_run: bool, as_json: bool) -> None:
    """Point artifacts under OLD (a folder or s3:// URI) at the same keys under NEW.

    Only artifacts whose bytes are found under NEW with the recorded size are rewritten;
    the others are listed and the command exits with status 1.
    """
    from diary.artifacts.verify import relocate_artifacts

    report = relocate_artifacts(store(), old_root, new_root, dry_run=dry_run)
    if as_json:
        echo_json(report.to_dict())
    else:
        for problem in report.missing:
            click.echo(f"{problem.problem}: {problem.id} {problem.uri}: {problem.detail}")
        verb = "would rewrite" if dry_run else "rewrote"
        click.echo(
            f"{verb} {report.rewritten} artifacts from {report.old_root} to {report.new_root}"
        )
    if not report.ok:
        click.get_current_context().exit(1)


@click.group(hidden=True)
def artifacts() -> None:
    """Older spelling of ``diary artifact`` (hidden; kept for scripts)."""


for _name, _command in artifact.commands.items():
    artifacts.add_command(_command, _name)
