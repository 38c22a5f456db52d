"""Commands about the store itself: info, projects, migrate, export, import, db."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from buildlog.cli.common import CliState, emit, pass_state, resolve, resolve_sqlite
from storage_core.cli_support import echo_json, json_option

if TYPE_CHECKING:
    from buildlog.backends.resolve import Resolution
    from buildlog.migrate import MigrateResult

__all__ = ["db", "export_cmd", "import_cmd", "info", "migrate", "projects"]


def _info(state: CliState) -> dict[str, Any]:
    from buildlog.backends import EVENT_KINDS
    from buildlog.backends.legacy import LegacyBackend

    resolution = resolve(state, create=False)
    backend = resolution.backend
    decisions = backend.load_skill_decisions()
    active = backend.load_active_session()
    counts: dict[str, int] = {kind: backend.count_events(kind) for kind in EVENT_KINDS}
    counts |= {
        "learnings": len(backend.load_learnings()),
        "promoted": sum(d.decision == "promoted" for d in decisions),
        "rejected": sum(d.decision == "rejected" for d in decisions),
        "bandit_arms": len(backend.load_bandit_state()),
    }
    layout = resolution.layout
    malformed: list[str] = []
    if isinstance(backend, LegacyBackend):
        backend.scan()
        malformed = [str(issue) for issue in backend.issues]
    return {
        "backend": backend.kind,
        "resolution_case": resolution.case,
        "reason": _reason(resolution),
        "database": resolution.location.display(),
        "database_exists": resolution.location.exists(),
        "project_id": resolution.identity.id,
        "project_id_source": resolution.identity.source,
        "project_name": resolution.identity.name,
        "project_root": str(resolution.identity.path),
        "counts": counts,
        "active_session": active.id if active else None,
        "legacy_dir": str(layout.data_dir) if layout else None,
        "legacy_files_pending": [str(p) for p in layout.pending_files()] if layout else [],
        "legacy_malformed_lines": malformed,
    }


def _reason(resolution: Resolution) -> str:
    if resolution.case == 3 and resolution.layout is None:
        return "nothing recorded yet: no database, no legacy files (the first write creates it)"
    if not resolution.registered:
        return "this project is not in the database yet (the first write registers it)"
    return _REASONS[resolution.case]


# What each way of choosing the backend means to the user (buildlog.backends.resolve).
_REASONS = {
    1: "found this project in the database",
    2: "registered this project in the database",
    3: "no database yet: reading the legacy files, read-only",
    4: "created the database and registered this project",
}


@click.command()
@json_option
@pass_state
def info(state: CliState, as_json: bool) -> None:
    """Show the backend in use, the database, the project id and record counts."""
    data = _info(state)
    if as_json:
        echo_json(data)
        return
    click.echo(f"backend:      {data['backend']} ({data['reason']})")
    exists = "" if data["database_exists"] else " (not created)"
    click.echo(f"database:     {data['database']}{exists}")
    click.echo(
        f"project:      {data['project_id']} ({data['project_id_source']}) "
        f"{data['project_name']} at {data['project_root']}"
    )
    counts = ", ".join(f"{name} {count}" for name, count in data["counts"].items())
    click.echo(f"records:      {counts}")
    click.echo(f"session:      {data['active_session'] or 'none running'}")
    pending = data["legacy_files_pending"]
    click.echo(
        f"legacy files: {len(pending)} pending" + (f" in {data['legacy_dir']}" if pending else "")
    )
    for path in pending:
        click.echo(f"  {path}")
    if data["legacy_malformed_lines"]:
        click.echo(f"malformed:    {len(data['legacy_malformed_lines'])} lines skipped")
        for line in data["legacy_malformed_lines"]:
            click.echo(f"  {line}")


@click.command()
@json_option
@pass_state
def projects(state: CliState, as_json: bool) -> None:
    """List the registered projects."""
    rows = [vars(p) for p in resolve(state, create=False).backend.list_projects()]
    emit(rows, ("id", "name", "id_source", "path", "updated_at"), as_json=as_json)


def _print_migrate(result: MigrateResult) -> None:
    verb = "would import" if result.dry_run else "imported"
    if not result.files:
        click.echo("nothing to migrate: no legacy files pending")
    for outcome in result.files:
        if result.dry_run:
            text = f"{verb} {outcome.records} records"
        elif outcome.status == "failed":
            text = f"failed: {outcome.error}"
        else:
            text = (
                f"{outcome.records} records: {outcome.added} new, {outcome.updated} updated, "
                f"{outcome.unchanged} already present"
            )
            text += f"; renamed to {outcome.archived_to.name}" if outcome.archived_to else ""
            if outcome.status == "merged":
                text += "; left in place (the original tool keeps writing it)"
            if outcome.status == "kept":
                text = f"{outcome.records} records, not imported: malformed lines; file kept"
        if result.dry_run and outcome.issues:
            count = len(outcome.issues)
            text += f", but {count} malformed line{'s' if count != 1 else ''}: not importable"
        click.echo(f"{outcome.path}: {text}")
    for path in result.unknown:
        click.echo(f"{path}: not a buildlog file, left alone")
    for issue in result.issues:
        click.echo(f"buildlog: {issue}", err=True)
    for warning in result.warnings:
        click.echo(f"buildlog: warning: {warning}", err=True)
    if not result.dry_run and result.files and not result.changed:
        click.echo("nothing changed: every record was already in the database")


@click.command()
@click.option("--dry-run", is_flag=True, help="Show what would be imported; write nothing.")
@click.option(
    "--buildlog-dir",
    type=click.Path(path_type=Path),
    metavar="DIRECTORY",
    help="The folder holding .buildlog/ [default: found from the project root].",
)
@json_option
@pass_state
def migrate(state: CliState, dry_run: bool, buildlog_dir: Path | None, as_json: bool) -> None:
    """Import the project's legacy .buildlog/ files into the global database."""
    from buildlog.errors import MigrationIncomplete
    from buildlog.migrate import migrate_legacy

    result = migrate_legacy(
        state.project_root, state.db, buildlog_dir=buildlog_dir, dry_run=dry_run
    )
    if as_json:
        echo_json(result.to_dict())
    else:
        _print_migrate(result)
    failed = [str(f.path) for f in result.files if f.status == "failed"]
    if not dry_run and (result.issues or failed):
        raise MigrationIncomplete(result.issues, failed, result.kept)


