"""Artifact rows in the database: record, look up and remove ``resource`` rows and their inline
bytes (``resource_blob``), with a fast path on DuckDB.

Every call here is one statement or one short transaction on a connection the caller opened.
On DuckDB the statements go to the raw connection as plain SQL: the DuckDB dialect has no
compiled-statement cache, so an SQLAlchemy statement costs ~0.5 ms of compilation on top of
DuckDB's own work, several times what a point lookup costs. Other databases use SQLAlchemy
Core with the same meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.artifacts.stores import StoredBytes
from diary.records import Resource

__all__ = [
    "CHECKPOINT_THRESHOLD",
    "DUCKDB_SETTINGS",
    "META_COLUMNS",
    "delete_blob",
    "fetch_blob",
    "fetch_many_with_data",
    "fetch_meta",
    "fetch_with_data",
    "guard",
    "insert_resource",
    "insert_resources",
    "iteration_owner",
    "resource_record",
    "store_blob",
    "switch_resource",
]

#: Every ``resource`` column but the unused legacy ``data``: listings never load BLOBs.
META_COLUMNS = tuple(column for column in m.resource.c if column.name != "data")
_META_NAMES = ", ".join(f"r.{column.name}" for column in META_COLUMNS)
_INSERT_NAMES = ", ".join(column.name for column in META_COLUMNS if column.name != "updated_at")

_DUCKDB_FETCH = (
    f"SELECT {_META_NAMES}, b.data FROM resource r "
    "LEFT JOIN resource_blob b ON b.resource_id = r.id WHERE r.id = ?"
)
_DUCKDB_FETCH_MANY = (
    f"SELECT {_META_NAMES}, b.data FROM resource r "
    "LEFT JOIN resource_blob b ON b.resource_id = r.id WHERE list_contains(?, r.id)"
)
#: Ids per query when many artifacts are fetched at once.
_MANY = 500
_DUCKDB_FETCH_META = f"SELECT {_META_NAMES} FROM resource r WHERE r.id = ?"
# The owner check and the insert are one statement: the row is written only while its
# experiment (and iteration, of that experiment) exist, without a transaction around two.
_DUCKDB_INSERT = (
    f"INSERT INTO resource ({_INSERT_NAMES}) "
    f"SELECT {', '.join('?' for _ in _INSERT_NAMES.split(', '))} "
    "WHERE EXISTS (SELECT 1 FROM experiment WHERE id = ?) AND "
    "(CAST(? AS UUID) IS NULL OR EXISTS "
    "(SELECT 1 FROM iteration WHERE id = ? AND experiment_id = ?))"
)


# The row of an iteration's artifact, its experiment taken from the iteration as it is written
# (no row when there is no such iteration).
_DUCKDB_INSERT_OF_ITERATION = (
    f"INSERT INTO resource ({_INSERT_NAMES}) "
    f"SELECT ?, experiment_id, {', '.join('?' for _ in _INSERT_NAMES.split(', ')[2:])} "
    "FROM iteration WHERE id = ? RETURNING experiment_id"
)


def _duckdb(conn: Connection) -> Any | None:
    """The raw DuckDB connection behind ``conn``, or None on other databases."""
    if conn.dialect.name != "duckdb":
        return None
    from storage_core.database import raw_duckdb_connection

    return raw_duckdb_connection(conn)


def _naive_utc(value: datetime) -> datetime:
    return value.astimezone(UTC).replace(tzinfo=None)


def _aware(value: datetime | None) -> datetime | None:
    return None if value is None else value.replace(tzinfo=UTC)


def resource_record(row: Any) -> Resource:
    """A :class:`Resource` from a ``resource`` row (an SQLAlchemy row or a raw tuple)."""
    if isinstance(row, tuple) and not hasattr(row, "_fields"):
        values = list(row[: len(META_COLUMNS)])
        values[-2], values[-1] = _aware(values[-2]), _aware(values[-1])
        return Resource(*values)
    return Resource(
        row.id,
        row.experiment_id,
        row.iteration_id,
        row.name,
        row.description,
        row.media_type,
        row.backend,
        row.uri,
        row.size_bytes,
        row.content_hash,
        row.created_at,
        row.updated_at,
    )


def iteration_owner(conn: Connection, iteration: UUID) -> UUID | None:
    """The experiment of an iteration, or None when there is no such iteration."""
    raw = _duckdb(conn)
    if raw is not None:
        found = raw.execute("SELECT experiment_id FROM iteration WHERE id = ?", [iteration])
        row = found.fetchone()
        return None if row is None else UUID(str(row[0]))
    rows = conn.execute(
        sa.select(m.iteration.c.experiment_id).where(m.iteration.c.id == iteration)
    ).all()
    return rows[0][0] if rows else None


def insert_iteration_resource(conn: Connection, record: Resource) -> UUID | None:
    """Insert the row of an iteration's artifact whose bytes live outside it, its experiment
    taken from the iteration in the same statement (``record.experiment_id`` is ignored).

    DuckDB only (one autocommitted statement); other engines look the experiment up with
    :func:`iteration_owner` in the transaction that calls :func:`insert_resource`.

    Returns:
        The iteration's experiment, or None when there is no such iteration (nothing written).
    """
    raw = _duckdb(conn)
    if raw is None or record.iteration_id is None:
        raise ValueError("a DuckDB connection and an iteration's artifact are needed")
    values = [
        record.id, record.iteration_id, record.name, record.description, record.media_type,
        record.backend, record.uri, record.size_bytes, record.content_hash,
        _naive_utc(record.created_at), record.iteration_id,
    ]  # fmt: skip
    rows = raw.execute(_DUCKDB_INSERT_OF_ITERATION, values).fetchall()
    return UUID(str(rows[0][0])) if rows else None


def insert_resource(conn: Connection, record: Resource, data: bytes | None) -> bool:
    """Insert an artifact row (and its inline bytes) if its experiment and iteration exist.

    On DuckDB with ``data`` None it may run on a connection with no transaction begun (one
    autocommitted statement); otherwise call it inside a transaction (the row and its bytes
    commit together; on other databases the checks and the insert are several statements).

    Returns:
        False when the experiment or the iteration (of that experiment) is missing: nothing
        was written.
    """
    raw = _duckdb(conn)
    if raw is not None:
        values = [
            record.id, record.experiment_id, record.iteration_id, record.name,
            record.description, record.media_type, record.backend, record.uri,
            record.size_bytes, record.content_hash, _naive_utc(record.created_at),
            record.experiment_id, record.iteration_id, record.iteration_id,
            record.experiment_id,
        ]  # fmt: skip
        written = raw.execute(_DUCKDB_INSERT, values).fetchone()
        if not written or not written[0]:
            return False
        if data is not None:
            raw.execute("INSERT INTO resource_blob VALUES (?, ?)", [record.id, data])
        return True
    owner = sa.select(m.experiment.c.id).where(m.experiment.c.id == record.experiment_id)
    if not conn.execute(owner).all():
        return False
    if record.iteration_id is not None:
        iteration = sa.select(m.iteration.c.id).where(
            m.iteration.c.id == record.iteration_id,
            m.iteration.c.experiment_id == record.experiment_id,
        )
        if not conn.execute(iteration).all():
            return False
    conn.execute(
        sa.insert(m.resource).values(
            {column.name: getattr(record, column.name) for column in META_COLUMNS}
        )
    )
    if data is not None:
        conn.execute(sa.insert(m.resource_blob).values(resource_id=record.id, data=data))
    return True


def fetch_with_data(conn: Connection, resource_id: UUID) -> tuple[Resource, bytes | None] | None:
    """An artifact's row and its inline bytes (None for external ones), in one query.

    Returns:
        None when there is no such artifact.
    """
    raw = _duckdb(conn)
    if raw is not None:
        row = raw.execute(_DUCKDB_FETCH, [resource_id]).fetchone()
        if row is None:
            return None
        return resource_record(tuple(row[:-1])), row[-1]
    found = conn.execute(
        sa.select(*META_COLUMNS, m.resource_blob.c.data)
        .select_from(m.resource.outerjoin(m.resource_blob))
        .where(m.resource.c.id == resource_id)
    ).all()
    if not found:
        return None
    return resource_record(found[0]), found[0].data


def insert_resources(
    conn: Connection,
    experiment: UUID,
    iteration: UUID | None,
    rows: list[tuple[Resource, bytes | None]],
) -> bool:
    """Insert the rows (and inline bytes) of many artifacts of one owner, inside the caller's
    transaction, if the experiment and the iteration (of that experiment) exist.

    One owner check for all rows, then one statement per table.

    Returns:
        False when the owner is missing: nothing was written.
    """
    owner = sa.select(m.experiment.c.id).where(m.experiment.c.id == experiment)
    if iteration is not None:
        owner = sa.select(m.iteration.c.id).where(
            m.iteration.c.id == iteration, m.iteration.c.experiment_id == experiment
        )
    if not conn.execute(owner).all():
        return False
    metas = [
        {column.name: getattr(record, column.name) for column in META_COLUMNS}
        for record, _data in rows
    ]
    blobs = [{"resource_id": record.id, "data": data} for record, data in rows if data is not None]
    raw = _duckdb(conn)
    if raw is not None:
        # DuckDB's executemany, without SQLAlchemy's per-row compilation.
        names = [column.name for column in META_COLUMNS]
        placeholders = ", ".join("?" for _ in names)
        for meta in metas:
            meta["created_at"] = _naive_utc(meta["created_at"])
        raw.executemany(
            f"INSERT INTO resource ({', '.join(names)}) VALUES ({placeholders})",
            [[meta[name] for name in names] for meta in metas],
        )
        if blobs:
            raw.executemany(
                "INSERT INTO resource_blob VALUES (?, ?)",
                [[blob["resource_id"], blob["data"]] for blob in blobs],
            )
        return True
    conn.execute(sa.insert(m.resource), metas)
    if blobs:
        conn.execute(sa.insert(m.resource_blob), blobs)
    return True


def fetch_many_with_data(
    conn: Connection, resource_ids: list[UUID]
) -> dict[UUID, tuple[Resource, bytes | None]]:
    """Many artifacts' rows and inline bytes, a few queries in all (ids that are missing are
    missing from the result)."""
    found: dict[UUID, tuple[Resource, bytes | None]] = {}
    unique = list(dict.fromkeys(resource_ids))
    raw = _duckdb(conn)
    for start in range(0, len(unique), _MANY):
        group = unique[start : start + _MANY]
        if raw is not None:
            rows = raw.execute(_DUCKDB_FETCH_MANY, [group]).fetchall()
            found.update(
                (record.id, (record, row[-1]))
                for row in rows
                for record in [resource_record(tuple(row[:-1]))]
            )
            continue
        selected = conn.execute(
            sa.select(*META_COLUMNS, m.resource_blob.c.data)
            .select_from(m.resource.outerjoin(m.resource_blob))
            .where(m.resource.c.id.in_(group))
        ).all()
        found.update((row.id, (resource_record(row), row.data)) for row in selected)
    return found


def fetch_meta(conn: Connection, resource_id: UUID) -> Resource | None:
    """An artifact's row without bytes, or None when there is no such artifact."""
    raw = _duckdb(conn)
    if raw is not None:
        row = raw.execute(_DUCKDB_FETCH_META, [resource_id]).fetchone()
        return None if row is None else resource_record(tuple(row))
    found = conn.execute(sa.select(*META_COLUMNS).where(m.resource.c.id == resource_id)).all()
    return resource_record(found[0]) if found else None


