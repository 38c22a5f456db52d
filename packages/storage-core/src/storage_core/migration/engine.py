"""The engine behind :func:`storage_core.migration.run` (guarantees: see the package docstring)."""

from __future__ import annotations

import logging
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar, cast

from storage_core.migration.report import (
    ItemFailure,
    MigrationReport,
    ProgressEvent,
    ProgressStatus,
)
from storage_core.migration.step import ItemAlreadyDone, ItemOutcome, MigrationStep

__all__ = ["run"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
P = TypeVar("P")

_Phase = Literal["prepare", "finish", "cleanup"]


def run(
    step: MigrationStep[T, P],
    *,
    dry_run: bool = False,
    workers: int = 1,
    progress: Callable[[ProgressEvent], None] | None = None,
    fail_fast: bool = False,
    stop: threading.Event | None = None,
    list_limit: int = 1000,
) -> MigrationReport:
    """Run a migration step over all its candidates.

    Args:
        step: the step to run.
        dry_run: only call ``candidates``, ``is_done``, ``describe``, ``size`` and
            ``count``; write nothing and report the plan.
        workers: threads for ``prepare``/``finish``/``cleanup``; 1 runs everything inline.
        progress: called on the calling thread once per item that reached its end state.
        fail_fast: stop at the first failed item instead of continuing.
        stop: when set, stop pulling candidates and return early (see module docstring).
        list_limit: keep at most this many planned-item descriptions in ``report.items``.

    Returns:
        The report; check ``report.ok``.

    Raises:
        ValueError: ``workers`` < 1 or ``list_limit`` < 0.
        BaseException: whatever ``candidates()`` or ``progress`` raise, and interrupts
            (``KeyboardInterrupt``, ``SystemExit``); work committed so far stays committed.
    """
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    if list_limit < 0:
        raise ValueError(f"list_limit must not be negative, got {list_limit}")
    runner = _Runner(step, dry_run, workers, progress, fail_fast, stop, list_limit)
    report = runner.plan() if dry_run else runner.migrate()
    logger.info("%s", report.summary())
    return report


@dataclass(eq=False)
class _Slot(Generic[T]):
    """Book-keeping for one item in flight."""

    item: T
    label: str
    phase: _Phase = "prepare"
    status: ProgressStatus | None = None  # None while undecided or when abandoned
    bytes: int = 0


class _Runner(Generic[T, P]):
    """Drives one run; holds the counters so the phases stay small methods."""

    def __init__(
        self,
        step: MigrationStep[T, P],
        dry_run: bool,
        workers: int,
        progress: Callable[[ProgressEvent], None] | None,
        fail_fast: bool,
        stop: threading.Event | None,
        list_limit: int,
    ) -> None:
        self.step = step
        self.name = getattr(step, "name", "") or type(step).__name__
        self.report = MigrationReport(step=self.name, dry_run=dry_run)
        self.workers = workers
        self.progress = progress
        self.fail_fast = fail_fast
        self.stop = stop
        self.list_limit = list_limit
        self.halted = False
        self.completed = 0
        self.total: int | None = None
        self.inflight: dict[Future[Any], _Slot[T]] = {}
        self.pool: ThreadPoolExecutor | None = None
        # Skipping the no-op defaults saves a pool round trip per item.
        self.has_prepare = _overrides(step, "prepare")
        self.has_finish = _overrides(step, "finish")
        self.has_cleanup = _overrides(step, "cleanup")

    def plan(self) -> MigrationReport:
        """Dry run: classify every candidate, write nothing."""
        started = time.monotonic()
        self.total = self.step.count()
        for item in self.step.candidates():
            if self._halting():
                self.report.stopped = True
                break
            slot = _Slot(item, self._describe(item))
            state = self._check(slot)
            if state is not None:
                slot.status = "skipped" if state else "planned"
            if slot.status == "planned":
                slot.bytes = self._size(slot)
                self.report.bytes += slot.bytes
            self._finalize(slot)
        self.report.elapsed = time.monotonic() - started
        return self.report

    def migrate(self) -> MigrationReport:
        """Real run: stream candidates through prepare, apply and finish."""
        started = time.monotonic()
        self.total = self.step.count()
        window = 2 * self.workers if self.workers > 1 else 1
        candidates = iter(self.step.candidates())
        if self.workers > 1:
            self.pool = ThreadPoolExecutor(self.workers, thread_name_prefix="migration")
        exhausted = False
        try:
            while True:
                while not exhausted and not self._halting() and len(self.inflight) < window:
                    try:
                        item = next(candidates)
                    except StopIteration:
                        exhausted = True
                        break
                    self._admit(item)
                if not self.inflight:
                    break
                finished, _ = wait(list(self.inflight), return_when=FIRST_COMPLETED)
                for future in finished:
                    self._complete(future)
        except BaseException:
            self._abort()
            raise
        finally:
            # Let a generator's finally blocks (closing a cursor, say) run when we stop early.
            close = getattr(candidates, "close", None)
            if callable(close):
                close()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        # Stopped means work was left undone, not merely that stop was set at the very end.
        self.report.stopped = self.report.abandoned > 0 or (not exhausted and self._halting())
        self.report.elapsed = time.monotonic() - started
        return self.report

    def _halting(self) -> bool:
        if self.stop is not None and self.stop.is_set():
            self.halted = True
        return self.halted

    def _admit(self, item: T) -> None:
        slot = _Slot(item, self._describe(item))
        state = self._check(slot)
        if state is False:
            if self.has_prepare:
                self._submit(slot, "prepare", self.step.prepare, item)
            else:
                self._apply(slot, cast(P, None))
            return
        if state:
            slot.status = "skipped"
        self._finalize(slot)

    def _check(self, slot: _Slot[T]) -> bool | None:
        """First is_done check: True when done, False when planned, None when it failed."""
        try:
            done = bool(self.step.is_done(slot.item))
        except Exception as exc:
            self._fail(slot, exc, "check")
            return None
        if not done:
            self.report.planned += 1
            if len(self.report.items) < self.list_limit:
                self.report.items.append(slot.label)
        return done

    def _complete(self, future: Future[Any]) -> None:
        slot = self.inflight.pop(future)
        if slot.phase == "prepare":
            try:
                prepared = future.result()
            except Exception as exc:
                self._fail(slot, exc, "prepare")
                self._cleanup(slot, None)
                return
            self._apply(slot, prepared, recheck=True)
            return
        try:
            future.result()
        except Exception as exc:
            self._warn(f"{slot.label}: {slot.phase} failed: {_one_line(exc)}")
        self._finalize(slot)

    def _apply(self, slot: _Slot[T], prepared: P, recheck: bool = False) -> None:
        item = slot.item
        if self._halting():
            self.report.abandoned += 1
            self._cleanup(slot, prepared)
            return
        try:
            if recheck and self.step.is_done(item):
                slot.status = "skipped"
                self._cleanup(slot, prepared)
                return
        except Exception as exc:
            self._fail(slot, exc, "check")
            self._cleanup(slot, prepared)
            return
        try:
            outcome = self.step.apply(item, prepared)
        except ItemAlreadyDone:
            logger.debug("%s: %s was migrated by someone else", self.name, slot.label)
            slot.status = "skipped"
            self._cleanup(slot, prepared)
            return
        except Exception as exc:
            self._fail(slot, exc, "apply")
            self._cleanup(slot, prepared)
            return
        outcome = outcome or ItemOutcome()
        slot.status = "done"
        slot.bytes = outcome.bytes or self._size(slot)
        self.report.records += outcome.records
        logger.debug("%s: applied %s %s", self.name, slot.label, outcome.note or "")
        if self.has_finish:
            self._submit(slot, "finish", self.step.finish, item, prepared)
        else:
            self._finalize(slot)

    def _cleanup(self, slot: _Slot[T], prepared: P | None) -> None:
        if self.has_cleanup:
            self._submit(slot, "cleanup", self.step.cleanup, slot.item, prepared)
        else:
            self._finalize(slot)

    def _submit(self, slot: _Slot[T], phase: _Phase, fn: Callable[..., Any], *args: Any) -> None:
        slot.phase = phase
        future: Future[Any]
        if self.pool is not None:
            future = self.pool.submit(fn, *args)
        else:
            # Inline: a completed future keeps one code path for both modes. Interrupts are
            # not caught here; they propagate straight away.
            future = Future()
            try:
                future.set_result(fn(*args))
            except Exception as exc:
                future.set_exception(exc)
        self.inflight[future] = slot

    def _finalize(self, slot: _Slot[T]) -> None:
        """Count the item in its end state and report progress (abandoned items: neither)."""
        if slot.status is None:
            return
        if slot.status == "done":
            self.report.done += 1
            self.report.bytes += slot.bytes
        elif slot.status == "skipped":
            self.report.skipped += 1
        self.completed += 1
        if self.progress is not None:
            self.progress(
                ProgressEvent(
                    self.name, slot.label, slot.status, self.completed, self.total, slot.bytes
                )
            )

    def _fail(self, slot: _Slot[T], exc: Exception, phase: str) -> None:
        # Locals of the failed frames may hold a whole prepared payload: drop them, keep lines.
        traceback.clear_frames(exc.__traceback__)
        error = _one_line(exc)
        self.report.failed.append(ItemFailure(slot.label, error, exc, phase))
        logger.warning("%s: %s failed in %s: %s", self.name, slot.label, phase, error)
        logger.debug("%s: traceback for %s", self.name, slot.label, exc_info=exc)
        slot.status = "failed"
        if self.fail_fast:
            self.halted = True

    def _warn(self, message: str) -> None:
        self.report.warnings.append(message)
        logger.warning("%s: %s", self.name, message)

    def _abort(self) -> None:
        """After an interrupt: stop the pool cleanly and remove prepared-but-unapplied output."""
        for future, slot in self.inflight.items():
            if slot.phase == "prepare":
                future.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=True)
        for future, slot in self.inflight.items():
            if slot.phase != "prepare" or future.cancelled() or not self.has_cleanup:
                continue
            prepared = None if future.exception() is not None else future.result()
            try:
                self.step.cleanup(slot.item, prepared)
            except Exception as exc:
                logger.warning("%s: %s: cleanup failed: %s", self.name, slot.label, _one_line(exc))
        self.inflight.clear()

    def _describe(self, item: T) -> str:
        try:
            return " ".join(str(self.step.describe(item)).split())
        except Exception as exc:
            fallback = repr(item)[:200]
            self._warn(f"{fallback}: describe failed: {_one_line(exc)}")
            return fallback

    def _size(self, slot: _Slot[T]) -> int:
        try:
            return self.step.size(slot.item) or 0
        except Exception as exc:
            self._warn(f"{slot.label}: size failed: {_one_line(exc)}")
            return 0


def _overrides(step: MigrationStep[Any, Any], method: str) -> bool:
    return getattr(type(step), method) is not getattr(MigrationStep, method)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