@click.command("export")
@click.option(
    "--output",
    "-o",
    type=click.Path(path_type=Path),
    metavar="DIRECTORY",
    default=".",
    show_default="the current directory",
    help="Folder to write the export into.",
)
@click.option(
    "--project",
    "project_id",
    help="Export this project id (any registered project) [default: the current one].",
)
@click.option("--all-projects", is_flag=True, help="Export every project.")
@click.option("--tables", help="Comma-separated tables [default: all six].")
@json_option
@pass_state
def export_cmd(
    state: CliState,
    output: Path,
    project_id: str | None,
    all_projects: bool,
    tables: str | None,
    as_json: bool,
) -> None:
    """Export records as JSON lines with manifest.json and rules.jsonl."""
    from buildlog.export import export_bundle, parse_tables
    from storage_core.errors import NotFound

    names = parse_tables(tables)
    backend = resolve_sqlite(state, "export")
    # The user's own database: naming a project exports it (as in the design's example);
    # nothing mixes projects unless --all-projects asks for all of them.
    if project_id and project_id not in {p.id for p in backend.list_projects()}:
        raise NotFound(
            "project", project_id, f"no project {project_id!r} (see 'buildlog projects')"
        )
    selected = project_id or (None if all_projects else backend.project_id)
    revision = _current_revision(backend.engine)
    result = export_bundle(
        backend.engine,
        output.resolve(),
        project_id=selected,
        tables=names,
        project_root=resolve(state).identity.path,
        schema_revision=revision,
    )
    for warning in result.warnings:
        click.echo(f"buildlog: warning: skipped seed file {warning}", err=True)
    if as_json:
        echo_json({"folder": str(result.folder), **result.manifest})
        return
    for name, count in result.manifest["tables"].items():
        click.echo(f"{name}: {count} records")
    click.echo(f"wrote {len(result.files)} files to {result.folder}")


def _current_revision(engine: Any) -> str | None:
    from buildlog.db import schema_environment
    from storage_core.schema import current_revision

    return current_revision(engine, schema_environment())


