"""``diary db copy``: move a whole store to another database (a DuckDB file to a PostgreSQL
server, and back), verified, idempotent and safe to run again after a kill.

Tables are copied parents first, in batches, each batch one transaction on the target:

* rows with a key (projects, experiments, iterations, parameters, tags, environments,
  artifacts and their inline bytes, models and versions, metric summaries) are inserted unless
  the target has the key already (``ON CONFLICT DO NOTHING``), so a run after a kill adds what
  is missing and nothing twice;
* points have no key: the points of a batch of iterations are deleted from the target and
  inserted again in one transaction, then counted against the source before it commits.

Iterations go in an order where every parent precedes its children. The database's own
identity (``store_identity``) is not copied: the copy takes one of its own, and artifact objects
in a shared root stay the source's (the copy never deletes them). Every table's rows are counted
on both sides at the end.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from diary import models as m
from storage_core.database.copying import CopyReport, Progress
from storage_core.database.statements import insert_skipping_duplicates
from storage_core.errors import IntegrityError

__all__ = ["CopyReport", "copy_store"]

BATCH = 2000
BLOB_BATCH = 8
# Iterations whose points move in one transaction.
POINT_BATCH = 200

# Parents before children (foreign keys are enforced on PostgreSQL and SQLite).
_KEYED = (
    "project",
    "experiment",
    "environment",
    "iteration",
    "parameter",
    "project_tag",
    "experiment_tag",
    "iteration_tag",
    "resource",
    "resource_blob",
    "model",
    "model_version",
    "metric_summary",
)


def copy_store(
    source: Engine,
    target: Engine,
    *,
    source_name: str = "source",
    target_name: str = "target",
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every row of the diary database ``source`` into ``target`` (both at the schema
    head; see the module docstring).

    Args:
        progress: called with (table, rows done, rows in all) after each batch.

    Raises:
        IntegrityError: a table's rows do not all arrive (counted after the copy).
    """
    report = CopyReport(source_name, target_name)
    with source.connect() as reading:
        for name in _KEYED:
            table = m.metadata.tables[name]
            # Counted before the rows stream: DuckDB ends a streaming result when its
            # connection runs another statement.
            report.rows[name] = _count(reading, table)
            rows = _source_rows(reading, table)
            report.added[name] = _copy_keyed(target, table, rows, report.rows[name], progress)
            if name == "iteration":
                report.rows["metric"], report.added["metric"] = _copy_points(
                    reading, target, progress
                )
    _verify(source, target, report)
    return report


def _count(conn: Connection, table: sa.Table) -> int:
    return int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


def _source_rows(conn: Connection, table: sa.Table) -> Iterator[dict[str, Any]] | list[Any]:
    """The rows to copy, in an order the target's foreign keys accept."""
    if table.name == "iteration":
        return _parents_first([dict(row) for row in conn.execute(sa.select(table)).mappings()])
    order = [table.c[c.name] for c in table.primary_key.columns]
    result = conn.execution_options(yield_per=BATCH).execute(sa.select(table).order_by(*order))
    return (dict(row) for row in result.mappings())


