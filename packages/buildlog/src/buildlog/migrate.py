"""``buildlog migrate``: legacy per-project files into the global database.

Built on storage-core's migration framework, one item per legacy file:

* ``prepare`` parses the file (valid records plus one issue per malformed line);
* ``apply`` merges the valid records in one transaction, idempotently
  (:mod:`buildlog.merge`);
* ``finish`` renames the file to ``<name>.migrated`` (``.migrated.2``... when an archive of
  that name exists), but only when the file had no malformed line.

A file stays a candidate until it is renamed, and merging is idempotent, so a crash at any
instant followed by a rerun leaves every record present exactly once. Nothing is deleted
or rewritten; a file with malformed lines is left in place for the user to fix, and the
rerun then imports what was missing.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildlog.legacy import (
    LegacyLayout,
    LegacyRead,
    find_layout,
    find_tracking_layout,
    layout_for,
    read_legacy_file,
)
from buildlog.merge import merge_records
from buildlog.paths import DatabaseLocation, database_location
from buildlog.project import ProjectIdentity, identify_project
from storage_core.migration import ItemOutcome, MigrationReport, MigrationStep, ProgressEvent
from storage_core.migration import run as run_migration

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["FileOutcome", "LegacyImportStep", "MigrateResult", "archive_path", "migrate_legacy"]

logger = logging.getLogger(__name__)


def archive_path(path: Path) -> Path:
    """Where a migrated file goes: ``<name>.migrated``, or the first free ``.migrated.N``."""
    candidate = path.with_name(f"{path.name}.migrated")
    n = 2
    while candidate.exists():
        candidate = path.with_name(f"{path.name}.migrated.{n}")
        n += 1
    return candidate


@dataclass
class FileOutcome:
    """What happened to one legacy file.

    Attributes:
        path: the file.
        records: valid records it holds.
        added: records new to the database (0 in a dry run).
        updated: records that replaced older versions.
        unchanged: records the database already had.
        issues: malformed lines, ``file:line: reason``.
        archived_to: the new name after the rename, None when not renamed.
        status: ``migrated``, ``merged`` (a tracking file of the original beside its
            database: what is new imported, the file left in place), ``kept`` (malformed
            lines: nothing imported, not renamed), ``failed`` or ``planned`` (dry run).
        error: why the file failed (status ``failed``).
    """

    path: Path
    records: int = 0
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    issues: list[str] = field(default_factory=list)
    archived_to: Path | None = None
    status: str = "planned"
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "file": str(self.path),
            "status": self.status,
            "records": self.records,
            "added": self.added,
            "updated": self.updated,
            "unchanged": self.unchanged,
            "issues": list(self.issues),
            "archived_to": str(self.archived_to) if self.archived_to else None,
            "error": self.error,
        }


class LegacyImportStep(MigrationStep[Path, LegacyRead]):
    """The migration step: one item per legacy file of one project.

    Args:
        layout: where the files are.
        engine: the database (None only for dry runs).
        project_id: the (registered) project the records belong to.
    """

    name = "buildlog migrate"

    def __init__(self, layout: LegacyLayout, engine: Engine | None, project_id: str) -> None:
        self.layout = layout
        self.engine = engine
        self.project_id = project_id
        self.outcomes: dict[Path, FileOutcome] = {}
        self.warnings: list[str] = []
        self.seen: list[Path] = []

    def candidates(self) -> Iterator[Path]:
        """The pending legacy files, in the original's import order."""
        for path in self.layout.pending_files():
            self.seen.append(path)
            yield path

    def is_done(self, item: Path) -> bool:
        """A file is done once renamed away."""
        return not item.exists()

    def describe(self, item: Path) -> str:
        """The file's path."""
        return str(item)

    def count(self) -> int:
        """How many files are pending."""
        return len(self.layout.pending_files())

    def size(self, item: Path) -> int | None:
        """The file's size in bytes."""
        try:
            return item.stat().st_size
        except FileNotFoundError:
            return None

    def prepare(self, item: Path) -> LegacyRead:
        """Parse the file (no database access)."""
        return read_legacy_file(item)

    def apply(self, item: Path, prepared: LegacyRead) -> ItemOutcome:
        """Merge the file's records in one transaction; a file with malformed lines not at all.

        A malformed line may be a record cut short or mistyped: importing the rest would
        leave the database holding part of a file the user is about to fix, so nothing of
        the file is written until it reads cleanly.
        """
        assert self.engine is not None, "a dry run never applies"
        if prepared.issues:
            self.outcomes[item] = FileOutcome(
                path=item,
                records=len(prepared.records),
                issues=[str(issue) for issue in prepared.issues],
                status="kept",
            )
            return ItemOutcome(records=0)
        with self.engine.begin() as conn:
            merged = merge_records(conn, self.project_id, item.name, prepared.records)
        self.outcomes[item] = FileOutcome(
            path=item,
            records=len(prepared.records),
            added=merged.added,
            updated=merged.updated,
            unchanged=merged.unchanged,
            status="migrated",
        )
        self.warnings.extend(f"{item.name}: {w}" for w in merged.warnings)
        return ItemOutcome(records=merged.added + merged.updated)

    def finish(self, item: Path, prepared: LegacyRead) -> None:
        """Archive the file, unless it has malformed lines the user has to fix first."""
        if prepared.issues:
            return
        target = archive_path(item)
        os.rename(item, target)
        self.outcomes[item].archived_to = target


