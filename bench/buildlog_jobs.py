"""buildlog's bulk jobs against raw sqlite3: migrate, export, and export's peak memory."""

from __future__ import annotations

import json
import shutil
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.harness import (
    MIB,
    ROWS_PER_SECOND,
    Context,
    Measurement,
    Target,
    figure,
    run_child,
)

# The tables of the export figures, with the record factory of each.
EXPORT_TABLES = ("rewards", "sessions", "mistakes")


def _stamp(i: int) -> str:
    day, rest = divmod(i, 86_400)
    return (
        f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T"
        f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.{i % 1_000_000:06d}+00:00"
    )


def reward(i: int) -> dict[str, Any]:
    """A legacy reward event as the original tool writes it."""
    return {
        "id": f"rew-{i:010x}",
        "timestamp": _stamp(i),
        "outcome": ("accepted", "revision", "rejected")[i % 3],
        "reward_value": (1.0, 0.7, 0.0)[i % 3],
        "rules_active": ["arch-b0fcb62a1e", "wf-29c1110c75"],
        "revision_distance": 0.3 if i % 3 == 1 else None,
        "error_class": "missing_test",
        "notes": "forgot an edge case",
        "source": "cli",
        "session_id": f"session-{i // 10:012d}",
    }


def session(i: int) -> dict[str, Any]:
    """A legacy session."""
    return {
        "id": f"session-{i:012d}",
        "started_at": _stamp(i),
        "ended_at": _stamp(i + 1),
        "rules_at_start": ["arch-b0fcb62a1e", "wf-96f12966f1"],
        "rules_at_end": ["arch-b0fcb62a1e"],
        "selected_rules": ["arch-b0fcb62a1e"],
        "error_class": "missing_test",
        "entry_file": "2026-02-05-auth-api.md",
        "notes": None,
    }


def mistake(i: int) -> dict[str, Any]:
    """A legacy mistake."""
    return {
        "id": f"mistake-missing_te-{i:012d}",
        "session_id": f"session-{i // 10:012d}",
        "timestamp": _stamp(i),
        "error_class": "missing_test",
        "description": "Forgot tests for the empty-input branch",
        "semantic_hash": f"{i:016x}",
        "was_repeat": i % 2 == 0,
        "corrected_by_rule": "wf-96f12966f1",
        "related_concepts": ["tests", "edge cases"],
        "relation_to_prior": None,
        "resolution_action": None,
        "context": None,
        "severity": "medium",
        "rules_consulted": [],
    }


_FACTORIES = {"rewards": reward, "sessions": session, "mistakes": mistake}
_SQL_TABLES = {"rewards": "reward_events", "sessions": "sessions", "mistakes": "mistakes"}


def _template(ctx: Context, project_root: Path) -> tuple[Path, str]:
    """An empty buildlog database with the schema and the project registered (not timed)."""
    from buildlog.backends.sql import register_project
    from buildlog.db import open_engine
    from buildlog.paths import database_location
    from buildlog.project import identify_project

    path = ctx.path("template.db")
    identity = identify_project(project_root)
    engine, _status = open_engine(database_location(str(path)))
    try:
        register_project(engine, identity)
    finally:
        engine.dispose()
    return path, identity.id


def _copy_db(template: Path, target: Path) -> Path:
    shutil.copyfile(template, target)
    target.chmod(0o600)
    return target


def _rows(table: str, n: int, project_id: str) -> Iterator[tuple[Any, ...]]:
    """Rows of a table as buildlog stores them (lists as JSON text, booleans 0/1)."""
    from buildlog.backends.rows import to_row
    from buildlog.records import Mistake, RewardEvent, Session, parse_record

    cls = {"rewards": RewardEvent, "sessions": Session, "mistakes": Mistake}[table]
    for i in range(n):
        row = to_row(parse_record(cls, _FACTORIES[table](i)), project_id=project_id)
        yield tuple(row.values())


def _fill(path: Path, tables: tuple[str, ...], n: int, project_id: str) -> None:
    """Insert n rows per table with raw sqlite3 (not timed)."""
    from buildlog.backends.rows import to_row
    from buildlog.records import Mistake, RewardEvent, Session, parse_record

    conn = sqlite3.connect(path)
    try:
        for table in tables:
            cls = {"rewards": RewardEvent, "sessions": Session, "mistakes": Mistake}[table]
            columns = list(to_row(parse_record(cls, _FACTORIES[table](0)), project_id="x"))
            marks = ", ".join("?" for _ in columns)
            conn.executemany(
                f"INSERT INTO {_SQL_TABLES[table]} ({', '.join(columns)}) VALUES ({marks})",
                _rows(table, n, project_id),
            )
        conn.commit()
    finally:
        conn.close()


