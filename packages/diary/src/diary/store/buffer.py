"""The in-memory buffer behind buffered logging, and its flush triggers.

``log_metric`` and ``log_param`` append to a :class:`Batch` and return. The batch is written
in one transaction when it reaches ``flush_size`` points, every ``flush_interval`` seconds (a
daemon thread), on ``flush()``, when an iteration ends, when the store closes and at
interpreter exit. Holding the DuckDB file only for these short flushes is what lets another
process read or log the same file meanwhile.

A background flush that fails keeps its points and remembers the error; the next ``log_*`` or
``flush()`` call retries in the caller's thread and raises if it fails again, so no failure
is swallowed and no point is lost while the process lives.
"""

from __future__ import annotations

import atexit
import logging
import threading
import weakref
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from diary.errors import StorageError

__all__ = ["Batch", "LogBuffer"]

logger = logging.getLogger(__name__)


@dataclass
class Batch:
    """Buffered points and parameters, kept column-wise so a flush can hand them over fast.

    ``timestamps`` are POSIX seconds (UTC); the writers convert them in bulk.
    """

    iteration_ids: list[UUID] = field(default_factory=list)
    keys: list[str] = field(default_factory=list)
    steps: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    timestamps: list[float] = field(default_factory=list)
    # Per point: its step was chosen by this process (the key's next step), not given by the
    # caller. The write may move such steps past points another process stored meanwhile.
    implicit: list[bool] = field(default_factory=list)
    # (iteration, key) -> (value, POSIX seconds); a key appears once per iteration.
    params: dict[tuple[UUID, str], tuple[str, float]] = field(default_factory=dict)
    # Set by the last write of this batch when chosen steps moved: each point's stored step.
    stored_steps: list[int] | None = None

    def __len__(self) -> int:
        return len(self.values) + len(self.params)

    def add_point(
        self,
        iteration: UUID,
        key: str,
        step: int,
        value: float,
        timestamp: float,
        implicit: bool = False,
    ) -> None:
        """Append one point."""
        self.iteration_ids.append(iteration)
        self.keys.append(key)
        self.steps.append(step)
        self.values.append(value)
        self.timestamps.append(timestamp)
        self.implicit.append(implicit)

    def points(self) -> Iterator[tuple[UUID, str, int, float, float]]:
        """The buffered points as ``(iteration_id, key, step, value, timestamp)`` rows."""
        return zip(
            self.iteration_ids, self.keys, self.steps, self.values, self.timestamps, strict=True
        )

    def point_rows(self) -> Iterator[tuple[UUID, str, int, float, float, bool]]:
        """The points with their ``implicit`` flag, the arguments of :meth:`add_point`."""
        return zip(
            self.iteration_ids,
            self.keys,
            self.steps,
            self.values,
            self.timestamps,
            self.implicit,
            strict=True,
        )

    def extend(self, other: Batch) -> None:
        """Append another batch's contents (used to put back a batch whose flush failed)."""
        self.iteration_ids.extend(other.iteration_ids)
        self.keys.extend(other.keys)
        self.steps.extend(other.steps)
        self.values.extend(other.values)
        self.timestamps.extend(other.timestamps)
        self.implicit.extend(other.implicit)
        for item, value in other.params.items():
            self.params.setdefault(item, value)


# Writes one batch in one transaction. Raises when nothing was written; returns an error to
# report when the batch was written but some items were refused (a parameter conflict, points
# of a deleted iteration): those are dropped, not retried.
# ``also``, when given, runs in the same transaction as the batch (ending an iteration with
# its last points: one commit instead of two).
Writer = Callable[[Batch, "Callable[[Any], Any] | None"], "StorageError | None"]

_live_buffers: weakref.WeakSet[LogBuffer] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    for buffer in list(_live_buffers):
        try:
            buffer.close()
        except Exception:
            logger.exception("diary: could not flush buffered logging at exit")


class LogBuffer:
    """A thread-safe batch with size, interval, explicit and exit flushes.

    Args:
        write: writes one batch in one transaction (see ``Writer``).
        flush_size: buffered items that trigger a flush.
        flush_interval: seconds between background flushes.
    """

    def __init__(self, write: Writer, *, flush_size: int, flush_interval: float) -> None:
        self._write = write
        self._flush_size = flush_size
        self._flush_interval = flush_interval
        self._batch = Batch()
        self._lock = threading.Lock()  # guards _batch, _failed and _refused
        self._flush_lock = threading.Lock()  # one flush at a time, in order
        # A background write that failed (its items are back in the batch, to be retried) and
        # items a background write refused (reported once, never retried).
        self._failed: BaseException | None = None
        self._refused: StorageError | None = None
        self._wake = threading.Event()
        self._closed = False
        self._thread: threading.Thread | None = None
        _live_buffers.add(self)

    def __len__(self) -> int:
        with self._lock:
            return len(self._batch)

    def add(self, fill: Callable[[Batch], None]) -> None:
        """Add to the batch under the lock (``fill`` appends to it), then maybe flush.

        Raises:
            StorageError: a previous background flush failed and retrying it failed too, or
                it refused items (the new item is buffered all the same).
        """
        if self._failed is not None:
            self.flush()
        with self._lock:
            fill(self._batch)
            size = len(self._batch)
            refused, self._refused = self._refused, None
        self._ensure_thread()
        if refused is not None:
            raise refused
        if size >= 2 * self._flush_size:
            # The background thread is behind: write here, so memory stays bounded.
            self.flush()
        elif size >= self._flush_size:
            self._wake.set()

    def flush(self, also: Callable[[Any], Any] | None = None) -> None:
        """Write everything buffered now, in the caller's thread.

        Args:
            also: more work for the same transaction (it runs even when nothing is buffered).

        Raises:
            StorageError: the write failed (the items stay buffered for the next attempt), or
                it, or an earlier background flush, refused items (those are dropped).
        """
        with self._flush_lock:
            with self._lock:
                batch, self._batch = self._batch, Batch()
                self._failed = None
                earlier, self._refused = self._refused, None
            refused = None
            if len(batch) or also is not None:
                try:
                    refused = self._write(batch, also)
                except BaseException as err:
                    # What was written in parts before the failure is not written twice.
                    unwritten = getattr(err, "unwritten", batch)
                    with self._lock:
                        unwritten.extend(self._batch)
                        self._batch = unwritten
                    raise
            if earlier is not None:
                raise earlier
            if refused is not None:
                raise refused

    def close(self) -> None:
        """Stop the background thread and flush what is left."""
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._thread = None
        self.flush()
        _live_buffers.discard(self)

    def _ensure_thread(self) -> None:
        if self._thread is not None or self._closed:
            return
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="diary-log-flush", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(self._flush_interval)
            self._wake.clear()
            if self._closed:
                return
            self._flush_in_background()

    def _flush_in_background(self) -> None:
        with self._flush_lock:
            with self._lock:
                batch, self._batch = self._batch, Batch()
            if not len(batch):
                return
            try:
                refused = self._write(batch, None)
            except BaseException as err:
                logger.warning("diary: background flush failed, will retry: %s", err)
                unwritten = getattr(err, "unwritten", batch)
                with self._lock:
                    unwritten.extend(self._batch)
                    self._batch = unwritten
                    self._failed = err
                return
            if refused is not None:
                with self._lock:
                    self._refused = self._refused or refused
