"""Tests for storage_core.migration: the idempotent, crash-safe migration engine.

The step under test copies "records" (JSON files with an id and some lines) into a real
SQLite destination: prepare copies the file's bytes into a blob folder (the "destination
bytes"), apply inserts the lines and a ``migrated`` ledger row in one transaction, finish
leaves a ``.finished`` marker next to the source, cleanup removes the blob copy. The
``record`` table has no unique constraint, so a duplicated apply would be visible.
"""

from __future__ import annotations

import importlib.util
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from storage_core.migration import (
    ItemAlreadyDone,
    ItemFailure,
    ItemOutcome,
    MigrationStep,
    ProgressEvent,
    run,
)

CRASH_SCRIPT = Path(__file__).with_name("crash_step.py")
MAIN_THREAD = threading.get_ident()


@dataclass
class Staged:
    """What CopyRecords.prepare hands to apply."""

    lines: list[str]
    copy: Path


class CopyRecords(MigrationStep[Path, Staged]):
    """Copy JSON records into a SQLite destination, with injectable faults."""

    name = "copy-records"

    def __init__(self, source: Path, dest: Path, blobs: Path, **faults: Any) -> None:
        self.source, self.blobs = source, blobs
        # check_same_thread (the default) makes any use off the creating thread an error.
        self.conn = sqlite3.connect(dest, isolation_level=None)
        self.faults: dict[str, Any] = faults
        self.only: set[str] | None = faults.get("only")
        self.lock = threading.Lock()
        self.calls: Counter[str] = Counter()
        self.threads: dict[str, set[int]] = {"prepare": set(), "apply": set()}
        self.cleaned: list[str] = []
        # Copies this run wrote: cleanup must only ever remove these, never a committed copy.
        self.written: dict[str, Path] = {}

    def _note(self, phase: str) -> None:
        with self.lock:
            self.calls[phase] += 1
            self.threads.setdefault(phase, set()).add(threading.get_ident())

    def _fault(self, kind: str, item: Path) -> bool:
        return item.stem in self.faults.get(kind, ())

    def candidates(self) -> Iterator[Path]:
        for path in sorted(self.source.glob("*.json")):
            if self.only is None or path.stem in self.only:
                yield path

    def is_done(self, item: Path) -> bool:
        row = self.conn.execute("SELECT 1 FROM migrated WHERE source_id = ?", (item.stem,))
        return row.fetchone() is not None

    def describe(self, item: Path) -> str:
        return f"record {item.stem}"

    def count(self) -> int:
        return sum(1 for _ in self.candidates())

    def size(self, item: Path) -> int:
        return item.stat().st_size

    def prepare(self, item: Path) -> Staged:
        self._note("prepare")
        if self._fault("interrupt_prepare", item):
            raise KeyboardInterrupt
        copy = self.blobs / f"{item.stem}-{uuid.uuid4().hex[:8]}.json"
        with self.lock:
            self.written[item.stem] = copy
        copy.write_bytes(item.read_bytes())
        if self._fault("prepare", item):
            raise OSError(f"injected prepare failure for {item.stem}")
        return Staged(json.loads(copy.read_text())["lines"], copy)

    def apply(self, item: Path, prepared: Staged) -> ItemOutcome:
        self._note("apply")
        if self._fault("interrupt", item):
            raise KeyboardInterrupt
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            if self.conn.execute(
                "SELECT 1 FROM migrated WHERE source_id = ?", (item.stem,)
            ).fetchone():
                raise ItemAlreadyDone(item.stem)
            self.conn.executemany(
                "INSERT INTO record VALUES (?, ?, ?)",
                [(item.stem, n, text) for n, text in enumerate(prepared.lines)],
            )
            if self._fault("apply", item):
                raise RuntimeError(f"injected apply failure for {item.stem}")
            self.conn.execute("INSERT INTO migrated VALUES (?, ?)", (item.stem, prepared.copy.name))
            self.conn.execute("COMMIT")
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        return ItemOutcome(records=len(prepared.lines))

    def finish(self, item: Path, prepared: Staged) -> None:
        self._note("finish")
        if self._fault("finish", item):
            raise OSError(f"injected finish failure for {item.stem}")
        item.with_suffix(".finished").touch()

    def cleanup(self, item: Path, prepared: Staged | None) -> None:
        self._note("cleanup")
        with self.lock:
            self.cleaned.append(item.stem)
        with self.lock:
            copy = self.written.pop(item.stem, None)
        if copy is not None:
            copy.unlink(missing_ok=True)
        if self._fault("cleanup", item):
            raise OSError(f"injected cleanup failure for {item.stem}")


