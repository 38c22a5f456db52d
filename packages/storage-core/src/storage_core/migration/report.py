"""What a migration run tells its caller: progress events, per-item failures, the report."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ItemFailure", "MigrationReport", "ProgressEvent", "ProgressStatus"]

ProgressStatus = Literal["done", "skipped", "failed", "planned"]
"""``planned`` is only reported by dry runs: the item would be migrated."""


@dataclass(frozen=True)
class ItemFailure:
    """One item that could not be migrated.

    Attributes:
        item: the item's ``describe()`` line.
        error: the error as one line, ``"<ExceptionType>: <message>"``.
        exception: the exception itself (frames cleared of locals; not in ``to_dict``).
        phase: where it failed: ``"check"`` (is_done), ``"prepare"`` or ``"apply"``.
    """

    item: str
    error: str
    exception: BaseException = field(repr=False, compare=False)
    phase: str = "apply"

    def to_dict(self) -> dict[str, str]:
        """Return a JSON-safe dict (without the exception object)."""
        return {"item": self.item, "error": self.error, "phase": self.phase}


@dataclass(frozen=True)
class ProgressEvent:
    """One item reached its end state; delivered on the calling thread.

    Attributes:
        step: the step's name.
        item: the item's ``describe()`` line.
        status: ``done``, ``skipped``, ``failed`` or, in dry runs, ``planned``.
        completed: items that reached an end state so far, this one included.
        total: ``step.count()``, or None when unknown.
        bytes: bytes moved for this item (planned bytes in a dry run).
    """

    step: str
    item: str
    status: ProgressStatus
    completed: int
    total: int | None
    bytes: int


@dataclass
class MigrationReport:
    """The result of one :func:`run`.

    Every candidate ends as exactly one of done, skipped, failed or abandoned.

    Attributes:
        step: the step's name.
        dry_run: whether nothing was written.
        planned: candidates found not done at the first check (in a dry run: to migrate).
        done: items applied by this run.
        skipped: items already done (at the first check, the re-check, or inside apply).
        failed: one entry per failed item.
        warnings: finish/cleanup failures and other non-fatal problems, one line each.
        bytes: bytes moved (planned bytes in a dry run).
        records: records written.
        elapsed: wall-clock seconds.
        items: ``describe()`` lines of planned items, at most ``list_limit`` of them.
        stopped: the run ended early (``stop`` set or ``fail_fast``).
        abandoned: planned items not attempted because the run stopped.
    """

    step: str
    dry_run: bool
    planned: int = 0
    done: int = 0
    skipped: int = 0
    failed: list[ItemFailure] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    bytes: int = 0
    records: int = 0
    elapsed: float = 0.0
    items: list[str] = field(default_factory=list)
    stopped: bool = False
    abandoned: int = 0

    @property
    def ok(self) -> bool:
        """True when no item failed and the run was not stopped early."""
        return not self.failed and not self.stopped

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-safe dict of the report (``ok`` included)."""
        return {
            "step": self.step,
            "dry_run": self.dry_run,
            "ok": self.ok,
            "planned": self.planned,
            "done": self.done,
            "skipped": self.skipped,
            "failed": [failure.to_dict() for failure in self.failed],
            "warnings": list(self.warnings),
            "bytes": self.bytes,
            "records": self.records,
            "elapsed": round(self.elapsed, 3),
            "items": list(self.items),
            "items_omitted": self.planned - len(self.items),
            "stopped": self.stopped,
            "abandoned": self.abandoned,
        }

    def summary(self) -> str:
        """Return the report as one line for people."""
        if self.dry_run:
            text = f"{self.step} (dry run): {self.planned} to migrate, {self.skipped} already done"
        else:
            text = f"{self.step}: {self.done} done, {self.skipped} skipped"
        text += f", {len(self.failed)} failed"
        if self.warnings:
            text += f", {len(self.warnings)} warnings"
        if self.stopped:
            text += f", stopped early ({self.abandoned} abandoned)"
        if self.bytes:
            text += f", {_human_bytes(self.bytes)}"
        return f"{text} in {self.elapsed:.1f} s"


def _human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} B"
    value = float(size)
    for unit in ("KiB", "MiB", "GiB"):
        value /= 1024
        if value < 1024:
            return f"{value:.1f} {unit}"
    return f"{value / 1024:.1f} TiB"