def fetch_blob(conn: Connection, resource_id: UUID) -> bytes | None:
    """The inline bytes of an artifact, None when it has none."""
    rows = conn.execute(
        sa.select(m.resource_blob.c.data).where(m.resource_blob.c.resource_id == resource_id)
    ).all()
    return rows[0][0] if rows else None


def delete_blob(conn: Connection, resource_id: UUID) -> None:
    """Remove an artifact's inline bytes (nothing when it has none)."""
    conn.execute(sa.delete(m.resource_blob).where(m.resource_blob.c.resource_id == resource_id))


def store_blob(conn: Connection, resource_id: UUID, data: bytes) -> None:
    """Set an artifact's inline bytes (replacing any it had), inside the caller's transaction."""
    delete_blob(conn, resource_id)
    conn.execute(sa.insert(m.resource_blob).values(resource_id=resource_id, data=data))


#: DuckDB checkpoints when its write-ahead log passes this size (DuckDB's default: 16 MiB).
#: A checkpoint rewrites, in full, every row group that received rows since the previous one,
#: and ``resource_blob`` keeps all inline bytes in one row group (122,880 rows): with 1 MiB
#: artifacts the default checkpointed every 16 artifacts and rewrote every inline byte each
#: time, so 200 puts cost O(n^2) (5-9 s). A larger log lets a run of writes checkpoint once,
#: when the file is let go (the engine keeps it open 0.25 s after a unit of work), which
#: DuckDB does anyway. Replaying a longer log after a crash is the price.
CHECKPOINT_THRESHOLD = "256MiB"