@dataclass
class Site:
    """A source folder, a destination SQLite file and a blob folder under tmp_path."""

    root: Path
    steps: list[CopyRecords]

    @property
    def source(self) -> Path:
        return self.root / "source"

    @property
    def dest(self) -> Path:
        return self.root / "dest.db"

    @property
    def blobs(self) -> Path:
        return self.root / "blobs"

    def add_records(self, ids: range) -> None:
        for index in ids:
            lines = [f"r{index:05d} line {n}" for n in range(1 + index % 3)]
            payload = {"id": f"r{index:05d}", "lines": lines}
            (self.source / f"r{index:05d}.json").write_text(json.dumps(payload))

    def step(self, **faults: Any) -> CopyRecords:
        step = CopyRecords(self.source, self.dest, self.blobs, **faults)
        self.steps.append(step)
        return step

    def state(self) -> tuple[list[tuple[str, int, str]], list[str], list[str], list[str]]:
        """Rows, migrated ids, ids of the blob copies present, finished markers."""
        with sqlite3.connect(self.dest) as conn:
            rows = sorted(conn.execute("SELECT source_id, line_no, text FROM record"))
            migrated = sorted(conn.execute("SELECT source_id, copy FROM migrated"))
        conn.close()
        # A committed row must point at a copy that exists.
        assert all((self.blobs / copy).is_file() for _, copy in migrated)
        blobs = sorted(p.name.split("-")[0] for p in self.blobs.iterdir())
        markers = sorted(p.stem for p in self.source.glob("*.finished"))
        return rows, [sid for sid, _ in migrated], blobs, markers

    def expected_rows(self, ids: list[str]) -> list[tuple[str, int, str]]:
        index = {int(i[1:]): i for i in ids}
        return sorted(
            (sid, n, f"{sid} line {n}") for k, sid in index.items() for n in range(1 + k % 3)
        )


@pytest.fixture
def make_site(tmp_path: Path) -> Iterator[Callable[..., Site]]:
    sites: list[Site] = []

    def factory(count: int = 10, name: str = "site") -> Site:
        site = Site(tmp_path / name, [])
        site.source.mkdir(parents=True)
        site.blobs.mkdir()
        site.add_records(range(count))
        with sqlite3.connect(site.dest) as conn:
            conn.executescript(
                "CREATE TABLE record (source_id TEXT NOT NULL, line_no INT, text TEXT);"
                "CREATE TABLE migrated (source_id TEXT PRIMARY KEY, copy TEXT NOT NULL);"
            )
        conn.close()
        sites.append(site)
        return site

    yield factory
    for site in sites:
        for step in site.steps:
            step.conn.close()


def ids(count: int) -> list[str]:
    return [f"r{i:05d}" for i in range(count)]


def assert_complete(site: Site, count: int) -> None:
    """Every record migrated exactly once, its copy kept, its marker written."""
    rows, migrated, blobs, markers = site.state()
    assert rows == site.expected_rows(ids(count))
    assert migrated == blobs == markers == ids(count)


def migration_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("migration_")]


@pytest.mark.parametrize("workers", [1, 4])
def test_run_applies_everything_and_rerun_applies_nothing(
    make_site: Callable[..., Site], workers: int
) -> None:
    site = make_site(12)
    report = run(site.step(), workers=workers)
    assert (report.planned, report.done, report.skipped, report.failed) == (12, 12, 0, [])
    assert report.ok
    assert not report.dry_run
    assert not report.stopped
    assert report.records == len(site.expected_rows(ids(12)))
    assert report.bytes == sum(p.stat().st_size for p in site.source.glob("*.json"))
    assert report.items == [f"record {i}" for i in ids(12)]
    assert_complete(site, 12)

    before = site.state()
    rerun_step = site.step()
    rerun = run(rerun_step, workers=workers)
    assert (rerun.planned, rerun.done, rerun.skipped, rerun.failed) == (0, 0, 12, [])
    assert rerun.ok
    assert rerun.items == []
    assert rerun_step.calls["prepare"] == rerun_step.calls["apply"] == 0
    assert site.state() == before