@figure(
    "buildlog_migrate",
    "buildlog migrate of 100,000 legacy JSONL records (reward_events.jsonl)",
    area="buildlog",
    unit=ROWS_PER_SECOND,
    target=Target(">= 0.3", min_ratio=0.3),
)
def buildlog_migrate(ctx: Context) -> Measurement:
    from buildlog.migrate import migrate_legacy

    n = ctx.size(full=100_000, quick=30_000, tiny=500)
    root = ctx.path("project")
    (root / ".buildlog").mkdir(parents=True)
    template, project_id = _template(ctx, root)
    source = ctx.path("reward_events.jsonl")
    with source.open("w", encoding="utf-8") as handle:
        for i in range(n):
            handle.write(json.dumps(reward(i)) + "\n")
    legacy = root / ".buildlog" / "reward_events.jsonl"
    added_ok: list[bool] = []

    def project() -> float:
        db = _copy_db(template, ctx.path("buildlog.db"))
        shutil.copyfile(source, legacy)
        started = time.perf_counter()
        result = migrate_legacy(root, str(db))
        elapsed = time.perf_counter() - started
        added_ok.append(sum(f.added for f in result.files) == n and not result.issues)
        for archived in (root / ".buildlog").glob("*.migrated*"):
            archived.unlink()
        return elapsed

    columns = list(reward(0))

    def baseline() -> float:
        db = _copy_db(template, ctx.path("raw.db"))
        started = time.perf_counter()
        conn = sqlite3.connect(db)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        rows = []
        with source.open("rb") as handle:
            for line in handle:
                obj = json.loads(line)
                rows.append(
                    (
                        project_id,
                        *(
                            json.dumps(obj[c]) if c == "rules_active" else obj.get(c)
                            for c in columns
                        ),
                    )
                )
        marks = ", ".join("?" for _ in range(len(columns) + 1))
        conn.executemany(
            f"INSERT OR IGNORE INTO reward_events (project_id, {', '.join(columns)}) "
            f"VALUES ({marks})",
            rows,
        )
        conn.commit()
        conn.close()
        return time.perf_counter() - started

    measured = ctx.compare(
        project,
        baseline,
        baseline_name="raw sqlite3: json.loads per line + executemany, one transaction",
        work=n,
        size={"records": n},
    )
    measured.checks["every record imported"] = all(added_ok)
    measured.notes.append(
        "migrate_legacy() in process on a database whose schema exists; both sides read and "
        "parse the same file"
    )
    return measured


@figure(
    "buildlog_export",
    "buildlog export, 100,000 rows per table (rewards, sessions, mistakes)",
    area="buildlog",
    unit=ROWS_PER_SECOND,
    target=Target(">= 0.5", min_ratio=0.5),
)
def buildlog_export(ctx: Context) -> Measurement:
    from buildlog.db import open_engine
    from buildlog.export import export_bundle
    from buildlog.paths import database_location

    n = ctx.size(full=100_000, quick=15_000, tiny=500)
    root = ctx.path("project")
    root.mkdir()
    db, project_id = _template(ctx, root)
    _fill(db, EXPORT_TABLES, n, project_id)
    list_columns = {"rules_active", "rules_at_start", "rules_at_end", "selected_rules"}
    list_columns |= {"related_concepts", "rules_consulted"}
    engine, _status = open_engine(database_location(str(db)))

    def project() -> float:
        out = ctx.path("export")
        started = time.perf_counter()
        export_bundle(engine, out, project_id=project_id, tables=EXPORT_TABLES)
        elapsed = time.perf_counter() - started
        shutil.rmtree(out)
        return elapsed

    def baseline() -> float:
        out = ctx.path("raw-export")
        out.mkdir()
        started = time.perf_counter()
        conn = sqlite3.connect(db)
        for table in EXPORT_TABLES:
            cursor = conn.execute(
                f"SELECT * FROM {_SQL_TABLES[table]} WHERE project_id = ? ORDER BY rowid",
                [project_id],
            )
            names = [d[0] for d in cursor.description]
            with (out / f"{table}.jsonl").open("w", encoding="utf-8") as handle:
                for row in cursor:
                    obj = dict(zip(names, row, strict=True))
                    del obj["project_id"]
                    for name in list_columns.intersection(obj):
                        obj[name] = json.loads(obj[name]) if obj[name] else []
                    handle.write(json.dumps(obj) + "\n")
        conn.close()
        elapsed = time.perf_counter() - started
        shutil.rmtree(out)
        return elapsed

    try:
        measured = ctx.compare(
            project,
            baseline,
            baseline_name="raw sqlite3 SELECT + json.dumps per row to a file",
            work=n * len(EXPORT_TABLES),
            size={"rows_per_table": n, "tables": list(EXPORT_TABLES)},
        )
    finally:
        engine.dispose()
    return measured


@figure(
    "export_peak_memory",
    "peak memory (RSS of the process) exporting 1,000,000 rows",
    area="buildlog",
    unit=MIB,
    target=Target("< 200 MiB RSS", max_value=200),
)
def export_peak_memory(ctx: Context) -> Measurement:
    n = ctx.size(full=1_000_000, quick=100_000, tiny=2_000)
    root = ctx.path("project")
    root.mkdir()
    db, project_id = _template(ctx, root)
    _fill(db, ("rewards",), n, project_id)
    seconds: list[float] = []

    def project() -> float:
        out = json.loads(run_child(["export", str(db), str(ctx.path("export"))]))
        if out["rows"] != n:
            raise RuntimeError(f"exported {out['rows']} rows, expected {n}")
        seconds.append(out["seconds"])
        return float(out["peak_rss_mib"])

    repeats = 1 if ctx.mode == "tiny" else 3
    measured = ctx.compare(project, None, size={"rows": n}, repeats=repeats, warmup=False)
    measured.extra["export_seconds"] = seconds
    measured.notes.append(
        "a fresh process exports every project; peak RSS (VmHWM) of that process, imports included"
    )
    return measured
