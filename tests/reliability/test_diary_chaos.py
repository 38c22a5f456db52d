"""diary killed with SIGKILL at random moments loses nothing it promised to keep.

Three kinds of work are killed, ``CHAOS_TRIALS`` times each (5 in ``make test``, 50 in
``make chaos``): artifact migrations (inline -> filesystem, inline -> s3, filesystem -> s3),
buffered metric logging, and ``diary db compact``. Kill moments are spread over the measured
duration of an uninterrupted run of the same work on this machine, counted from the child's
``ready`` line (its imports are done), so kills land mid-run however fast the machine is.

After every kill: the database opens, every artifact reads back byte-identical (sha256), a
re-run completes, and the only metric points missing are the killed process's unflushed
buffer (see docs/reliability.md for the bound).
"""

from __future__ import annotations

import mmap
import random
import signal
import struct
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from diary_support import (
    CHAOS_TRIALS,
    DiarySandbox,
    row_counts,
    sha256,
    start_child,
    wait_ready,
)

from diary.artifacts import migrate_artifacts, verify_artifacts
from diary.artifacts.compact import compact_database
from diary.store import Store

pytestmark = pytest.mark.slow

# Kill moments, as fractions of an uninterrupted run measured from ``ready``. The run ends
# with the interpreter's exit, so the window stops short of the end.
KILL_WINDOW = (0.02, 0.8)
# Kills that must hit a running process, else the test proves nothing: one in a short run
# (`make test`, where a miss or two is chance), half in `make chaos`.
MIN_KILLED = 1 if CHAOS_TRIALS < 10 else CHAOS_TRIALS // 2


def _kill_at(process: subprocess.Popen[str], delay: float) -> int:
    """Sleep ``delay`` seconds after ``ready``, SIGKILL the child, return its exit status."""
    time.sleep(delay)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    return process.returncode


def _timed_run(process: subprocess.Popen[str]) -> float:
    """Seconds from ``ready`` to a clean exit of an uninterrupted child."""
    wait_ready(process)
    started = time.monotonic()
    _, err = process.communicate(timeout=300)
    assert process.returncode == 0, err
    return time.monotonic() - started


def _check_artifacts(store: Store, expected: dict[UUID, str]) -> int:
    """Every artifact reads back with its sha256; returns the number checked."""
    for resource_id, digest in expected.items():
        assert sha256(store.read_resource_data(resource_id)) == digest, resource_id
    return len(expected)


# -- artifact migrations ---------------------------------------------------------------------

MIGRATIONS = [("inline", "filesystem"), ("inline", "s3"), ("filesystem", "s3")]


@pytest.mark.parametrize(
    ("source", "target"), MIGRATIONS, ids=[f"{s}-to-{t}" for s, t in MIGRATIONS]
)
def test_diary_sigkill_during_artifact_migration(
    diary_s3_sandbox: DiarySandbox, source: str, target: str
) -> None:
    sandbox = diary_s3_sandbox
    sandbox.settings["DEARDIARY_ARTIFACT_BACKEND"] = source
    rng = random.Random(f"{source}-{target}")
    expected: dict[UUID, str] = {}
    with sandbox.open() as store:
        experiment = store.create_experiment(store.create_project("chaos").id, "e").id
        for i in range(40):
            data = rng.randbytes(rng.randint(0, 150_000))
            expected[store.put_artifact(experiment, data, name=f"a{i}").id] = sha256(data)

    def migrate() -> subprocess.Popen[str]:
        args = ["--", "artifact", "migrate", "--from", source, "--to", target, "--workers", "2"]
        return start_child(sandbox, "cli", *args)

    def on_target(store: Store) -> int:
        return sum(r.backend == target for r in store.list_resources(experiment))

    def move_back(store: Store) -> None:
        report = migrate_artifacts(store, to=source, from_backend=target, workers=2)
        assert report.ok, report.summary()

    whole_run = _timed_run(migrate())
    with sandbox.open() as store:
        assert on_target(store) == len(expected)
        move_back(store)

    killed = partial = checked = 0
    for trial in range(CHAOS_TRIALS):
        process = migrate()
        wait_ready(process)
        status = _kill_at(process, rng.uniform(*KILL_WINDOW) * whole_run)
        killed += status == -signal.SIGKILL
        # The database opens and every artifact reads back, wherever its bytes are now.
        with sandbox.open() as store:
            moved = on_target(store)
            partial += 0 < moved < len(expected)
            checked += _check_artifacts(store, expected)
            # A re-run completes the job.
            report = migrate_artifacts(store, to=target, from_backend=source, workers=2)
            assert report.ok, (trial, report.summary())
            assert report.failed == []
            assert on_target(store) == len(expected), trial
            checked += _check_artifacts(store, expected)
            move_back(store)

    with sandbox.open() as store:
        gc = verify_artifacts(store, gc=True, grace=timedelta(0))
        assert gc.problems == []
        assert verify_artifacts(store).ok
    print(
        f"\nmigration {source}->{target}: {CHAOS_TRIALS} trials, {killed} killed mid-run, "
        f"{partial} with some rows moved, run {whole_run:.2f} s, {checked} reads checked, "
        f"{len(gc.orphans)} orphans collected, lost: 0"
    )
    # Kills must land mid-run, else the test proves nothing.
    assert killed >= MIN_KILLED, (killed, CHAOS_TRIALS)


# -- buffered metric logging -----------------------------------------------------------------

FLUSH_SIZE = 200  # points (each step logs two: loss and acc)
FLUSH_EVERY = 1_000  # steps between the child's explicit, acknowledged flushes
STEPS = 12_000