def test_dry_run_is_read_only_and_reports_the_plan(make_site: Callable[..., Site]) -> None:
    site = make_site(4)
    run(site.step())
    site.add_records(range(4, 9))
    snapshot = {p.name: p.read_bytes() for p in site.root.rglob("*") if p.is_file()}
    events: list[ProgressEvent] = []
    step = site.step()

    report = run(step, dry_run=True, progress=events.append, list_limit=3)

    assert {p.name: p.read_bytes() for p in site.root.rglob("*") if p.is_file()} == snapshot
    assert sum(step.calls.values()) == 0
    assert report.dry_run
    assert (report.planned, report.skipped, report.done) == (5, 4, 0)
    assert report.items == ["record r00004", "record r00005", "record r00006"]
    assert report.to_dict()["items_omitted"] == 2
    new = [site.source / f"{i}.json" for i in ids(9)[4:]]
    assert report.bytes == sum(p.stat().st_size for p in new)
    assert [e.status for e in events] == ["skipped"] * 4 + ["planned"] * 5
    assert re.fullmatch(
        r"copy-records \(dry run\): 5 to migrate, 4 already done, 0 failed, \d+ B in \d+\.\d s",
        report.summary(),
    )


@pytest.mark.parametrize("workers", [1, 4])
def test_failed_apply_is_recorded_rolled_back_and_picked_up_by_the_next_run(
    make_site: Callable[..., Site], workers: int
) -> None:
    site = make_site(8)
    step = site.step(apply={"r00003"})
    report = run(step, workers=workers)

    assert [(f.item, f.error, f.phase) for f in report.failed] == [
        ("record r00003", "RuntimeError: injected apply failure for r00003", "apply")
    ]
    assert isinstance(report.failed[0].exception, RuntimeError)
    assert (report.done, report.skipped, report.ok) == (7, 0, False)
    rows, migrated, blobs, _ = site.state()
    others = [i for i in ids(8) if i != "r00003"]
    assert rows == site.expected_rows(others)  # the lines inserted before the error rolled back
    assert migrated == blobs == others  # cleanup removed the orphan copy
    assert step.cleaned == ["r00003"]

    rerun = run(site.step(), workers=workers)
    assert (rerun.done, rerun.skipped, rerun.failed) == (1, 7, [])
    assert_complete(site, 8)


def test_failed_prepare_calls_cleanup_and_skips_apply(make_site: Callable[..., Site]) -> None:
    site = make_site(5)
    step = site.step(prepare={"r00002"}, cleanup={"r00002"})
    report = run(step)
    assert [(f.item, f.error, f.phase) for f in report.failed] == [
        ("record r00002", "OSError: injected prepare failure for r00002", "prepare")
    ]
    assert step.cleaned == ["r00002"]
    assert step.calls["apply"] == 4
    assert report.warnings == [
        "record r00002: cleanup failed: OSError: injected cleanup failure for r00002"
    ]
    assert "r00002" not in site.state()[2]  # cleanup removed the partial copy


