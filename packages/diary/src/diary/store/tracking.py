"""Logging metrics and parameters: buffered by default, durable per call with ``buffered=False``.

Validation happens at the call (:mod:`diary.values`), so a bad value raises where it was logged
rather than in a later flush: keys must be non-empty UTF-8 text, values numbers a float64 can
hold (NaN only on DuckDB; SQLite stores NaN as NULL), steps 64-bit integers, and a parameter key
takes one value per iteration. Should a flush still meet a record the database refuses, it
stores the others and reports the dropped one (:mod:`diary.store.salvage`).

A metric's step defaults to the next step for that key: one more than the highest step logged
for it so far (0 for the first point). The store tracks that per key in memory; the first log
of a key to an iteration this store did not create asks the database once. Two processes
logging the same key of the same iteration without explicit steps may therefore pick the same
step; give steps explicitly in that case (worker fan-outs normally log to child iterations).
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.errors import InvalidValue, ParameterConflict, StorageError
from diary.store.base import IdLike, StoreBase, as_uuid, require_text
from diary.store.buffer import Batch, LogBuffer
from diary.store.salvage import is_value_error, write_salvaging
from diary.store.summaries import delete_summaries
from diary.store.writers import (
    CheckEveryKey,
    MetricWriter,
    is_single_statement,
    write_batch,
    write_small,
)
from diary.values import check_number, check_step, check_text, next_step

__all__ = ["TrackingMixin"]


def _float(key: str, value: Any, allow_nan: bool) -> float:
    number = check_number(f"value of metric {key!r}", value)
    if math.isnan(number) and not allow_nan:
        raise InvalidValue(
            f"value of metric {key!r}", value, "NaN can only be stored in a DuckDB database"
        )
    return number


def _seconds(timestamp: datetime | None) -> float:
    if timestamp is None:
        return time.time()
    if timestamp.tzinfo is None:
        raise InvalidValue("timestamp", timestamp.isoformat(), "must be timezone-aware")
    return timestamp.timestamp()


class TrackingMixin(StoreBase):
    """Metric and parameter logging of the store."""

    buffered: bool
    metric_writer: MetricWriter
    _buffer: LogBuffer
    _state_lock: threading.Lock
    # Next default step per (iteration, key); iterations known to exist; iterations created
    # by this store (nothing logged to them before); parameter values logged by this store.
    _next_steps: dict[tuple[UUID, str], int]
    _known_iterations: set[UUID]
    _fresh_iterations: set[UUID]
    _logged_params: dict[tuple[UUID, str], str]

    def _init_tracking(self, *, buffered: bool, metric_writer: MetricWriter) -> None:
        self.buffered = buffered
        self.metric_writer = metric_writer
        self._state_lock = threading.Lock()
        self._next_steps = {}
        self._known_iterations = set()
        self._fresh_iterations = set()
        self._stored_environments: set[str] = set()
        self._logged_params = {}
        self._buffer = LogBuffer(
            self._write_batch,
            flush_size=self.settings.flush_size,
            flush_interval=self.settings.flush_interval,
        )

    def _write_batch(
        self, batch: Batch, also: Callable[[Connection], Iterable[UUID]] | None = None
    ) -> StorageError | None:
        """Write a batch; ``also`` runs first in the same transaction (ending an iteration) and
        names the iterations it proved exist, which the batch then need not look up.

        The in-memory next steps stay as they are when a write moved a batch's chosen steps
        (diary.store.steps): points buffered meanwhile continue the old numbering, and each
        write moves them on in order.
        """
        if also is None:
            return write_salvaging(self._write_whole_batch, batch)
        with self._state_lock:
            # Only the batch's own iterations: the set grows with every iteration created.
            fresh = frozenset(o for o, _ in batch.params if o in self._fresh_iterations)
        try:
            try:
                return self._write_with(batch, also, fresh)
            except StorageError as err:
                if not isinstance(err.__cause__, sa.exc.IntegrityError):
                    raise
                # A parameter of an iteration this process created was stored already (logged
                # twice, or by another process): write again, checking every key.
                return self._write_with(batch, also, frozenset())
        except Exception as err:
            if not is_value_error(err):
                raise
        # A record the database refuses: store the others, then the extra work on its own.
        refused = write_salvaging(self._write_whole_batch, batch)
        with self.transaction() as conn:
            also(conn)
        return refused

    def _write_with(
        self,
        batch: Batch,
        also: Callable[[Connection], Iterable[UUID]],
        fresh: frozenset[UUID],
    ) -> StorageError | None:
        with self.transaction() as conn:
            proven = set(also(conn))
            if not len(batch):
                return None
            return write_batch(
                conn,
                batch,
                self.metric_writer,
                existing=proven,
                unchecked_params=fresh & proven,
            )

    def _write_whole_batch(self, batch: Batch, _also: object = None) -> StorageError | None:
        if is_single_statement(batch, self.metric_writer):
            # A durable call or a tiny flush: one autocommitted statement, no transaction.
            try:
                with self.reading() as conn:
                    return write_small(conn, batch)
            except CheckEveryKey:
                pass  # what it stored is stored; the transaction below checks the rest
        with self.transaction() as conn:
            return write_batch(conn, batch, self.metric_writer)

    def _submit(self, fill: Any) -> Batch | None:
        """Buffer what ``fill`` adds, or (unbuffered) write it now and return the batch."""
        if self.buffered:
            self._buffer.add(fill)
            return None
        batch = Batch()
        fill(batch)
        refused = self._write_batch(batch)
        if refused is not None:
            raise refused
        return batch

    def _check_iteration(self, iteration: UUID, keys: list[str]) -> None:
        """Make sure the iteration exists and the next steps of ``keys`` are known."""
        unknown = [key for key in keys if (iteration, key) not in self._next_steps]
        if iteration in self._known_iterations and not unknown:
            return
        if iteration in self._fresh_iterations:
            for key in unknown:
                self._next_steps[(iteration, key)] = 0
            return
        with self.reading() as conn:
            self.require_row(conn, m.iteration, "iteration", iteration)
            highest: dict[str, int] = {}
            if unknown:
                # The summary row holds each key's highest step: no scan of the points.
                summary = m.metric_summary
                rows = conn.execute(
                    sa.select(summary.c.key, summary.c.step).where(
                        summary.c.iteration_id == iteration, summary.c.key.in_(unknown)
                    )
                )
                highest = {row[0]: int(row[1]) for row in rows}
        self._known_iterations.add(iteration)
        for key in unknown:
            self._next_steps.setdefault((iteration, key), highest.get(key, -1) + 1)

    def log_metrics(
        self,
        iteration_id: IdLike,
        metrics: Mapping[str, Any],
        step: int | None = None,
        *,
        timestamp: datetime | None = None,
    ) -> dict[str, int]:
        """Log several metrics at once (typically one training step).

        Args:
            iteration_id: the iteration.
            metrics: key -> number.
            step: the step of every point; default: the next step of each key.
            timestamp: when the values were measured (timezone-aware; default: now).

        Returns:
            The step each key was logged at.

        Raises:
            NotFound: no such iteration.
            InvalidValue: an empty key, a value that is not a number, a fractional step.
        """
        iteration = as_uuid("iteration", iteration_id)
        allow_nan = self.is_duckdb
        values = {
            require_text("metric key", k): _float(k, v, allow_nan) for k, v in metrics.items()
        }
        explicit = None if step is None else check_step(step)
        stamp = _seconds(timestamp)
        with self._state_lock:
            self._check_iteration(iteration, list(values))
            steps = {
                key: next_step(self._next_steps[(iteration, key)], key)
                if explicit is None
                else explicit
                for key in values
            }
            for key, chosen in steps.items():
                current = self._next_steps[(iteration, key)]
                self._next_steps[(iteration, key)] = max(current, chosen + 1)

        implicit = explicit is None

        def fill(batch: Batch) -> None:
            for key, value in values.items():
                batch.add_point(iteration, key, steps[key], value, stamp, implicit)

        written = self._submit(fill)
        if written is not None and written.stored_steps is not None:
            # Unbuffered, and another process logged these keys meanwhile.
            steps = dict(zip(values, written.stored_steps, strict=True))
        return steps

    def log_metric(
        self,
        iteration_id: IdLike,
        key: str,
        value: float,
        step: int | None = None,
        *,
        timestamp: datetime | None = None,
    ) -> int:
        """Log one metric point; repeated logs of a key form its series.

        Returns:
            The step the point was logged at.

        Raises:
            NotFound: no such iteration.
            InvalidValue: an empty key, a value that is not a number, a fractional step.
        """
        return self.log_metrics(iteration_id, {key: value}, step, timestamp=timestamp)[key]

    def log_points(
        self,
        iteration_id: IdLike,
        points: Iterable[tuple[str, Any, int | None]],
        *,
        timestamp: datetime | None = None,
    ) -> list[int]:
        """Log many points of an iteration at once, all or nothing (a metrics file import).

        Every point is checked before any is logged; an unbuffered store (the CLI's) writes
        them all in one transaction.

        Args:
            iteration_id: the iteration.
            points: ``(key, value, step)`` triples; a step of None is the next step of the key.
            timestamp: when the values were measured (timezone-aware; default: now).

        Returns:
            The step of each point, in order.

        Raises:
            NotFound: no such iteration.
            InvalidValue: an empty key, a value that is not a number, a fractional step
                (nothing is logged then).
        """
        iteration = as_uuid("iteration", iteration_id)
        allow_nan = self.is_duckdb
        checked = [
            (
                require_text("metric key", key),
                _float(key, value, allow_nan),
                None if step is None else check_step(step),
            )
            for key, value, step in points
        ]
        stamp = _seconds(timestamp)
        with self._state_lock:
            self._check_iteration(iteration, sorted({key for key, _, _ in checked}))
            following: dict[str, int] = {}
            steps: list[int] = []
            for key, _, explicit in checked:
                current = following.get(key, self._next_steps[(iteration, key)])
                chosen = next_step(current, key) if explicit is None else explicit
                steps.append(chosen)
                following[key] = max(current, chosen + 1)
            for key, step in following.items():
                self._next_steps[(iteration, key)] = step

        def fill(batch: Batch) -> None:
            for (key, value, explicit), step in zip(checked, steps, strict=True):
                batch.add_point(iteration, key, step, value, stamp, explicit is None)

        written = self._submit(fill)
        if written is not None and written.stored_steps is not None:
            steps = written.stored_steps
        return steps

    def log_params(self, iteration_id: IdLike, params: Mapping[str, Any]) -> None:
        """Log parameters; each key is set once per iteration (the same value again is fine).

        Values are stored as text (``str(value)``).

        Raises:
            NotFound: no such iteration.
            ParameterConflict: this store already logged a different value for a key. A
                conflict with a value stored by another process is found at the flush and
                raised by the flush (or the next log call, for a background flush).
        """
        iteration = as_uuid("iteration", iteration_id)
        values = {
            require_text("parameter key", k): check_text(f"value of parameter {k!r}", str(v))
            for k, v in params.items()
        }
        stamp = time.time()
        with self._state_lock:
            self._check_iteration(iteration, [])
            for key, value in values.items():
                previous = self._logged_params.get((iteration, key))
                if previous is not None and previous != value:
                    raise ParameterConflict(str(iteration), key, previous, value)
            for key, value in values.items():
                self._logged_params[(iteration, key)] = value

        def fill(batch: Batch) -> None:
            for key, value in values.items():
                batch.params.setdefault((iteration, key), (value, stamp))

        self._submit(fill)

    def log_param(self, iteration_id: IdLike, key: str, value: Any) -> None:
        """Log one parameter (see :meth:`log_params`)."""
        self.log_params(iteration_id, {key: value})

    def flush(self) -> None:
        """Write everything buffered now.

        Raises:
            StorageError: the write failed (the points stay buffered), or items were refused.
        """
        self._buffer.flush()

    def delete_metric(self, iteration_id: IdLike, key: str) -> int:
        """Delete the whole series of a metric of an iteration (after writing the buffer).

        Returns:
            The number of points deleted.

        Raises:
            NotFound: no such iteration.
        """
        iteration = as_uuid("iteration", iteration_id)
        deleted = self._delete_key(m.metric, iteration, key)
        with self._state_lock:
            self._next_steps.pop((iteration, key), None)
        return deleted

    def delete_parameter(self, iteration_id: IdLike, key: str) -> bool:
        """Delete a parameter of an iteration, so the key can be set again.

        Returns:
            Whether the parameter existed.

        Raises:
            NotFound: no such iteration.
        """
        iteration = as_uuid("iteration", iteration_id)
        deleted = self._delete_key(m.parameter, iteration, key)
        with self._state_lock:
            self._logged_params.pop((iteration, key), None)
        return bool(deleted)

    def _delete_key(self, table: sa.Table, iteration: UUID, key: str) -> int:
        # Buffered rows of the key would otherwise be written after the delete.
        self.flush()
        with self.transaction() as conn:
            self.require_row(conn, m.iteration, "iteration", iteration)
            statement = sa.delete(table).where(
                table.c.iteration_id == iteration, table.c.key == key
            )
            deleted = int(conn.execute(statement).rowcount)
            if table is m.metric:
                delete_summaries(conn, [iteration], key)
            return deleted

    # DearDiary.jl's vocabulary.
    def create_metric(
        self, iteration_id: IdLike, key: str, value: float, step: int | None = None
    ) -> int:
        """DearDiary.jl's name for :meth:`log_metric`."""
        return self.log_metric(iteration_id, key, value, step)

    def create_parameter(self, iteration_id: IdLike, key: str, value: Any) -> None:
        """DearDiary.jl's name for :meth:`log_param`."""
        self.log_param(iteration_id, key, value)

    def _forget_iterations(self, ids: list[UUID]) -> None:
        """Drop cached state of deleted iterations."""
        gone = set(ids)
        with self._state_lock:
            self._known_iterations -= gone
            self._fresh_iterations -= gone
            for cache in (self._next_steps, self._logged_params):
                for item in [item for item in cache if item[0] in gone]:
                    del cache[item]
