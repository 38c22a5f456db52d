"""The idempotent migration framework: move many items from A to B, safely, again and again.

A :class:`MigrationStep` says *what* to move (``candidates``, ``is_done``, ``apply``, ...);
:func:`run` says *how*: streaming, with a bounded thread pool for I/O, one failure per item
recorded while the rest continue, progress events for a CLI bar, and a
:class:`MigrationReport` at the end. diary moves artifact bytes between stores with it;
buildlog imports legacy files with it.

Life of one item (``run(step, workers=n)``):

1. ``candidates()`` yields it, lazily, on the calling thread.
2. ``is_done(item)`` on the calling thread; true means *skipped*.
3. ``prepare(item)``: I/O in a worker thread (inline when ``workers=1``). Never writes the
   database.
4. ``is_done(item)`` again, on the calling thread, right before apply (only when a
   ``prepare`` ran in between): another run may have migrated the item meanwhile.
5. ``apply(item, prepared)`` on the calling thread, one item at a time, so every database
   write goes through the one connection the step owns.
6. ``finish(item, prepared)`` in a worker thread, after apply committed (e.g. delete the
   source bytes). A failure is a *warning*; the item still counts as done.

An ``Exception`` in step 2, 3, 4 or 5 makes the item *failed* (its error recorded, the
run going on); from step 3 on, ``cleanup(item, prepared)`` then runs in a worker thread
(``prepared`` is None when prepare itself failed) to remove what prepare wrote. An item
found done at step 4, or whose apply raises :class:`ItemAlreadyDone`, is *skipped* and
cleaned up the same way. A cleanup failure is a warning. Progress events and the report
count each item once, when nothing more will happen to it (after finish or cleanup).

Guarantees, given a step that keeps its side of the contract:

* **Atomic per item.** The engine treats ``apply`` as the single commit point. The step
  must make it all-or-nothing (one database transaction) and must raise only when nothing
  was committed: after a raising apply the engine calls ``cleanup``, which must therefore
  never remove anything a committed apply points to.
* **Idempotent.** ``is_done`` must be true exactly for items whose apply committed (or
  that need nothing). A rerun skips them, so each item is applied once. Because a parallel
  run can commit between the re-check (step 4) and our apply, the re-check only narrows
  that window: for runs that may overlap, apply must check-and-write inside its
  transaction (``UPDATE ... WHERE uri = <old>``, insert-if-absent) and raise
  :class:`ItemAlreadyDone`, after rolling back, when another run got there first. The
  engine then counts the item as skipped and calls ``cleanup``.
* **Safe to kill.** A process killed at any instant leaves each item either not applied
  (at worst an orphan written by prepare, which cleanup would have removed; the step's own
  garbage collection must be able to find it) or applied (at worst what ``finish`` would
  have removed is left behind, since a rerun skips the item and never calls finish again).
  Steps whose finish must happen eventually keep ``is_done`` false until finish's effect
  is visible and make ``apply`` idempotent (buildlog: a file is a candidate until renamed
  to ``*.migrated``; re-inserting its records is a no-op). A rerun finishes the job.
* **Interrupts.** ``KeyboardInterrupt``/``SystemExit`` (any non-``Exception``) are never
  swallowed: pending prepares are cancelled, running workers finish, prepared items that
  were not applied are cleaned up, and the exception propagates. The item whose apply was
  interrupted is *not* cleaned up, as the engine cannot know whether it committed.
* **Stopping.** ``stop.set()`` (e.g. from a signal handler) or the first failure under
  ``fail_fast`` stops pulling candidates; prepared items not yet applied are cleaned up and
  counted as ``abandoned``; ``run`` returns normally with ``report.stopped`` set.

Threads and order: ``candidates``, ``is_done``, ``describe``, ``size``, ``count`` and
``apply`` run on the calling thread; ``prepare``, ``finish`` and ``cleanup`` run in worker
threads when ``workers > 1`` and must then be thread-safe and stay off the database
connection. ``candidates`` is consumed interleaved with ``apply``: a generator over a
cursor on the connection apply writes to should page by key rather than hold the cursor
open. At most ``2 * workers`` items are in flight, so memory stays bounded however many
candidates there are. With ``workers=1`` items are applied in candidate order; with more,
in the order their prepare completes.
"""

from storage_core.migration.engine import run
from storage_core.migration.report import (
    ItemFailure,
    MigrationReport,
    ProgressEvent,
    ProgressStatus,
)
from storage_core.migration.step import ItemAlreadyDone, ItemOutcome, MigrationStep

__all__ = [
    "ItemAlreadyDone",
    "ItemFailure",
    "ItemOutcome",
    "MigrationReport",
    "MigrationStep",
    "ProgressEvent",
    "ProgressStatus",
    "run",
]
