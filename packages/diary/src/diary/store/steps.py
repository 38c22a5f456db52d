"""Settling the steps a process chose for its points, at the moment they are written.

``log_metric`` without a step takes the key's next step from memory, so two processes logging
one key of one iteration would both pick, say, step 10. The write settles that: inside the
transaction that stores the points, the highest step already stored for each such key is read
from ``metric_summary``, and when another process got there first, this batch's chosen steps
move up past it, in order (points given an explicit step never move). Nothing is lost and no
two points share a chosen step.

The read and the insert must not interleave with another writer's. DuckDB lets one process
write the file at a time and diary's SQLite transactions begin ``IMMEDIATE``, so there the
transaction itself serialises them; on PostgreSQL the transaction first takes an advisory
lock per (iteration, key), in a fixed order so two batches cannot deadlock.
"""

from __future__ import annotations

import dataclasses
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.store.buffer import Batch
from diary.store.point_writers import raw_connection

__all__ = ["settle_chosen_steps"]

Group = tuple[UUID, str]
# The first key of PostgreSQL's two-key advisory locks that guard a (iteration, key) series;
# the two-key space does not overlap the one-key locks of first use.
_LOCK_SPACE = 0x64696172  # "diar"
_LOCK_SQL = sa.text(
    "SELECT pg_advisory_xact_lock(:space, h) FROM (SELECT DISTINCT hashtext(g) AS h "
    "FROM unnest(CAST(:groups AS text[])) AS g ORDER BY h OFFSET 0) AS ordered"
)
_CHUNK = 500


def settle_chosen_steps(conn: Connection, batch: Batch) -> Batch:
    """The batch to write: ``batch`` itself, or a copy whose chosen steps moved past points
    another process stored meanwhile. Call it in the transaction that writes the points.

    A key's chosen steps become what this process would have chosen had it seen the stored
    points: each is at least one above the highest stored step, one above the key's previous
    point in the batch, and its own first choice. Sets ``batch.stored_steps`` (the step of
    each point as written) when any moved, so an unbuffered call can return them.
    """
    groups = {
        (iteration, key) for iteration, key, _, _, _, implicit in batch.point_rows() if implicit
    }
    batch.stored_steps = None
    if not groups:
        return batch
    if conn.dialect.name == "postgresql":
        names = sorted(f"{iteration}/{key}" for iteration, key in groups)
        conn.execute(_LOCK_SQL, {"space": _LOCK_SPACE, "groups": names})
    following = {group: step + 1 for group, step in _highest_stored_steps(conn, groups).items()}
    if not following:
        return batch
    steps = []
    for iteration, key, step, _, _, implicit in batch.point_rows():
        lowest = following.get((iteration, key))
        if lowest is not None:
            if implicit:
                step = max(step, lowest)
            following[(iteration, key)] = max(lowest, step + 1)
        steps.append(step)
    if steps == batch.steps:
        return batch
    batch.stored_steps = steps
    return dataclasses.replace(batch, steps=steps)


def _highest_stored_steps(conn: Connection, groups: set[Group]) -> dict[Group, int]:
    """The highest stored step of each (iteration, key) that has points."""
    iterations = sorted({iteration for iteration, _ in groups}, key=str)
    keys = sorted({key for _, key in groups})
    found: dict[Group, int] = {}
    for start in range(0, len(iterations), _CHUNK):
        chunk = iterations[start : start + _CHUNK]
        if conn.dialect.name == "duckdb":
            rows = (
                raw_connection(conn)
                .execute(
                    "SELECT iteration_id, key, step FROM metric_summary WHERE iteration_id "
                    f"IN ({', '.join('?' for _ in chunk)}) AND key IN "
                    f"({', '.join('?' for _ in keys)})",
                    [*chunk, *keys],
                )
                .fetchall()
            )
        else:
            summary = m.metric_summary
            rows = conn.execute(
                sa.select(summary.c.iteration_id, summary.c.key, summary.c.step).where(
                    summary.c.iteration_id.in_(chunk), summary.c.key.in_(keys)
                )
            ).all()
        for iteration, key, step in rows:
            if (iteration, key) in groups:
                found[(iteration, key)] = int(step)
    return found
