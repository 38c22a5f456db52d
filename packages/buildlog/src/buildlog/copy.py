"""``buildlog db copy``: every project's records into another database (the global SQLite file
onto a team's PostgreSQL server, and back), verified, idempotent and safe to run again.

Tables are copied parents first, in batches of one transaction each. Rows with a key are
inserted unless the target has the key. The three tables whose rows have only a local counter
for a key (posterior snapshots, review history, emission edges) are matched by content instead:
a row goes in when the target holds fewer rows with that content than the source, so a second
run, or a run after a kill, adds what is missing and nothing twice. At the end every table is
counted against the source.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from buildlog.backends.sql import insert_ignore
from buildlog.models import metadata
from storage_core.database.copying import CopyReport, Progress
from storage_core.errors import IntegrityError

__all__ = ["CopyReport", "copy_database"]

BATCH = 2000
# The original's own version table belongs to each database's schema, not to the records.
_SKIPPED = {"schema_version"}
# Tables keyed by a counter: the key means nothing in another database.
_BY_CONTENT = {"posterior_snapshots": "id", "review_history": "rowid", "emission_edges": "id"}


def copy_database(
    source: Engine,
    target: Engine,
    *,
    source_name: str = "source",
    target_name: str = "target",
    progress: Progress | None = None,
) -> CopyReport:
    """Copy every record of the buildlog database ``source`` into ``target`` (both at the
    schema head).

    Raises:
        IntegrityError: a table's rows did not all arrive (counted after the copy).
    """
    report = CopyReport(source_name, target_name)
    tables = [t for t in metadata.sorted_tables if t.name not in _SKIPPED]
    with source.connect() as reading:
        for table in tables:
            rows = [dict(row) for row in reading.execute(sa.select(table)).mappings()]
            report.rows[table.name] = len(rows)
            counter = _BY_CONTENT.get(table.name)
            if counter is not None:
                added = _copy_by_content(target, table, rows, counter, progress)
            else:
                added = _copy_keyed(target, table, rows, progress)
            report.added[table.name] = added
    _verify(source, target, tables, report)
    return report


def _batches(rows: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(rows), BATCH):
        yield rows[start : start + BATCH]


def _copy_keyed(
    target: Engine, table: sa.Table, rows: list[dict[str, Any]], progress: Progress | None
) -> int:
    added = done = 0
    for batch in _batches(rows):
        with target.begin() as conn:
            added += insert_ignore(conn, table, batch)
        done += len(batch)
        if progress is not None:
            progress(table.name, done, len(rows))
    return added


def _content(row: dict[str, Any], counter: str) -> tuple[Any, ...]:
    return tuple(value for name, value in sorted(row.items()) if name != counter)


def _stored_contents(conn: Connection, table: sa.Table, counter: str) -> Counter[tuple[Any, ...]]:
    rows = conn.execute(sa.select(table)).mappings()
    return Counter(_content(dict(row), counter) for row in rows)


def _copy_by_content(
    target: Engine,
    table: sa.Table,
    rows: list[dict[str, Any]],
    counter: str,
    progress: Progress | None,
) -> int:
    # What the target holds once, before the first batch (what a killed run left included);
    # the copy itself is the only writer while it runs.
    with target.connect() as conn:
        stored = _stored_contents(conn, table, counter)
    added = done = 0
    for batch in _batches(rows):
        with target.begin() as conn:
            missing = []
            for row in batch:
                content = _content(row, counter)
                if stored[content] > 0:
                    stored[content] -= 1
                else:
                    missing.append({k: v for k, v in row.items() if k != counter})
            if missing:
                conn.execute(sa.insert(table), missing)
            added += len(missing)
        done += len(batch)
        if progress is not None:
            progress(table.name, done, len(rows))
    return added


def _verify(source: Engine, target: Engine, tables: list[sa.Table], report: CopyReport) -> None:
    with source.connect() as reading, target.connect() as written:
        for table in tables:
            counter = _BY_CONTENT.get(table.name)
            if counter is not None:
                wanted = _stored_contents(reading, table, counter)
                held = _stored_contents(written, table, counter)
                found = sum(min(held[c], n) for c, n in wanted.items())
            else:
                # The target's keys in a set: one scan, instead of IN lists of key tuples
                # that PostgreSQL plans slowly.
                keys = list(table.primary_key.columns)
                held_keys = {tuple(row) for row in written.execute(sa.select(*keys))}
                found = sum(
                    1 for row in reading.execute(sa.select(*keys)) if tuple(row) in held_keys
                )
            expected = report.rows[table.name]
            if found != expected:
                raise IntegrityError(f"copy of table {table.name}", f"{expected} rows",
                                     f"{found} rows")  # fmt: skip