def _series(sandbox: DiarySandbox, iteration: UUID) -> int:
    """The number of steps stored; checks both series are the same prefix 0..n-1."""
    with sandbox.open() as store:
        loss = store.metric_history(iteration, "loss")
        acc = store.metric_history(iteration, "acc")
    steps = [point.step for point in loss]
    assert steps == list(range(len(steps)))
    assert [point.step for point in acc] == steps
    assert all(p.value == float(p.step) for p in loss)
    assert all(p.value == -float(p.step) for p in acc)
    return len(steps)


def test_diary_sigkill_while_logging_buffered_metrics(
    diary_sandbox: DiarySandbox, tmp_path: Path
) -> None:
    sandbox = diary_sandbox
    sandbox.settings.update(DEARDIARY_FLUSH_SIZE=str(FLUSH_SIZE), DEARDIARY_FLUSH_INTERVAL="0.05")
    counters = tmp_path / "counters"
    with sandbox.open() as store:
        experiment = store.create_experiment(store.create_project("chaos").id, "e").id

    def new_iteration() -> UUID:
        with sandbox.open() as store:
            return store.create_iteration(experiment, snapshot=False).id

    def start(iteration: UUID) -> tuple[subprocess.Popen[str], mmap.mmap]:
        counters.write_bytes(bytes(16))
        process = start_child(
            sandbox, "log", str(iteration), str(STEPS), str(counters), str(FLUSH_EVERY)
        )
        with open(counters, "r+b") as handle:
            return process, mmap.mmap(handle.fileno(), 16)

    iteration = new_iteration()
    process, shared = start(iteration)
    whole_run = _timed_run(process)
    assert _series(sandbox, iteration) == STEPS
    assert struct.unpack_from("<qq", shared) == (STEPS, STEPS)

    rng = random.Random("metrics")
    killed = checked = worst = 0
    for _ in range(CHAOS_TRIALS):
        iteration = new_iteration()
        process, shared = start(iteration)
        wait_ready(process)
        status = _kill_at(process, rng.uniform(*KILL_WINDOW) * whole_run)
        killed += status == -signal.SIGKILL
        logged, flushed = struct.unpack_from("<qq", shared)
        stored = _series(sandbox, iteration)
        checked += 2 * stored
        # A point whose flush committed is never lost; nothing is stored that was not logged
        # (a background flush may commit a call before the child counts it: + 1).
        assert flushed <= stored <= logged + 1, (flushed, stored, logged)
        lost_points = 2 * max(logged - stored, 0)
        # The documented bound: the buffer (< 2 x FLUSH_SIZE) and one batch being written
        # (< 2 x FLUSH_SIZE), plus the points of the call in progress.
        assert lost_points < 4 * FLUSH_SIZE + 2, (lost_points, logged, stored)
        worst = max(worst, lost_points)
        # A re-run completes the series.
        with sandbox.open(buffered=True) as store:
            for step in range(stored, STEPS):
                store.log_metrics(iteration, {"loss": float(step), "acc": -float(step)}, step)
        assert _series(sandbox, iteration) == STEPS
        checked += 2 * STEPS
    print(
        f"\nbuffered logging: {CHAOS_TRIALS} trials, {killed} killed mid-run, run "
        f"{whole_run:.2f} s, {checked} points checked, worst unflushed loss {worst} points "
        f"(bound {4 * FLUSH_SIZE}), acknowledged points lost: 0"
    )
    assert killed >= MIN_KILLED, (killed, CHAOS_TRIALS)


# -- compaction ------------------------------------------------------------------------------


def test_diary_sigkill_during_compaction(diary_sandbox: DiarySandbox) -> None:
    sandbox = diary_sandbox
    rng = random.Random("compact")
    expected: dict[UUID, str] = {}
    with sandbox.open(buffered=True) as store:
        experiment = store.create_experiment(store.create_project("chaos").id, "e").id
        iteration = store.create_iteration(experiment, snapshot=False).id
        for step in range(100_000):
            store.log_metric(iteration, "x", float(step), step)
        store.flush()
        for i in range(40):
            data = rng.randbytes(rng.randint(1, 400_000))
            expected[store.put_artifact(experiment, data, name=f"a{i}").id] = sha256(data)
    with sandbox.open() as store:
        # Half the inline bytes are deleted: compaction has space to give back.
        deleted = [rid for i, rid in enumerate(expected) if i % 2 == 0]
        for rid in deleted:
            store.delete_resource(rid)
    for rid in deleted:
        expected.pop(rid)
    counts = row_counts(sandbox.db)

    def compact() -> subprocess.Popen[str]:
        return start_child(sandbox, "cli", "--", "db", "compact")

    def check() -> int:
        assert row_counts(sandbox.db) == counts
        with sandbox.open() as store:
            history = store.metric_history(iteration, "x")
            assert [p.step for p in history] == list(range(100_000))
            return _check_artifacts(store, expected) + 100_000

    whole_run = min(_timed_run(compact()), _timed_run(compact()))
    checked = check()
    killed = 0
    for _ in range(CHAOS_TRIALS):
        process = compact()
        wait_ready(process)
        killed += _kill_at(process, rng.uniform(*KILL_WINDOW) * whole_run) == -signal.SIGKILL
        checked += check()
        compact_database(sandbox.db)  # the re-run completes
        checked += check()
    leftovers = sorted(p.name for p in sandbox.root.iterdir() if "compact" in p.name)
    assert leftovers == []
    print(
        f"\ncompaction: {CHAOS_TRIALS} trials, {killed} killed mid-run, run {whole_run:.2f} s, "
        f"{checked} records checked, lost: 0"
    )
    assert killed >= MIN_KILLED, (killed, CHAOS_TRIALS)
