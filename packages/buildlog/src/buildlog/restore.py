"""``buildlog import DIR``: restore an export into the database, idempotently.

The manifest's SHA-256 of every file is verified before anything is written, so a truncated
or edited export is refused as a whole. Rows are then inserted in batches, one transaction
per table, skipping those whose key exists already: importing twice changes nothing, and
export, import into an empty database, export again gives identical table files.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildlog.errors import ExportError, InvalidRecord, UnknownTable
from buildlog.export import BATCH, MANIFEST, TABLES, TableSpec, manifest_checksum, table_spec
from buildlog.records import PosteriorSnapshot, RecordError, parse_record
from storage_core.errors import IntegrityError

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["Bundle", "ImportResult", "check_bundle", "import_bundle", "read_manifest"]

_HASH_CHUNK = 1 << 20
_DOTS = frozenset({"", ".", ".."})


@dataclass
class ImportResult:
    """What :func:`import_bundle` did.

    Attributes:
        folder: the export folder.
        added: rows inserted, by table.
        skipped: rows already present, by table.
        projects: project ids the rows belong to.
    """

    folder: Path
    added: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)
    projects: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "folder": str(self.folder),
            "added": dict(self.added),
            "skipped": dict(self.skipped),
            "projects": list(self.projects),
        }


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def read_manifest(folder: Path, *, require_checksums: bool = False) -> dict[str, Any]:
    """Read and verify an export's manifest: tables known, files present, hashes equal.

    An export of the original buildlog has no checksums: it is read unverified (``verified``
    is False in the returned manifest) unless ``require_checksums``.

    Raises:
        ExportError: no such folder, no readable manifest, a table this version does not
            know, a file it lists is missing or outside the folder.
        IntegrityError: a file's SHA-256 differs from the manifest's.
    """
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise ExportError(folder, f"{problem}; give the folder an export wrote")
    path = folder / MANIFEST
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ExportError(folder, f"no {MANIFEST}; not a buildlog export") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ExportError(path, f"unreadable manifest ({err})") from err
    if not isinstance(manifest, dict) or not isinstance(manifest.get("tables"), dict):
        raise ExportError(path, "not a buildlog export manifest (no 'tables' object)")
    hashes = manifest.get("sha256")
    recorded = manifest.get("manifest_sha256")
    if not isinstance(hashes, dict) or not isinstance(recorded, str):
        # The original buildlog writes no checksums: its exports are read unverified (the
        # rows are still checked one by one), unless the caller insists on checksums.
        if require_checksums:
            raise ExportError(
                path,
                "the export has no checksums (the original buildlog writes none), so it cannot "
                "be verified; import it without --require-checksums to read it unverified",
            )
        manifest["verified"] = False
        hashes = {}
    else:
        actual = manifest_checksum(manifest)
        if actual != recorded:
            raise IntegrityError(str(path), recorded, actual)
        manifest["verified"] = True
    for name, count in manifest["tables"].items():
        try:
            spec = table_spec(name)
        except UnknownTable as err:
            raise ExportError(path, str(err)) from None
        if manifest["verified"] and spec.filename not in hashes:
            raise ExportError(path, f"no checksum for {spec.filename}")
        if not manifest["verified"] and not (folder / spec.filename).is_file():
            raise ExportError(folder / spec.filename, "listed in the manifest but missing")
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise ExportError(path, f"the record count of {name} is not a number: {count!r}")
    for filename, expected in hashes.items():
        if not isinstance(filename, str) or Path(filename).name != filename or filename in _DOTS:
            # Only files of the export folder itself: never read a path the manifest names.
            raise ExportError(path, f"the manifest lists a file outside the export: {filename!r}")
        file = folder / filename
        if not file.is_file():
            raise ExportError(file, "listed in the manifest but missing")
        actual = _sha256(file)
        if actual != expected:
            raise IntegrityError(str(file), expected, actual)
    return manifest


def _records(path: Path, spec: TableSpec, default_project: str | None) -> Iterator[dict[str, Any]]:
    """Database rows from one export file, validated line by line."""
    from buildlog.backends.rows import to_row
    from buildlog.identifiers import format_timestamp
    from buildlog.merge import snapshot_key

    now = format_timestamp()
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                data = json.loads(raw.decode("utf-8"))
                if not isinstance(data, dict):
                    raise RecordError("expected a JSON object")
                record = parse_record(spec.record, data)
            except (UnicodeDecodeError, json.JSONDecodeError, RecordError) as err:
                raise InvalidRecord(where, str(err)) from err
            if not spec.scoped:  # gauntlet rules belong to no project
                yield to_row(record)
                continue
            project_id = data.get("project_id", default_project)
            if not isinstance(project_id, str):
                raise InvalidRecord(where, "no project_id in the row or the manifest")
            row = to_row(record, project_id=project_id)
            if isinstance(record, PosteriorSnapshot):
                # Its identity: snapshots have no key of their own (see merge.snapshot_key).
                row["record_key"] = snapshot_key(record)
            # Exports of the original tool have no decision time; NOT NULL columns need one.
            for column in ("decided_at", "updated_at", "timestamp"):
                if column in row and row[column] is None:
                    row[column] = now
            yield row


def _register(conn: Connection, manifest: dict[str, Any], project_ids: set[str]) -> None:
    """Make sure every project the rows belong to is registered (foreign keys need it)."""
    import sqlalchemy as sa

    from buildlog.identifiers import format_timestamp
    from buildlog.models import projects

    described = {p.get("id"): p for p in manifest.get("projects") or [] if isinstance(p, dict)}
    now = format_timestamp()
    for project_id in sorted(project_ids):
        if conn.execute(sa.select(projects.c.id).where(projects.c.id == project_id)).first():
            continue
        info = described.get(project_id, {})
        path = str(info.get("path") or f"[imported {project_id}]")
        if conn.execute(sa.select(projects.c.id).where(projects.c.path == path)).first():
            # The path is another project's now; keep that one and mark this one.
            path = f"{path} [imported {project_id}]"
        conn.execute(
            projects.insert().values(
                id=project_id,
                name=str(info.get("name") or project_id),
                path=path,
                id_source=info.get("id_source"),
                created_at=now,
                updated_at=now,
            )
        )


def _batches(rows: Iterator[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= BATCH:
            yield batch
            batch = []
    if batch:
        yield batch


@dataclass(frozen=True)
class Bundle:
    """An export folder that passed every check :func:`check_bundle` makes.

    Attributes:
        folder: the folder.
        manifest: its manifest.
        tables: the tables it holds, in import order.
        owners: the projects its rows belong to.
    """

    folder: Path
    manifest: dict[str, Any]
    tables: tuple[str, ...]
    owners: frozenset[str]


def check_bundle(folder: Path, *, require_checksums: bool = False) -> Bundle:
    """Verify an export completely before anything is written: checksums, counts, every row.

    Raises:
        ExportError: not an export, a file missing, or a record count that does not match.
        IntegrityError: a file does not match its checksum.
        InvalidRecord: a row is not a valid record.
    """
    manifest = read_manifest(folder, require_checksums=require_checksums)
    default_project = manifest.get("project_id")
    names = tuple(name for name in TABLES if name in manifest["tables"])
    owners: set[str] = set()
    for name in names:
        spec = table_spec(name)
        count = 0
        for row in _records(folder / spec.filename, spec, default_project):
            if spec.scoped:
                owners.add(row["project_id"])
            count += 1
        if count != manifest["tables"][name]:
            raise ExportError(
                folder / spec.filename,
                f"holds {count} records, the manifest says {manifest['tables'][name]}",
            )
    return Bundle(folder, manifest, names, frozenset(owners))


def import_bundle(engine: Engine, folder: Path, *, bundle: Bundle | None = None) -> ImportResult:
    """Restore the export in ``folder`` (see the module docstring).

    Args:
        engine: the database (at the schema head).
        folder: an export folder with ``manifest.json``.
        bundle: the folder's :func:`check_bundle` result, when the caller checked it first
            (the command line does, before it opens the database).

    Returns:
        Rows added and skipped per table.

    Raises:
        ExportError: not an export, or a listed file is missing.
        IntegrityError: a file does not match its checksum.
        InvalidRecord: a row is not valid. Nothing is written in any of these cases.
    """
    import sqlalchemy as sa

    from buildlog.backends.sql import insert_ignore
    from buildlog.models import metadata

    if bundle is None or bundle.folder != folder:
        bundle = check_bundle(folder)
    default_project = bundle.manifest.get("project_id")
    result = ImportResult(folder)
    with engine.begin() as conn:
        _register(conn, bundle.manifest, set(bundle.owners))
    for name in bundle.tables:
        spec = table_spec(name)
        table: sa.Table = metadata.tables[spec.table]
        added = total = 0
        with engine.begin() as conn:
            stored = _keyless_snapshots(conn) if spec.table == "posterior_snapshots" else set()
            for batch in _batches(_records(folder / spec.filename, spec, default_project)):
                total += len(batch)
                if stored:
                    batch = [r for r in batch if (r["project_id"], r["record_key"]) not in stored]
                added += insert_ignore(conn, table, batch)
        result.added[name] = added
        result.skipped[name] = total - added
    result.projects = sorted(bundle.owners)
    return result


def _keyless_snapshots(conn: Connection) -> set[tuple[str, str]]:
    """The keys of the posterior snapshots the original wrote (it records no key), so that
    importing an export of them adds nothing twice."""
    import sqlalchemy as sa

    from buildlog.backends.rows import from_row
    from buildlog.merge import snapshot_key
    from buildlog.models import posterior_snapshots
    from buildlog.records import PosteriorSnapshot

    rows = conn.execute(
        sa.select(posterior_snapshots).where(posterior_snapshots.c.record_key.is_(None))
    ).mappings()
    return {(row["project_id"], snapshot_key(from_row(PosteriorSnapshot, row))) for row in rows}
