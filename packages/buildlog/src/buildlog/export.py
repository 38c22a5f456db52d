"""``buildlog export``: one JSON-lines file per table, ``manifest.json`` and ``rules.jsonl``.

Rows carry real JSON types (lists are lists, booleans booleans, absent values ``null``);
an all-projects export adds ``project_id`` to every row. Tables are read with a server-side
cursor in batches and written line by line, hashing as they go, so a million rows need
little memory. Each file is written under a temporary name and renamed, the manifest last:
a folder with a manifest holds a complete export.

Differences from the original's export, on purpose: ``mistakes`` list columns are lists
(not JSON strings), ``skill_decisions`` rows keep ``decided_at`` and ``metadata`` so that a
restore loses nothing, and the manifest adds the tool, the schema revision, the projects
and a SHA-256 per file.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from buildlog import __version__
from buildlog.errors import ExportError
from buildlog.export_tables import TABLES, TableSpec, parse_tables, table_spec
from buildlog.identifiers import format_timestamp
from buildlog.records import BanditArm, record_to_dict

if TYPE_CHECKING:
    import sqlalchemy as sa
    from sqlalchemy.engine import Engine

__all__ = [
    "TABLES",
    "ExportResult",
    "TableSpec",
    "export_bundle",
    "parse_tables",
    "table_spec",
]

MANIFEST = "manifest.json"
RULES_FILE = "rules.jsonl"
BATCH = 1000


def export_row(spec: TableSpec, record: object) -> dict[str, Any]:
    """The JSON object of one record in an export file."""
    row = record_to_dict(record)
    if isinstance(record, BanditArm):
        return {
            "context": record.context,
            "rule_id": record.rule_id,
            "alpha": record.alpha,
            "beta": record.beta,
            "mean": record.mean,
            "is_seed": record.is_seed,
            "updated_at": record.updated_at,
        }
    if spec.name == "learnings":
        return {"key": row["id"], **row}
    return row


@dataclass
class ExportResult:
    """What :func:`export_bundle` wrote.

    Attributes:
        folder: the output folder.
        manifest: the manifest written.
        files: every file written, manifest last.
        warnings: seed files that could not be read, one line each.
    """

    folder: Path
    manifest: dict[str, Any]
    files: list[Path] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def _mode_to_keep(target: Path) -> int | None:
    """The mode of the file being replaced; None for a new file (0644 less the umask)."""
    try:
        return stat.S_IMODE(target.stat().st_mode)
    except FileNotFoundError:
        return None


def manifest_checksum(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's canonical JSON, without its own ``manifest_sha256`` field."""
    body = {key: value for key, value in manifest.items() if key != "manifest_sha256"}
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class _HashingWriter:
    """Writes lines to a temporary file, counting and hashing them; renamed on commit."""

    def __init__(self, target: Path) -> None:
        self.target = target
        self.temp = target.with_name(f".{target.name}.tmp")
        self.temp.unlink(missing_ok=True)
        # A new file is never group- or world-writable (0644 less the umask); a file that is
        # written again keeps the mode it has. O_EXCL: the temporary file is never a link.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0)
        fd = os.open(self.temp, flags, 0o644)
        try:
            if (mode := _mode_to_keep(target)) is not None:
                os.fchmod(fd, mode)
        except BaseException:
            os.close(fd)
            raise
        self.handle: IO[bytes] = os.fdopen(fd, "wb")
        self.digest = hashlib.sha256()
        self.count = 0

    def write(self, obj: object) -> None:
        self.write_lines([_ENCODE(obj)])

    def write_lines(self, lines: list[str]) -> None:
        """Write JSON texts, one per line, hashing them as one block (the fast path)."""
        if not lines:
            return
        lines.append("")
        block = "\n".join(lines).encode("utf-8")
        self.handle.write(block)
        self.digest.update(block)
        self.count += len(lines) - 1

    def commit(self) -> str:
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temp, self.target)
        return self.digest.hexdigest()

    def abort(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


# One encoder for every line: json.dumps(obj, ensure_ascii=False) builds a new encoder per
# call; the same encoder's ``encode`` gives byte-identical text.
_ENCODE = json.JSONEncoder(ensure_ascii=False).encode


def _decode_json(value: object) -> object:
    """A ``json`` column as :func:`buildlog.backends.rows.from_row` reads it."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def _decode_str_list(value: object) -> list[str]:
    """A list column; the common case (a JSON list of strings) without a detour."""
    if isinstance(value, str) and value.startswith("["):
        try:
            decoded = json.loads(value)
        except json.JSONDecodeError:
            decoded = None
        if isinstance(decoded, list) and all(isinstance(item, str) for item in decoded):
            return decoded
    from buildlog.backends.rows import decode_list

    return decode_list(value)


def _to_float(value: object) -> object:
    return None if value is None else float(value)  # type: ignore[arg-type]


_CONVERTERS: dict[str, Callable[[Any], Any] | None] = {
    "str": None,
    "int": None,
    "float": _to_float,
    "bool": bool,
    "str_list": _decode_str_list,
    "loose_list": None,  # the stored text, as the original exports it
    "json": _decode_json,
}


def _row_builder(spec: TableSpec, *, with_project: bool) -> Callable[[Sequence[Any]], str]:
    """A function from a database row (project_id, then the record's fields) to its line.

    The line is what ``json.dumps(export_row(spec, from_row(spec.record, row)))`` gives,
    with the ``project_id`` key first when ``with_project``, built without the record
    objects in between (they cost more than the rest of the export together).
    """
    from buildlog.records import field_kinds

    kinds = field_kinds(spec.record)
    names = [name for name, _kind, _required in kinds]
    converters = [(i + 1, name, _CONVERTERS[kind]) for i, (name, kind, _r) in enumerate(kinds)]
    encode = _ENCODE

    def fields(row: Sequence[Any]) -> dict[str, Any]:
        out: dict[str, Any] = {"project_id": row[0]} if with_project else {}
        for index, name, convert in converters:
            value = row[index]
            out[name] = value if convert is None else convert(value)
        return out

    if spec.record is BanditArm:
        alpha_at, beta_at = names.index("alpha") + 1, names.index("beta") + 1

        def bandit_line(row: Sequence[Any]) -> str:
            values = fields(row)
            alpha, beta = float(row[alpha_at]), float(row[beta_at])
            total = alpha + beta
            mean = round(alpha / total, 4) if total else 0.0
            head = {"project_id": row[0]} if with_project else {}
            return encode(
                head
                | {
                    "context": values["context"],
                    "rule_id": values["rule_id"],
                    "alpha": alpha,
                    "beta": beta,
                    "mean": mean,
                    "is_seed": values["is_seed"],
                    "updated_at": values["updated_at"],
                }
            )

        return bandit_line
    if spec.name == "learnings":

        def learning_line(row: Sequence[Any]) -> str:
            head = {"project_id": row[0]} if with_project else {}
            return encode(head | {"key": row[names.index("id") + 1]} | fields(row))

        return learning_line
    return lambda row: encode(fields(row))


def _lines(
    engine: Engine, spec: TableSpec, project_ids: Sequence[str] | None
) -> Iterator[list[str]]:
    """Export lines of one table, in a stable order, streamed in batches of :data:`BATCH`."""
    import sqlalchemy as sa

    from buildlog.models import metadata
    from buildlog.records import field_kinds

    table: sa.Table = metadata.tables[spec.table]
    fields = [table.c[name] for name, _k, _r in field_kinds(spec.record)]
    order = [table.c[c] for c in spec.order]
    if spec.scoped:
        query = sa.select(table.c.project_id, *fields).order_by(table.c.project_id, *order)
        if project_ids is not None:
            query = query.where(table.c.project_id.in_(project_ids))
    else:  # rows of every project: no project column, in any export
        query = sa.select(sa.null(), *fields).order_by(*order)
    line = _row_builder(spec, with_project=spec.scoped and project_ids is None)
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        result = conn.execution_options(yield_per=BATCH).execute(query)
        for partition in result.partitions():
            yield [line(row) for row in partition]


def _projects(engine: Engine, project_ids: Sequence[str] | None) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from buildlog.models import projects

    query = sa.select(projects.c.id, projects.c.name, projects.c.path, projects.c.id_source)
    if project_ids is not None:
        query = query.where(projects.c.id.in_(project_ids))
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as conn:
        return [dict(row) for row in conn.execute(query.order_by(projects.c.id)).mappings()]


def export_bundle(
    engine: Engine,
    output: Path,
    *,
    project_id: str | None,
    tables: Iterable[str] = TABLES,
    project_root: Path | None = None,
    schema_revision: str | None = None,
) -> ExportResult:
    """Export one project (or all, with ``project_id=None``) into ``output``.

    Args:
        engine: the database.
        output: the folder to write (created if missing; existing export files replaced).
        project_id: the project to export, None for every project.
        tables: which tables (see :func:`parse_tables`).
        project_root: where to look for seed files for ``rules.jsonl`` (None: only the
            database's gauntlet rules).
        schema_revision: recorded in the manifest.

    Returns:
        What was written.

    Raises:
        UnknownTable: a table name is not exportable.
        ExportError: the folder cannot be written.
    """
    specs = [table_spec(name) for name in tables]
    try:
        output.mkdir(mode=0o755, parents=True, exist_ok=True)
    except OSError as err:
        raise ExportError(output, f"cannot create the folder ({err.strerror})") from err
    ids = None if project_id is None else [project_id]
    result = ExportResult(output, {})
    counts: dict[str, int] = {}
    hashes: dict[str, str] = {}
    for spec in specs:
        writer = _HashingWriter(output / spec.filename)
        try:
            for lines in _lines(engine, spec, ids):
                writer.write_lines(lines)
        except BaseException:
            writer.abort()
            raise
        hashes[spec.filename] = writer.commit()
        counts[spec.name] = writer.count
        result.files.append(writer.target)
    _write_rules(engine, project_root, output, hashes, result)
    result.manifest = {
        "exported_at": format_timestamp(),
        "project_id": project_id,
        "tool": "buildlog",
        "tool_version": __version__,
        "schema_revision": schema_revision,
        "tables": counts,
        "sha256": hashes,
        "projects": _projects(engine, ids),
    }
    # The manifest is covered too: its own checksum is over everything else it says (the
    # project it belongs to included), so an edited manifest fails the import's check.
    result.manifest["manifest_sha256"] = manifest_checksum(result.manifest)
    manifest = _HashingWriter(output / MANIFEST)
    manifest.handle.write((json.dumps(result.manifest, indent=2) + "\n").encode("utf-8"))
    manifest.commit()
    result.files.append(manifest.target)
    return result


def _write_rules(
    engine: Engine,
    project_root: Path | None,
    output: Path,
    hashes: dict[str, str],
    result: ExportResult,
) -> None:
    """``rules.jsonl``: the database's gauntlet rules, then the project's seed rules."""
    from buildlog.seeds import database_rules_join, load_rules_join

    rows = database_rules_join(engine)
    if project_root is not None:
        seeds = load_rules_join(project_root)
        result.warnings.extend(seeds.problems)
        rows.extend(seeds.rows)
    if not rows:
        return
    writer = _HashingWriter(output / RULES_FILE)
    for row in rows:
        writer.write(row)
    hashes[RULES_FILE] = writer.commit()
    result.files.append(writer.target)
