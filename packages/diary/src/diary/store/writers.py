"""Writing a batch of metrics and parameters in one transaction, fast.

Metric points never go row by row through SQLAlchemy (about 5 s per 100,000 points on DuckDB):

* ``arrow`` (DuckDB, pyarrow installed): the columns become an Arrow table that DuckDB inserts
  with one ``INSERT ... SELECT`` (about 0.05 s per 100,000 points);
* ``appender`` (DuckDB without pyarrow): DuckDB's Appender (about 0.3 s per 100,000 points,
  most of it building Python datetimes);
* ``copy`` (PostgreSQL): the points stream through ``COPY metric FROM STDIN`` (psycopg's
  copy protocol), in the transaction of the batch;
* ``core`` (every other database): one SQLAlchemy Core ``executemany``, which SQLite's driver
  batches well.

A small batch (a durable ``log_metric``, a flush of a few points) skips all of that on DuckDB:
registering an Arrow table or creating an Appender costs ~1 ms, a prepared ``INSERT`` of a
few rows ~0.1 ms. The iteration check goes through the raw connection too (SQLAlchemy's
statement compilation costs more than DuckDB's query).

The DuckDB paths go through the raw DuckDB connection inside the SQLAlchemy transaction, so
the parameters, the points and the checks commit or roll back together. Parameters are few
and go through SQLAlchemy Core everywhere.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.errors import NotFound, ParameterConflict, StorageError
from diary.store.buffer import Batch
from diary.store.point_writers import (
    raw_connection,
    require_pyarrow,
    write_appender,
    write_arrow,
    write_copy,
    write_core,
    write_small_batch,
)
from diary.store.steps import settle_chosen_steps
from diary.store.summaries import summarise, upsert_one_duckdb

__all__ = [
    "CheckEveryKey",
    "MetricWriter",
    "choose_writer",
    "is_single_statement",
    "write_batch",
    "write_small",
]

MetricWriter = Literal["auto", "arrow", "appender", "copy", "core"]
_CHUNK = 500
# Batches up to this many points go in with a prepared INSERT on DuckDB.
SMALL_BATCH = 32


def choose_writer(requested: MetricWriter, dialect: str) -> MetricWriter:
    """The concrete metric writer for a database.

    Raises:
        StorageError: a DuckDB-only writer was requested for another database, or ``arrow``
            without pyarrow installed.
    """
    if requested == "auto":
        if dialect == "postgresql":
            return "copy"
        if dialect != "duckdb":
            return "core"
        # Look, don't import: pyarrow (and the numpy it loads) costs a CLI call 0.2 s, and it
        # is imported at the first flush anyway.
        if importlib.util.find_spec("pyarrow") is None:
            return "appender"
        # The Arrow arrays are built from native buffers, which Arrow reads as little-endian.
        return "arrow" if sys.byteorder == "little" else "appender"
    if requested in ("arrow", "appender") and dialect != "duckdb":
        raise StorageError(f"the {requested} metric writer needs DuckDB, not {dialect}")
    if requested == "copy" and dialect != "postgresql":
        raise StorageError(f"the copy metric writer needs PostgreSQL, not {dialect}")
    if requested == "arrow":
        require_pyarrow()
    return requested


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def write_batch(
    conn: Connection,
    batch: Batch,
    writer: MetricWriter,
    *,
    existing: Iterable[UUID] = (),
    unchecked_params: frozenset[UUID] = frozenset(),
) -> StorageError | None:
    """Write a batch in the caller's transaction.

    Points and parameters of iterations that no longer exist are dropped (the metric table has
    no foreign key: the application keeps it consistent). A parameter that already has a
    different value is dropped. Both are reported through the return value, after everything
    else was written.

    Args:
        existing: iterations this transaction already found (they are not looked up again).
        unchecked_params: iterations whose parameters are inserted without reading the stored
            ones first (iterations this process created); a stored key then raises
            ``IntegrityError``, and the caller retries without them.

    Returns:
        The first refusal to report, or None.
    """
    refused: StorageError | None = None
    original = batch
    duckdb = writer in ("arrow", "appender")
    wanted = (set(batch.iteration_ids) | {owner for owner, _ in batch.params}) - set(existing)
    stored: set[UUID] = set()
    for chunk in _chunks(list(wanted)):
        if duckdb:
            marks = ", ".join("?" for _ in chunk)
            found = raw_connection(conn).execute(
                f"SELECT id FROM iteration WHERE id IN ({marks})", chunk
            )
            stored.update(row[0] for row in found.fetchall())
        else:
            query = sa.select(m.iteration.c.id).where(m.iteration.c.id.in_(chunk))
            stored.update(conn.execute(query).scalars())
    missing = wanted - stored
    if missing:
        batch = _without(batch, missing)
        refused = NotFound(
            "iteration",
            str(sorted(missing, key=str)[0]),
            message=f"iteration not found: {sorted(missing, key=str)[0]}; "
            "its buffered metrics and parameters were dropped",
        )
    conflict = _write_params(conn, batch, unchecked_params)
    refused = refused or conflict
    if batch.values:
        settled = settle_chosen_steps(conn, batch)
        original.stored_steps = batch.stored_steps
        batch = settled
        if duckdb and len(batch.values) <= SMALL_BATCH:
            write_small_batch(conn, batch)
        elif writer == "arrow":
            write_arrow(conn, batch)
        elif writer == "appender":
            write_appender(conn, batch)
        elif writer == "copy":
            write_copy(conn, batch)
        else:
            write_core(conn, batch)
    return refused


def is_single_statement(batch: Batch, writer: MetricWriter) -> bool:
    """Whether :func:`write_small` can write the batch on DuckDB: one point and no parameter,
    or parameters of one iteration (up to a chunk) and no point."""
    if writer not in ("arrow", "appender"):
        return False
    if not batch.params:
        return len(batch.values) == 1
    owners = {owner for owner, _ in batch.params}
    return not batch.values and len(owners) == 1 and len(batch.params) <= _CHUNK


class CheckEveryKey(Exception):
    """:func:`write_small` stored what it could without reading: write the batch again in a
    transaction that reads the stored keys (a key stored already, or a missing iteration)."""


_ONE_POINT_SQL = (
    "INSERT INTO metric (iteration_id, key, step, value, timestamp) "
    "SELECT ?, ?, ?, ?, make_timestamp(?) WHERE EXISTS (SELECT 1 FROM iteration WHERE id = ?)"
)


# Joining the iteration's row checks that it exists; the primary key refuses a key stored
# already (the caller then checks every key). One parameter binds scalars; more travel as
# list parameters that DuckDB unnests: binding four scalars per row of a VALUES list made
# DuckDB plan a statement of hundreds of parameters (~20 ms for 100 parameters, against
# ~3 ms), and NOT EXISTS subqueries doubled the cost of a single one (3.7 ms against 1.7 ms).
_NEW_PARAM_SQL = (
    "INSERT INTO parameter (iteration_id, key, value, created_at) "
    "SELECT id, ?, ?, make_timestamp(?) FROM iteration WHERE id = ?"
)
_NEW_PARAMS_SQL = (
    "INSERT INTO parameter (iteration_id, key, value, created_at) "
    "SELECT id, v.k, v.val, make_timestamp(v.t) FROM iteration, (SELECT "
    "unnest(CAST(? AS VARCHAR[])) AS k, unnest(CAST(? AS VARCHAR[])) AS val, "
    "unnest(CAST(? AS BIGINT[])) AS t) AS v WHERE id = ?"
)


def _write_new_params(conn: Connection, batch: Batch) -> None:
    """Parameters of one iteration with one autocommitted statement, when all are new.

    The statement stores every key or none: it fails on a key the iteration has already.

    Raises:
        CheckEveryKey: nothing was stored (a key stored already, perhaps with the same value,
            perhaps not; or no such iteration).
    """
    import duckdb

    items = list(batch.params.items())
    owner = items[0][0][0]
    if len(items) == 1:
        ((_, key), (value, stamp)) = items[0]
        sql, params = _NEW_PARAM_SQL, [key, value, round(stamp * 1_000_000), owner]
    else:
        keys = [key for (_, key), _ in items]
        values = [value for _, (value, _) in items]
        stamps = [round(stamp * 1_000_000) for _, (_, stamp) in items]
        sql, params = _NEW_PARAMS_SQL, [keys, values, stamps, owner]
    try:
        written = raw_connection(conn).execute(sql, params).fetchone()
    except duckdb.ConstraintException:
        raise CheckEveryKey from None
    if not written or written[0] != len(items):
        raise CheckEveryKey


def write_small(conn: Connection, batch: Batch) -> StorageError | None:
    """Write one point, or the new parameters of one iteration, on the raw DuckDB connection
    without SQLAlchemy's transaction (the durable ``log_metric`` and ``log_param``).

    Raises:
        CheckEveryKey: parameters that need the transaction of :func:`write_batch`.

    ``INSERT ... SELECT ... WHERE EXISTS`` checks the iteration and inserts atomically. New
    parameters are one autocommitted statement; a point and its summary row are one raw
    transaction. Call it on a connection with no transaction begun.

    Returns:
        NotFound when the iteration does not exist (nothing was written), else None.
    """
    if batch.params:
        _write_new_params(conn, batch)
        return None
    raw = raw_connection(conn)
    raw.execute("BEGIN TRANSACTION")
    try:
        refused = _write_one_point(conn, raw, batch)
        raw.execute("ROLLBACK" if refused else "COMMIT")
    except BaseException:
        raw.execute("ROLLBACK")
        raise
    return refused


def _write_one_point(conn: Connection, raw: Any, batch: Batch) -> NotFound | None:
    settled = settle_chosen_steps(conn, batch)
    iteration = settled.iteration_ids[0]
    params = [
        iteration,
        settled.keys[0],
        settled.steps[0],
        settled.values[0],
        round(settled.timestamps[0] * 1_000_000),
        iteration,
    ]
    written = raw.execute(_ONE_POINT_SQL, params).fetchone()
    if written is None or written[0] == 0:
        batch.stored_steps = None
        return NotFound(
            "iteration",
            str(iteration),
            message=f"iteration not found: {iteration}; its metrics were dropped",
        )
    (summary,) = summarise(settled)
    upsert_one_duckdb(raw, summary)
    return None


def _without(batch: Batch, missing: set[UUID]) -> Batch:
    kept = Batch(params={k: v for k, v in batch.params.items() if k[0] not in missing})
    for row in batch.point_rows():
        if row[0] not in missing:
            kept.add_point(*row)
    return kept


def _write_params(
    conn: Connection, batch: Batch, unchecked: frozenset[UUID]
) -> ParameterConflict | None:
    """Insert the batch's parameters; a key an iteration has already keeps its stored value.

    The stored values are read first, except for the iterations in ``unchecked``, whose
    parameters go straight in: a key stored already makes the insert fail with an
    ``IntegrityError``, and the caller writes the batch again with every key checked.
    """
    if not batch.params:
        return None
    rows = {
        (owner, key): {
            "iteration_id": owner,
            "key": key,
            "value": value,
            "created_at": _aware(stamp),
        }
        for (owner, key), (value, stamp) in batch.params.items()
    }
    checked = [item for item in rows if item[0] not in unchecked]
    stored = _stored_params(conn, checked) if checked else {}
    new = [row for item, row in rows.items() if item not in stored]
    if new:
        conn.execute(sa.insert(m.parameter), new)
    return _conflict(batch, stored)


def _stored_params(
    conn: Connection, items: Sequence[tuple[UUID, str]]
) -> dict[tuple[UUID, str], str]:
    table = m.parameter
    stored: dict[tuple[UUID, str], str] = {}
    owners = sorted({owner for owner, _ in items}, key=str)
    keys = sorted({key for _, key in items})
    for owner_chunk in _chunks(owners):
        for key_chunk in _chunks(keys):
            rows = conn.execute(
                sa.select(table.c.iteration_id, table.c.key, table.c.value).where(
                    table.c.iteration_id.in_(owner_chunk), table.c.key.in_(key_chunk)
                )
            )
            stored.update({(row.iteration_id, row.key): row.value for row in rows})
    return stored


def _conflict(batch: Batch, stored: dict[tuple[UUID, str], str]) -> ParameterConflict | None:
    """The first parameter of the batch whose stored value differs, as an error to report."""
    for (owner, key), (value, _stamp) in batch.params.items():
        previous = stored.get((owner, key))
        if previous is not None and previous != value:
            return ParameterConflict(str(owner), key, previous, value)
    return None


def _aware(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)
