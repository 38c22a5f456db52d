"""Writing a batch's points, one function per engine path (see :mod:`diary.store.writers`).

Each writes the points and folds them into their metric summaries
(:mod:`diary.store.summaries`) in the caller's transaction.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.errors import StorageError
from diary.store.buffer import Batch
from diary.store.summaries import summarise, upsert_duckdb, upsert_from_view, upsert_portable

__all__ = [
    "raw_connection",
    "require_pyarrow",
    "write_appender",
    "write_arrow",
    "write_copy",
    "write_core",
    "write_small_batch",
]

_ARROW_VIEW = "diary_metric_batch"
_INSERT_SQL = (
    "INSERT INTO metric (iteration_id, key, step, value, timestamp) "
    "VALUES (?, ?, ?, ?, make_timestamp(?))"
)


def require_pyarrow() -> Any:
    """pyarrow, or an error saying which extra installs it."""
    try:
        import pyarrow
    except ImportError:
        raise StorageError(
            "pyarrow is not installed; install the extra: pip install 'deardiary-tracking[arrow]'"
        ) from None
    return pyarrow


def _aware(stamp: float) -> datetime:
    return datetime.fromtimestamp(stamp, UTC)


def write_core(conn: Connection, batch: Batch) -> None:
    rows = [
        {"iteration_id": i, "key": k, "step": s, "value": v, "timestamp": _aware(t)}
        for i, k, s, v, t in batch.points()
    ]
    conn.execute(sa.insert(m.metric), rows)
    upsert_portable(conn, summarise(batch))


def write_copy(conn: Connection, batch: Batch) -> None:
    """Stream the points through PostgreSQL's COPY on the batch's own connection."""
    cursor = conn.connection.cursor()
    try:
        statement = "COPY metric (iteration_id, key, step, value, timestamp) FROM STDIN"
        with cursor.copy(statement) as copy:
            for iteration, key, step, value, stamp in batch.points():
                # The column holds naive UTC times.
                copy.write_row((iteration, key, step, value, _aware(stamp).replace(tzinfo=None)))
    finally:
        cursor.close()
    upsert_portable(conn, summarise(batch))


def raw_connection(conn: Connection) -> Any:
    from storage_core.database import raw_duckdb_connection

    return raw_duckdb_connection(conn)


def write_small_batch(conn: Connection, batch: Batch) -> None:
    """A few points through a prepared INSERT on the raw DuckDB connection."""
    rows = [(i, k, s, v, round(t * 1_000_000)) for i, k, s, v, t in batch.points()]
    raw = raw_connection(conn)
    if len(rows) == 1:
        raw.execute(_INSERT_SQL, rows[0])
    else:
        raw.executemany(_INSERT_SQL, rows)
    upsert_duckdb(raw, summarise(batch))


def write_appender(conn: Connection, batch: Batch) -> None:
    # The Appender takes naive datetimes as TIMESTAMP values; the column holds UTC.
    from_timestamp = datetime.fromtimestamp
    stamps = [from_timestamp(t, UTC).replace(tzinfo=None) for t in batch.timestamps]
    raw = raw_connection(conn)
    appender = raw.appender("metric", columns=["iteration_id", "key", "step", "value", "timestamp"])
    appender.append_rows(
        list(zip(batch.iteration_ids, batch.keys, batch.steps, batch.values, stamps, strict=True))
    )
    appender.flush()
    upsert_duckdb(raw, summarise(batch))


def _strings(pa: Any, items: Sequence[str]) -> Any:
    """A small Arrow string array built from buffers (a dictionary's values)."""
    encoded = [item.encode() for item in items]
    offsets = array("i", [0])
    for item in encoded:
        offsets.append(offsets[-1] + len(item))
    return pa.Array.from_buffers(
        pa.string(), len(items), [None, pa.py_buffer(offsets), pa.py_buffer(b"".join(encoded))]
    )


def _dictionary(pa: Any, column: Sequence[Any]) -> Any:
    """Dictionary-encode a column with few distinct values (iterations, keys)."""
    codes = {value: index for index, value in enumerate(dict.fromkeys(column))}
    indices = array("i", [codes[value] for value in column])
    return pa.DictionaryArray.from_arrays(
        pa.Array.from_buffers(pa.int32(), len(column), [None, pa.py_buffer(indices)]),
        _strings(pa, [str(value) for value in codes]),
    )


def write_arrow(conn: Connection, batch: Batch) -> None:
    """Insert the points as an Arrow table built straight from buffers.

    ``pyarrow.array()`` on Python lists imports pandas when it is installed (over a second);
    building the arrays from ``array`` buffers avoids that and any per-value conversion.
    """
    pa = require_pyarrow()
    count = len(batch.values)

    def numbers(kind: Any, code: str, values: Iterable[Any]) -> Any:
        return pa.Array.from_buffers(kind, count, [None, pa.py_buffer(array(code, values))])

    table = pa.table(
        {
            "iteration_id": _dictionary(pa, batch.iteration_ids),
            "key": _dictionary(pa, batch.keys),
            "step": numbers(pa.int64(), "q", batch.steps),
            "value": numbers(pa.float64(), "d", batch.values),
            "timestamp": numbers(
                pa.timestamp("us"), "q", (round(t * 1_000_000) for t in batch.timestamps)
            ),
        }
    )
    raw = raw_connection(conn)
    raw.register(_ARROW_VIEW, table)
    try:
        raw.execute(
            f"INSERT INTO metric (iteration_id, key, step, value, timestamp) "
            f"SELECT CAST(iteration_id AS UUID), CAST(key AS VARCHAR), step, value, timestamp "
            f"FROM {_ARROW_VIEW}"
        )
        upsert_from_view(raw, _ARROW_VIEW)
    finally:
        raw.unregister(_ARROW_VIEW)