def test_failed_finish_is_a_warning_and_the_item_counts_as_done(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(5)
    report = run(site.step(finish={"r00001"}), workers=2)
    assert report.ok
    assert report.done == 5
    assert report.warnings == [
        "record r00001: finish failed: OSError: injected finish failure for r00001"
    ]
    _, migrated, _, markers = site.state()
    assert migrated == ids(5)
    assert markers == [i for i in ids(5) if i != "r00001"]


def test_failed_is_done_check_fails_only_that_item(make_site: Callable[..., Site]) -> None:
    site = make_site(4)

    class BrokenCheck(CopyRecords):
        def is_done(self, item: Path) -> bool:
            if item.stem == "r00001":
                raise sqlite3.OperationalError("disk I/O error")
            return super().is_done(item)

    step = BrokenCheck(site.source, site.dest, site.blobs)
    site.steps.append(step)
    report = run(step)
    assert [(f.item, f.error, f.phase) for f in report.failed] == [
        ("record r00001", "OperationalError: disk I/O error", "check")
    ]
    assert report.done == 3
    assert report.planned == 3


def test_workers_reach_the_same_state_and_apply_stays_on_the_calling_thread(
    make_site: Callable[..., Site],
) -> None:
    states = []
    for workers in (1, 4):
        site = make_site(40, name=f"w{workers}")
        step = site.step()
        report = run(step, workers=workers)
        assert report.ok
        assert report.done == 40
        assert step.threads["apply"] == {MAIN_THREAD}
        if workers == 1:
            assert step.threads["prepare"] == step.threads["finish"] == {MAIN_THREAD}
        else:
            assert MAIN_THREAD not in step.threads["prepare"] | step.threads["finish"]
        states.append(site.state())
    assert states[0] == states[1]
    assert migration_threads() == []


class Counting(MigrationStep[int, int]):
    """A cheap step over a 10,000-item generator that measures how far it runs ahead."""

    name = "counting"

    def __init__(self, total: int) -> None:
        self.total, self.pulled, self.completed, self.max_ahead = total, 0, 0, 0

    def candidates(self) -> Iterator[int]:
        for number in range(self.total):
            self.pulled += 1
            self.max_ahead = max(self.max_ahead, self.pulled - self.completed)
            yield number

    def on_progress(self, event: ProgressEvent) -> None:
        self.completed = event.completed

    def is_done(self, item: int) -> bool:
        return item % 10 == 0

    def describe(self, item: int) -> str:
        return f"n{item}"

    def prepare(self, item: int) -> int:
        return item * 2

    def apply(self, item: int, prepared: int) -> None:
        assert prepared == item * 2

    def finish(self, item: int, prepared: int) -> None:
        pass


@pytest.mark.parametrize(("workers", "window"), [(1, 1), (4, 8)])
def test_candidates_are_streamed_with_a_bounded_window(workers: int, window: int) -> None:
    step = Counting(10_000)
    report = run(step, workers=workers, progress=step.on_progress, list_limit=10)
    assert (report.done, report.skipped, step.pulled) == (9_000, 1_000, 10_000)
    assert 1 <= step.max_ahead <= window
    assert len(report.items) == 10


@pytest.mark.parametrize("workers", [1, 4])
@pytest.mark.parametrize("phase", ["interrupt_prepare", "interrupt"])
def test_keyboard_interrupt_propagates_and_a_rerun_completes(
    make_site: Callable[..., Site], workers: int, phase: str
) -> None:
    site = make_site(20)
    with pytest.raises(KeyboardInterrupt):
        run(site.step(**{phase: {"r00005"}}), workers=workers)
    assert migration_threads() == []
    rows, migrated, blobs, _ = site.state()
    assert "r00005" not in migrated
    assert len(migrated) < 20
    assert rows == site.expected_rows(migrated)
    # Prepared-but-unapplied copies were cleaned; only an interrupted apply's copy remains
    # (the engine cannot know whether that apply committed). Remove it, as a gc would.
    orphans = ["r00005"] if phase == "interrupt" else []
    assert [b for b in blobs if b not in migrated] == orphans
    for orphan in site.blobs.glob("r00005-*"):
        orphan.unlink()

    rerun = run(site.step(), workers=workers)
    assert rerun.ok
    assert rerun.done == 20 - len(migrated)
    assert_complete(site, 20)


def test_progress_events_report_each_item_once(make_site: Callable[..., Site]) -> None:
    site = make_site(5)
    run(site.step(only={"r00000", "r00001"}))
    events: list[ProgressEvent] = []
    run(site.step(apply={"r00003"}), progress=events.append)
    sizes = {i: (site.source / f"{i}.json").stat().st_size for i in ids(5)}
    assert events == [
        ProgressEvent("copy-records", "record r00000", "skipped", 1, 5, 0),
        ProgressEvent("copy-records", "record r00001", "skipped", 2, 5, 0),
        ProgressEvent("copy-records", "record r00002", "done", 3, 5, sizes["r00002"]),
        ProgressEvent("copy-records", "record r00003", "failed", 4, 5, 0),
        ProgressEvent("copy-records", "record r00004", "done", 5, 5, sizes["r00004"]),
    ]
    threaded: list[ProgressEvent] = []
    run(site.step(), workers=3, progress=threaded.append)
    assert [e.completed for e in threaded] == [1, 2, 3, 4, 5]
    assert {e.total for e in threaded} == {5}
    assert sorted((e.item, e.status) for e in threaded if e.status != "skipped") == [
        ("record r00003", "done")
    ]


def test_item_migrated_meanwhile_is_skipped_by_the_recheck(make_site: Callable[..., Site]) -> None:
    site = make_site(4)

    class RacedByAnotherRun(CopyRecords):
        def prepare(self, item: Path) -> Staged:
            staged = super().prepare(item)
            if item.stem == "r00002":  # another process commits this item meanwhile
                with sqlite3.connect(site.dest) as other:
                    (site.blobs / "r00002-other.json").write_text("{}")
                    other.execute(
                        "INSERT INTO migrated VALUES (?, 'r00002-other.json')", (item.stem,)
                    )
                other.close()
            return staged

    step = RacedByAnotherRun(site.source, site.dest, site.blobs)
    site.steps.append(step)
    report = run(step)
    assert (report.done, report.skipped, report.failed) == (3, 1, [])
    assert step.calls["apply"] == 3
    assert step.cleaned == ["r00002"]
    assert site.state()[2] == ids(4)  # our copy of r00002 was removed, the other run's kept
    assert [p.name for p in site.blobs.glob("r00002-*")] == ["r00002-other.json"]


def test_item_already_done_raised_by_apply_counts_as_skipped(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(4)
    run(site.step())

    class StaleCheck(CopyRecords):
        def is_done(self, item: Path) -> bool:
            return False  # as if a parallel run committed after both checks

    step = StaleCheck(site.source, site.dest, site.blobs)
    site.steps.append(step)
    report = run(step, workers=2)
    assert (report.done, report.skipped, report.failed, report.planned) == (0, 4, [], 4)
    assert step.calls["apply"] == 4
    assert sorted(step.cleaned) == ids(4)
    assert_complete(site, 4)  # the committed copies survived the cleanup of this run's copies


def test_fail_fast_stops_at_the_first_failure(make_site: Callable[..., Site]) -> None:
    site = make_site(6)
    report = run(site.step(apply={"r00002"}), fail_fast=True)
    assert (report.done, len(report.failed), report.stopped, report.ok) == (2, 1, True, False)
    assert site.state()[1] == ["r00000", "r00001"]
    assert run(site.step()).done == 4
    assert_complete(site, 6)


@pytest.mark.parametrize("workers", [1, 4])
def test_stop_event_ends_the_run_early_and_cleans_unapplied_work(
    make_site: Callable[..., Site], workers: int
) -> None:
    site = make_site(30)
    stop = threading.Event()
    report = run(site.step(), workers=workers, stop=stop, progress=lambda _: stop.set())
    assert report.stopped
    assert not report.ok
    assert not report.failed
    assert report.done + report.abandoned == report.planned < 30
    if workers == 1:
        assert (report.done, report.abandoned) == (1, 0)
    _, migrated, blobs, _ = site.state()
    assert blobs == migrated
    assert len(migrated) == report.done
    assert "stopped early" in report.summary()
    assert run(site.step(), workers=workers).done == 30 - report.done
    assert_complete(site, 30)


def test_report_is_json_safe_and_errors_are_one_line(make_site: Callable[..., Site]) -> None:
    site = make_site(3)
    report = run(site.step(apply={"r00001"}))
    data = json.loads(json.dumps(report.to_dict()))
    assert data["failed"] == [
        {
            "item": "record r00001",
            "error": "RuntimeError: injected apply failure for r00001",
            "phase": "apply",
        }
    ]
    assert (data["ok"], data["done"], data["records"]) == (False, 2, 1 + 3)
    assert re.fullmatch(
        r"copy-records: 2 done, 0 skipped, 1 failed, \d+ B in \d+\.\d s", report.summary()
    )
    assert ItemFailure("x", "E: y", ValueError("y")).to_dict() == {
        "item": "x",
        "error": "E: y",
        "phase": "apply",
    }


def test_an_error_in_candidates_propagates_and_keeps_committed_work(
    make_site: Callable[..., Site],
) -> None:
    site = make_site(6)

    class BrokenListing(CopyRecords):
        def candidates(self) -> Iterator[Path]:
            for number, path in enumerate(super().candidates()):
                if number == 3:
                    raise sqlite3.DatabaseError("cursor lost")
                yield path

    step = BrokenListing(site.source, site.dest, site.blobs)
    site.steps.append(step)
    with pytest.raises(sqlite3.DatabaseError, match="cursor lost"):
        run(step, workers=2)
    _, migrated, blobs, _ = site.state()
    assert blobs == migrated
    assert set(migrated) <= {"r00000", "r00001", "r00002"}
    assert migration_threads() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"workers": 0}, "workers must be at least 1, got 0"),
        ({"list_limit": -1}, "list_limit must not be negative, got -1"),
    ],
)
def test_invalid_arguments_are_refused(
    make_site: Callable[..., Site], kwargs: dict[str, Any], message: str
) -> None:
    site = make_site(1)
    with pytest.raises(ValueError, match=f"^{message}$"):
        run(site.step(), **kwargs)