def _parents_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Iterations ordered so that every parent comes before its children."""
    children: dict[UUID | None, list[dict[str, Any]]] = {}
    for row in rows:
        children.setdefault(row["parent_id"], []).append(row)
    ordered: list[dict[str, Any]] = []
    pending = list(children.get(None, []))
    while pending:
        row = pending.pop()
        ordered.append(row)
        pending.extend(children.get(row["id"], []))
    return ordered


def _batches(
    rows: Iterator[dict[str, Any]] | list[Any], size: int
) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _copy_keyed(
    target: Engine,
    table: sa.Table,
    rows: Iterator[dict[str, Any]] | list[Any],
    total: int,
    progress: Progress | None,
) -> int:
    added = done = 0
    # Inline artifact bytes may be large: a few per transaction.
    size = BLOB_BATCH if table.name == "resource_blob" else BATCH
    for batch in _batches(rows, size):
        with target.begin() as conn:
            before = _count(conn, table)
            conn.execute(insert_skipping_duplicates(conn, table), batch)
            added += _count(conn, table) - before
        done += len(batch)
        if progress is not None:
            progress(table.name, done, total)
    return added


def _copy_points(reading: Connection, target: Engine, progress: Progress | None) -> tuple[int, int]:
    """Every iteration's points, a batch of iterations per transaction (delete, insert,
    count)."""
    metric = m.metric
    iteration = m.iteration
    owners = [row[0] for row in reading.execute(sa.select(iteration.c.id).order_by(iteration.c.id))]
    total = _count(reading, metric)
    done = added = 0
    for start in range(0, len(owners), POINT_BATCH):
        chunk: Sequence[UUID] = owners[start : start + POINT_BATCH]
        where = metric.c.iteration_id.in_(chunk)
        points = [dict(row) for row in reading.execute(sa.select(metric).where(where)).mappings()]
        with target.begin() as conn:
            before = _count_where(conn, metric, where)
            conn.execute(sa.delete(metric).where(where))
            if points:
                _insert_points(conn, points)
            arrived = _count_where(conn, metric, where)
            if arrived != len(points):
                raise IntegrityError("metric", str(len(points)), str(arrived))
        added += max(arrived - before, 0)
        done += len(points)
        if progress is not None:
            progress("metric", done, total)
    return total, added


def _insert_points(conn: Connection, points: list[dict[str, Any]]) -> None:
    """Points in bulk: COPY on PostgreSQL, the Appender on DuckDB, executemany elsewhere."""
    names = ("iteration_id", "key", "step", "value", "timestamp")
    # The column holds naive UTC times; the rows read through the model are aware.
    rows = [
        (p["iteration_id"], p["key"], p["step"], p["value"], p["timestamp"].replace(tzinfo=None))
        for p in points
    ]
    if conn.dialect.name == "postgresql":
        cursor = conn.connection.cursor()
        try:
            with cursor.copy(f"COPY metric ({', '.join(names)}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()
        return
    if conn.dialect.name == "duckdb":
        from diary.store.point_writers import raw_connection

        appender = raw_connection(conn).appender("metric", columns=list(names))
        appender.append_rows(rows)
        appender.flush()
        return
    conn.execute(sa.insert(m.metric), points)


def _count_where(conn: Connection, table: sa.Table, where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(where)
    return int(conn.execute(query).scalar_one())


def _verify(source: Engine, target: Engine, report: CopyReport) -> None:
    """Every source row is in the target: counted per table over the source's keys (the
    points per batch of iterations)."""
    with source.connect() as reading, target.connect() as written:
        for name in _KEYED:
            table = m.metadata.tables[name]
            expected = report.rows[name]
            found = _present(reading, written, table, list(table.primary_key.columns))
            if found != expected:
                raise IntegrityError(f"copy of table {name}", f"{expected} rows", f"{found} rows")
        owners = [row[0] for row in reading.execute(sa.select(m.iteration.c.id))]
        found = sum(
            _count_where(written, m.metric, m.metric.c.iteration_id.in_(owners[i : i + BATCH]))
            for i in range(0, len(owners), BATCH)
        )
        if found != report.rows["metric"]:
            raise IntegrityError("copy of table metric", f"{report.rows['metric']} rows",
                                 f"{found} rows")  # fmt: skip


def _present(reading: Connection, written: Connection, table: sa.Table, keys: list[Any]) -> int:
    """How many of the source's keys of ``table`` the target holds (the target's keys in a
    set: one scan each side, where IN lists of key tuples plan slowly on PostgreSQL)."""
    columns = [table.c[k.name] for k in keys]
    held = {tuple(row) for row in written.execute(sa.select(*columns))}
    return sum(1 for row in reading.execute(sa.select(*columns)) if tuple(row) in held)