@dataclass
class MigrateResult:
    """The outcome of :func:`migrate_legacy`.

    Attributes:
        project_id: the project migrated into.
        database: the database (path or URL).
        dry_run: whether nothing was written.
        files: one outcome per pending file, in import order.
        unknown: files in ``.buildlog/`` that are not legacy data (left alone).
        warnings: conflicts kept in the database's favour, rename failures.
        report: the migration framework's report (None when there was no legacy folder).
    """

    project_id: str
    database: str
    dry_run: bool
    files: list[FileOutcome] = field(default_factory=list)
    unknown: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    report: MigrationReport | None = None

    @property
    def issues(self) -> list[str]:
        """Every malformed line of every file."""
        return [issue for outcome in self.files for issue in outcome.issues]

    @property
    def kept(self) -> list[str]:
        """The files left in place because of malformed lines (nothing of them imported)."""
        return [str(f.path) for f in self.files if f.status == "kept"]

    @property
    def changed(self) -> bool:
        """Whether the run wrote anything (records or renames)."""
        return any(f.added or f.updated or f.archived_to for f in self.files)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "project_id": self.project_id,
            "database": self.database,
            "dry_run": self.dry_run,
            "files": [f.to_dict() for f in self.files],
            "unknown_files": [str(p) for p in self.unknown],
            "warnings": list(self.warnings),
            "issues": self.issues,
        }


def _legacy_layout(
    project: ProjectIdentity, buildlog_dir: Path | str | None, beside_database: bool
) -> LegacyLayout:
    if buildlog_dir is not None:
        return replace(layout_for(buildlog_dir), beside_database=beside_database)
    found = find_layout(project.path, beside_database=beside_database)
    if found is None and beside_database:
        found = find_tracking_layout(project.path)
    return found or LegacyLayout(project.path / "buildlog", beside_database)


def migrate_legacy(
    project_root: Path | str | None = None,
    db: str | None = None,
    *,
    buildlog_dir: Path | str | None = None,
    dry_run: bool = False,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> MigrateResult:
    """Import a project's legacy files into the global database.

    Args:
        project_root: the project (default: the working directory).
        db: the database path or URL (default: ``BUILDLOG_DB`` / ``BUILDLOG_HOME``).
        buildlog_dir: the folder holding ``.buildlog/`` (default: found from the root, flat
            layout first, then ``<root>/buildlog``).
        dry_run: read the files and report; open nothing for writing, create no database.
        progress: called once per file, on the calling thread.

    Returns:
        Per-file outcomes; check ``issues`` and ``report.failed``.
    """
    project = identify_project(project_root)
    location = database_location(db)
    layout = _legacy_layout(project, buildlog_dir, beside_database=location.exists())
    result = MigrateResult(project.id, location.display(), dry_run)
    result.unknown = layout.unknown_files()
    if dry_run:
        return _plan(layout, project, result, progress)
    tracking = layout.tracking_files()
    if not layout.pending_files() and not tracking:
        return result
    engine, project = _open_and_register(location, project)
    result.project_id = project.id
    try:
        step = LegacyImportStep(layout, engine, project.id)
        report = run_migration(step, progress=progress)
        merged = [_merge_tracking_file(engine, project.id, path) for path in tracking]
    finally:
        engine.dispose()
    result.report = report
    result.warnings = step.warnings + report.warnings
    errors = {failure.item: failure.error for failure in report.failed}
    for path in step.seen:
        outcome = step.outcomes.get(path)
        if outcome is None:
            outcome = FileOutcome(path, status="failed", error=errors.get(str(path)))
        result.files.append(outcome)
    for outcome, warnings in merged:
        result.files.append(outcome)
        result.warnings.extend(warnings)
    return result


def _merge_tracking_file(
    engine: Engine, project_id: str, path: Path
) -> tuple[FileOutcome, list[str]]:
    """Merge what is new in one of the original's tracking files; the file stays.

    The original writes ``promoted.json`` beside its database on every promotion, so renaming
    it would only make it reappear; the database keeps its own decisions where they differ.
    """
    read = read_legacy_file(path)
    if read.issues:
        issues = [str(issue) for issue in read.issues]
        return FileOutcome(path, len(read.records), issues=issues, status="kept"), []
    with engine.begin() as conn:
        merged = merge_records(conn, project_id, path.name, read.records)
    outcome = FileOutcome(
        path,
        records=len(read.records),
        added=merged.added,
        updated=merged.updated,
        unchanged=merged.unchanged,
        status="merged",
    )
    return outcome, [f"{path.name}: {warning}" for warning in merged.warnings]


def _open_and_register(
    location: DatabaseLocation, project: ProjectIdentity
) -> tuple[Engine, ProjectIdentity]:
    from buildlog.backends.sql import register_project
    from buildlog.db import open_engine

    engine, _status = open_engine(location)
    try:
        project, _new = register_project(engine, project)
    except BaseException:
        engine.dispose()
        raise
    return engine, project


def _plan(
    layout: LegacyLayout,
    project: ProjectIdentity,
    result: MigrateResult,
    progress: Callable[[ProgressEvent], None] | None,
) -> MigrateResult:
    """A dry run: the framework's plan plus, per file, its record count and issues."""
    step = LegacyImportStep(layout, None, project.id)
    result.report = run_migration(step, dry_run=True, progress=progress)
    for path in [*layout.pending_files(), *layout.tracking_files()]:
        read = read_legacy_file(path)
        result.files.append(
            FileOutcome(
                path=path,
                records=len(read.records),
                issues=[str(issue) for issue in read.issues],
                status="planned",
            )
        )
    return result
