"""A buildlog-like migration step for the crash tests, importable and runnable as a script.

Each legacy JSON file in SOURCE becomes rows in the SQLite file DEST (one transaction per
file, with a ledger row saying the file was imported), then is renamed to ``*.migrated``
in ``finish``. The rename is what makes a file done, and apply is idempotent (it consults
the ledger inside its transaction), so a kill between commit and rename is healed by a
rerun. The ``line`` table has no unique constraint on purpose: a duplicated import would
show up as extra rows instead of being silently absorbed.

As a script it prints the completed-item count after every item (so a test can kill it
at a random point) and can SIGKILL itself at an exact point: ``--die-at NAME:PHASE`` with
PHASE one of ``prepare``, ``before_commit``, ``after_commit``, ``finish``.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from storage_core.migration import ItemOutcome, MigrationStep, ProgressEvent, run

PHASES = ("prepare", "before_commit", "after_commit", "finish")

SCHEMA = """
CREATE TABLE IF NOT EXISTS line (source_id TEXT NOT NULL, line_no INTEGER NOT NULL, text TEXT);
CREATE TABLE IF NOT EXISTS ledger (source_id TEXT PRIMARY KEY);
"""


def write_sources(folder: Path, count: int) -> dict[str, int]:
    """Write ``count`` legacy files into ``folder``; return the expected lines per id."""
    folder.mkdir(parents=True, exist_ok=True)
    expected = {}
    for index in range(count):
        source_id = f"f{index:05d}"
        lines = [f"{source_id} entry {n}" for n in range(1 + index % 3)]
        (folder / f"{source_id}.json").write_text(json.dumps({"id": source_id, "lines": lines}))
        expected[source_id] = len(lines)
    return expected


class ImportFiles(MigrationStep[Path, dict[str, Any]]):
    """Legacy JSON files -> SQLite rows, then rename the file to ``*.migrated``."""

    name = "import-files"

    def __init__(self, source: Path, dest: Path, die_at: str | None = None) -> None:
        self.source = source
        self.die_name, _, self.die_phase = (die_at or "").partition(":")
        self.conn = sqlite3.connect(dest, isolation_level=None, timeout=30)
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.executescript(SCHEMA)

    def close(self) -> None:
        """Close the destination connection."""
        self.conn.close()

    def _maybe_die(self, path: Path, phase: str) -> None:
        if path.stem == self.die_name and phase == self.die_phase:
            os.kill(os.getpid(), signal.SIGKILL)

    def candidates(self) -> Iterator[Path]:
        """Unrenamed legacy files, in name order."""
        yield from sorted(self.source.glob("*.json"))

    def is_done(self, item: Path) -> bool:
        """A file is done once it was renamed (possibly by another run)."""
        return not item.exists()

    def describe(self, item: Path) -> str:
        """The file name."""
        return item.name

    def count(self) -> int:
        """Files still to import."""
        return sum(1 for _ in self.source.glob("*.json"))

    def prepare(self, item: Path) -> dict[str, Any]:
        """Parse the file (worker thread)."""
        self._maybe_die(item, "prepare")
        record: dict[str, Any] = json.loads(item.read_text())
        return record

    def apply(self, item: Path, prepared: dict[str, Any]) -> ItemOutcome:
        """Insert the lines and the ledger row in one transaction, unless already there."""
        source_id = prepared["id"]
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            known = self.conn.execute("SELECT 1 FROM ledger WHERE source_id = ?", (source_id,))
            inserted = 0
            if known.fetchone() is None:
                self.conn.executemany(
                    "INSERT INTO line (source_id, line_no, text) VALUES (?, ?, ?)",
                    [(source_id, n, text) for n, text in enumerate(prepared["lines"])],
                )
                self.conn.execute("INSERT INTO ledger (source_id) VALUES (?)", (source_id,))
                inserted = len(prepared["lines"])
            self._maybe_die(item, "before_commit")
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self._maybe_die(item, "after_commit")
        return ItemOutcome(records=inserted)

    def finish(self, item: Path, prepared: dict[str, Any]) -> None:
        """Mark the source done by renaming it (worker thread)."""
        self._maybe_die(item, "finish")
        item.rename(item.with_suffix(".migrated"))


def main(argv: list[str] | None = None) -> int:
    """Run the import; print the completed count after every item."""
    parser = argparse.ArgumentParser()
    parser.add_argument("source", type=Path)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--die-at", default=None)
    args = parser.parse_args(argv)

    def report_progress(event: ProgressEvent) -> None:
        print(event.completed, flush=True)

    step = ImportFiles(args.source, args.dest, die_at=args.die_at)
    try:
        report = run(step, workers=args.workers, progress=report_progress)
    finally:
        step.close()
    print("finished", report.summary(), flush=True)
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
