"""What a migration step is: the abstract base class and what ``apply`` hands back."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar, cast

__all__ = ["ItemAlreadyDone", "ItemOutcome", "MigrationStep"]

T = TypeVar("T")
P = TypeVar("P")


class ItemAlreadyDone(Exception):
    """Raised by ``apply`` when, inside its transaction, it finds the item already migrated.

    Apply must roll back before raising. The engine counts the item as skipped (not failed)
    and calls ``cleanup`` to remove what this run's ``prepare`` wrote.
    """


@dataclass(frozen=True)
class ItemOutcome:
    """What ``apply`` did for one item, summed into the report.

    Attributes:
        bytes: bytes moved; when 0 the engine falls back to ``step.size(item)``.
        records: records written.
        note: free text for the debug log.
    """

    bytes: int = 0
    records: int = 0
    note: str = ""


class MigrationStep(ABC, Generic[T, P]):
    """One kind of migration: which items to move and how to move one.

    ``T`` is the item type (a row, a path), ``P`` what ``prepare`` hands to ``apply``,
    ``finish`` and ``cleanup`` (use ``None`` when there is no prepare). The package
    docstring states which method runs on which thread and what each must guarantee.

    Example, a buildlog-like import (a file is done once renamed; apply is idempotent)::

        class ImportLegacy(MigrationStep[Path, list[Entry]]):
            name = "legacy-import"

            def candidates(self) -> Iterator[Path]:
                yield from sorted(self.root.glob("*.jsonl"))

            def is_done(self, item: Path) -> bool:
                return not item.exists()

            def describe(self, item: Path) -> str:
                return str(item)

            def prepare(self, item: Path) -> list[Entry]:
                return parse(item)  # worker thread, no database

            def apply(self, item: Path, prepared: list[Entry]) -> ItemOutcome:
                with self.db.begin():  # one transaction, insert-if-absent
                    added = insert_new(self.db, prepared)
                return ItemOutcome(records=added)

            def finish(self, item: Path, prepared: list[Entry]) -> None:
                item.rename(item.with_name(item.name + ".migrated"))

    Attributes:
        name: shown in reports and logs.
    """

    name: str

    @abstractmethod
    def candidates(self) -> Iterable[T]:
        """Return the items that may need migrating, done ones included.

        Consumed lazily on the calling thread, interleaved with ``apply``; a generator
        keeps memory flat however many items there are.
        """

    @abstractmethod
    def is_done(self, item: T) -> bool:
        """Tell whether the item needs nothing (already migrated). Calling thread.

        Args:
            item: a candidate.

        Returns:
            True exactly when a committed apply (or nothing at all) covers the item.
        """

    @abstractmethod
    def describe(self, item: T) -> str:
        """Name the item in one line, for reports, progress and dry runs. Calling thread."""

    def prepare(self, item: T) -> P:
        """Do the item's slow I/O ahead of apply (read, copy, verify). Worker thread.

        Must not write the database. Whatever it writes elsewhere is an orphan until apply
        commits, so it must be findable by ``cleanup`` and by the step's garbage collection.
        The default does nothing and returns None.

        Args:
            item: a candidate found not done.

        Returns:
            The value handed to ``apply``, ``finish`` and ``cleanup``.
        """
        return cast(P, None)

    @abstractmethod
    def apply(self, item: T, prepared: P) -> ItemOutcome | None:
        """Commit the item atomically, in one transaction. Calling thread, one at a time.

        Args:
            item: the candidate.
            prepared: what ``prepare`` returned.

        Returns:
            What was moved, for the report; None counts as nothing measured.

        Raises:
            ItemAlreadyDone: another run committed the item first (after rolling back).
            Exception: any other error fails the item; raise only when nothing committed.
        """

    def finish(self, item: T, prepared: P) -> None:
        """Tidy up after apply committed, e.g. delete the source bytes. Worker thread.

        Runs at most once: a crash before it leaves its work undone for good unless
        ``is_done`` stays false until its effect is visible. An error becomes a warning.
        """

    def cleanup(self, item: T, prepared: P | None) -> None:
        """Remove what this run's prepare wrote, after a failure or skip. Worker thread.

        Must never remove anything a committed apply points to (write to fresh names, or
        check). An error becomes a warning.

        Args:
            item: the candidate.
            prepared: what ``prepare`` returned, or None when prepare itself raised (then
                remove partial output by name, or let prepare remove it before raising).
        """

    def count(self) -> int | None:
        """Return the number of candidates for progress totals, or None if unknown."""
        return None

    def size(self, item: T) -> int | None:
        """Return the item's size in bytes for progress and reports, or None if unknown."""
        return None
