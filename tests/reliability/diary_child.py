"""Child processes of the diary reliability suites (run as a script, never imported by pytest).

Usage: ``python diary_child.py MODE ARGS...``; settings come from the DEARDIARY_* environment.

Modes:

* ``cli [--fsize BYTES] -- ARGS...``: import what the diary CLI needs, print ``ready``, then
  run ``diary ARGS``. ``--fsize`` sets RLIMIT_FSIZE (SIGXFSZ ignored, so a write past it
  fails with EFBIG).
* ``log ITERATION TOTAL COUNTERS FLUSH_EVERY``: buffered logging of steps 0..TOTAL-1 (keys
  ``loss`` = step, ``acc`` = -step); after each call the number of logged steps goes into
  slot 0 of the mmap'ed COUNTERS file, and after every FLUSH_EVERY steps an explicit
  ``flush()`` and the number of flushed steps into slot 1. A kill leaves both readable.
* ``writer ITERATION COUNT START_AT``: buffered logging of COUNT steps (key ``x`` = step),
  starting at wall-clock START_AT; prints a JSON line.
* ``reader ITERATIONS STOP_FILE START_AT``: reads the ``x`` history of every iteration (comma
  separated) in a loop until STOP_FILE exists, checking each is a prefix 0..n-1 with value =
  step that never shrinks; prints a JSON line with the reads and points checked.
* ``first-use NAME START_AT``: first use of a new database by several processes at once:
  open, create project NAME with an iteration and 20 points; prints a JSON line.
"""

from __future__ import annotations

import json
import mmap
import resource
import signal
import struct
import sys
import time
from pathlib import Path


def _ready() -> None:
    sys.stdout.write("ready\n")
    sys.stdout.flush()


def _wait_until(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def cli(args: list[str]) -> None:
    fsize = None
    while args and args[0] != "--":
        option = args.pop(0)
        if option == "--fsize":
            fsize = int(args.pop(0))
        else:
            raise SystemExit(f"unknown option {option}")
    args = args[1:]
    # What the commands import lazily, imported now so that the work starts right after ready.
    import alembic.command  # noqa: F401
    import duckdb_engine  # noqa: F401
    import pyarrow  # noqa: F401
    import s3fs  # noqa: F401
    import sqlalchemy.orm  # noqa: F401

    import diary.artifacts.migrate
    import diary.cli
    import diary.store

    if fsize is not None:
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (fsize, fsize))
    _ready()
    sys.argv = ["diary", *args]
    diary.cli.main()


def log(iteration: str, total: int, counters: str, flush_every: int) -> None:
    import diary

    with open(counters, "r+b") as handle:
        shared = mmap.mmap(handle.fileno(), 16)
    store = diary.open()
    _ready()
    for step in range(total):
        store.log_metrics(iteration, {"loss": float(step), "acc": -float(step)}, step)
        struct.pack_into("<q", shared, 0, step + 1)
        if (step + 1) % flush_every == 0:
            store.flush()
            struct.pack_into("<q", shared, 8, step + 1)
    store.close()
    struct.pack_into("<q", shared, 8, total)


def writer(iteration: str, count: int, start_at: float) -> None:
    import diary

    store = diary.open()
    _wait_until(start_at)
    for step in range(count):
        store.log_metric(iteration, "x", float(step), step)
    store.close()
    print(json.dumps({"iteration": iteration, "logged": count}))


def reader(iterations: str, stop_file: str, start_at: float) -> None:
    import diary

    ids = iterations.split(",")
    seen = dict.fromkeys(ids, 0)
    reads = checked = 0
    store = diary.open()
    _wait_until(start_at)
    while not Path(stop_file).exists():
        for iteration in ids:
            points = store.metric_history(iteration, "x")
            steps = [point.step for point in points]
            if steps != list(range(len(steps))):
                raise AssertionError(f"{iteration}: history is not a prefix: {steps[:20]}...")
            if any(point.value != float(point.step) for point in points):
                raise AssertionError(f"{iteration}: a value differs from its step")
            if len(steps) < seen[iteration]:
                raise AssertionError(f"{iteration}: history shrank to {len(steps)}")
            seen[iteration] = len(steps)
            reads += 1
            checked += len(steps)
    store.close()
    print(json.dumps({"reads": reads, "checked": checked, "last": seen}))


def first_use(name: str, start_at: float) -> None:
    _wait_until(start_at)
    import diary

    with diary.open() as store:
        project = store.create_project(name)
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False)
        for step in range(20):
            store.log_metric(iteration.id, "x", float(step), step)
    print(json.dumps({"project": str(project.id), "iteration": str(iteration.id)}))


def main() -> None:
    mode, args = sys.argv[1], sys.argv[2:]
    if mode == "cli":
        cli(args)
    elif mode == "log":
        log(args[0], int(args[1]), args[2], int(args[3]))
    elif mode == "writer":
        writer(args[0], int(args[1]), float(args[2]))
    elif mode == "reader":
        reader(args[0], args[1], float(args[2]))
    elif mode == "first-use":
        first_use(args[0], float(args[1]))
    else:
        raise SystemExit(f"unknown mode {mode}")


if __name__ == "__main__":
    main()