@click.command("import")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--all-projects",
    is_flag=True,
    help="Also import records of other projects (an export made with --all-projects).",
)
@click.option(
    "--require-checksums",
    is_flag=True,
    help="Refuse an export without checksums (the original buildlog writes none).",
)
@json_option
@pass_state
def import_cmd(
    state: CliState, folder: Path, all_projects: bool, require_checksums: bool, as_json: bool
) -> None:
    """Restore an export folder into the database (idempotent; checksums verified first).

    Only the current project's records are imported unless --all-projects is given, as
    exporting another project's records needs it.
    """
    from buildlog.errors import OtherProject
    from buildlog.restore import check_bundle, import_bundle

    # The whole export is checked before the database is even opened: a bad one changes
    # nothing, not even the registry.
    bundle = check_bundle(folder.resolve(), require_checksums=require_checksums)
    if not bundle.manifest["verified"]:
        click.echo(
            "buildlog: this export has no checksums (the original buildlog writes none): its "
            "rows are checked one by one, but the files cannot be verified",
            err=True,
        )
    if not all_projects:
        current = resolve(state).identity.id
        others = sorted(bundle.owners - {current})
        if others:
            raise OtherProject(others[0], current, action="import")
    engine = resolve_sqlite(state, "import").engine
    result = import_bundle(engine, bundle.folder, bundle=bundle)
    if as_json:
        echo_json(result.to_dict())
        return
    for name, added in result.added.items():
        click.echo(f"{name}: {added} added, {result.skipped[name]} already present")


@click.group()
def db() -> None:
    """Operate the database schema (alembic revisions shipped with buildlog)."""


def _location(state: CliState) -> Any:
    from buildlog.paths import database_location
    from storage_core.errors import NotFound

    location = database_location(state.db)
    if not location.exists():
        raise NotFound("database", location.display())
    return location


@db.command("upgrade")
@pass_state
def db_upgrade(state: CliState) -> None:
    """Create the database or bring it to the newest revision (backing it up first)."""
    from buildlog.db import open_engine
    from buildlog.paths import database_location

    engine, status = open_engine(database_location(state.db))
    engine.dispose()
    click.echo(f"{status.action}: at revision {status.current} (head {status.head})")
    if status.backup is not None:
        click.echo(f"backup: {status.backup}")


@db.command("current")
@pass_state
def db_current(state: CliState) -> None:
    """Print the database's revision."""
    from buildlog.db import check_engine
    from storage_core.errors import SchemaOutOfDate

    try:
        engine, status = check_engine(_location(state))
    except SchemaOutOfDate as err:
        click.echo(f"{err.current or 'none'} (head {err.head})")
        return
    engine.dispose()
    click.echo(f"{status.current} (head)")


@db.command("check")
@pass_state
def db_check(state: CliState) -> None:
    """Exit 0 when the database is at the newest revision, else explain (exit 1)."""
    from buildlog.db import check_engine

    engine, status = check_engine(_location(state))
    engine.dispose()
    click.echo(f"ok: at revision {status.current}")


@db.command("copy")
@click.option(
    "--to", "target", required=True, metavar="URL|FILE",
    help="The database to copy into: a SQLAlchemy URL (postgresql+psycopg://...) or a SQLite "
    "file; created or upgraded first.",
)  # fmt: skip
@json_option
@pass_state
def db_copy(state: CliState, target: str, as_json: bool) -> None:
    """Copy every project's records into another database: onto a team's PostgreSQL
    server, or back into a file. Verified at the end; run it again after an interruption to
    finish (records already there are skipped)."""
    from buildlog.copy import copy_database
    from buildlog.db import open_engine
    from buildlog.errors import InvalidRecord
    from buildlog.paths import database_location
    from storage_core.cli_support import copy_progress, echo_copy_report

    location = _location(state)
    destination = database_location(target)
    if destination.url == location.url:
        raise InvalidRecord("--to", f"{target} is the database being copied")
    source, _ = open_engine(location)
    engine, _ = open_engine(destination)
    try:
        report = copy_database(
            source, engine, source_name=location.display(), target_name=destination.display(),
            progress=None if as_json else copy_progress,
        )  # fmt: skip
    finally:
        engine.dispose()
        source.dispose()
    echo_copy_report(report, as_json)