def load_crash_step() -> ModuleType:
    spec = importlib.util.spec_from_file_location("crash_step", CRASH_SCRIPT)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.slow
def test_sigkill_at_any_moment_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    crash_step = load_crash_step()
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    # Four exact kill points (inside prepare, mid-transaction, between commit and rename,
    # inside finish) and one kill from outside after a random number of completed items.
    for trial, phase in enumerate([*crash_step.PHASES, "external"]):
        source, dest = tmp_path / f"t{trial}" / "legacy", tmp_path / f"t{trial}" / "dest.db"
        expected = crash_step.write_sources(source, 2000)
        victim = f"f{rng.randrange(1, 1500):05d}"
        command = [sys.executable, str(CRASH_SCRIPT), str(source), str(dest)]
        command += ["--workers", str(1 + trial % 2)]
        if phase != "external":
            command += ["--die-at", f"{victim}:{phase}"]
        child = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        assert child.stdout is not None
        if phase == "external":
            target = rng.randrange(1, 1500)
            for line in child.stdout:
                if not line.startswith("finished") and int(line) >= target:
                    break
            child.send_signal(signal.SIGKILL)
        child.communicate()
        context = f"seed={seed} trial={trial} phase={phase} victim={victim}"
        if phase == "external":
            assert child.returncode in (-signal.SIGKILL, 0), context
        else:
            assert child.returncode == -signal.SIGKILL, context

        check_consistent(dest, expected, context, complete=False)
        step = crash_step.ImportFiles(source, dest)
        try:
            report = run(step, workers=2)
        finally:
            step.close()
        assert report.ok, (context, report.to_dict())
        assert sorted(p.stem for p in source.glob("*.migrated")) == sorted(expected), context
        assert list(source.glob("*.json")) == [], context
        check_consistent(dest, expected, context, complete=True)


def check_consistent(dest: Path, expected: dict[str, int], context: str, complete: bool) -> None:
    """Each ledger entry has exactly its lines; no lines without a ledger entry."""
    with sqlite3.connect(dest, timeout=30) as conn:
        ledger = {row[0] for row in conn.execute("SELECT source_id FROM ledger")}
        lines = dict(conn.execute("SELECT source_id, COUNT(*) FROM line GROUP BY source_id"))
    conn.close()
    assert lines == {sid: expected[sid] for sid in ledger}, context
    if complete:
        assert ledger == set(expected), context