#: DuckDB settings of diary's engines (``storage_core``'s ``create_duckdb_engine(settings=)``).
DUCKDB_SETTINGS = {"checkpoint_threshold": CHECKPOINT_THRESHOLD}


_DUCKDB_SWITCH = (
    "UPDATE resource SET backend = ?, uri = ?, size_bytes = ?, content_hash = ?, "
    "updated_at = ? WHERE id = ? AND backend = ? AND uri = ? AND content_hash = ? "
    "AND size_bytes = ?"
)


def switch_resource(conn: Connection, old: Resource, new: StoredBytes, now: datetime) -> bool:
    """Point an artifact row at new bytes, only while it still points at ``old``'s bytes.

    Inline bytes follow in the same transaction (begun by the caller): the new ones are
    stored, or the old ones removed when the new bytes are external.

    Returns:
        False when the row changed or vanished meanwhile (nothing was written).
    """
    raw = _duckdb(conn)
    if raw is not None:
        values = [
            new.backend, new.uri, new.size, new.sha256, _naive_utc(now),
            old.id, old.backend, old.uri, old.content_hash, old.size_bytes,
        ]  # fmt: skip
        changed = raw.execute(_DUCKDB_SWITCH, values).fetchone()
        if not changed or changed[0] != 1:
            return False
        raw.execute("DELETE FROM resource_blob WHERE resource_id = ?", [old.id])
        if new.data is not None:
            raw.execute("INSERT INTO resource_blob VALUES (?, ?)", [old.id, new.data])
        return True
    table = m.resource
    changed_rows = conn.execute(
        sa.update(table)
        .where(
            table.c.id == old.id,
            table.c.backend == old.backend,
            table.c.uri == old.uri,
            table.c.content_hash == old.content_hash,
            table.c.size_bytes == old.size_bytes,
        )
        .values(
            backend=new.backend,
            uri=new.uri,
            size_bytes=new.size,
            content_hash=new.sha256,
            updated_at=now,
        )
    ).rowcount
    if changed_rows != 1:
        return False
    if new.data is not None:
        store_blob(conn, old.id, new.data)
    else:
        delete_blob(conn, old.id)
    return True


def guard(record: Resource) -> list[sa.ColumnElement[bool]]:
    """WHERE clauses that match the row only while it still points at the same bytes."""
    table = m.resource
    return [
        table.c.id == record.id,
        table.c.backend == record.backend,
        table.c.uri == record.uri,
        table.c.content_hash == record.content_hash,
        table.c.size_bytes == record.size_bytes,
    ]
