"""diary's metric paths against raw DuckDB: batch, buffered and durable logging, history reads,
bytes on disk, first use, and several processes on one file."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

from bench.harness import (
    BYTES_PER_POINT,
    POINTS_PER_SECOND,
    SECONDS,
    Context,
    Measurement,
    Target,
    figure,
    run_child,
    subprocess_env,
)

METRIC_DDL = (
    "CREATE TABLE metric (iteration_id UUID NOT NULL, key VARCHAR NOT NULL, "
    "step BIGINT NOT NULL, value DOUBLE NOT NULL, timestamp TIMESTAMP NOT NULL)"
)
KEYS = tuple(f"k{i}" for i in range(10))


def _store(path: Path, *, buffered: bool = True) -> tuple[Any, UUID]:
    """A new diary file with one project, experiment and iteration (not timed)."""
    import diary

    store = diary.open(path, buffered=buffered)
    project = store.get_or_create_project("bench")
    experiment = store.get_or_create_experiment(project.id, "bench")
    iteration = store.create_iteration(experiment.id, snapshot=False)
    return store, iteration.id


def _raw_table(path: Path) -> Any:
    """A raw DuckDB connection to a new file with a plain metric table (not timed)."""
    import duckdb

    conn = duckdb.connect(str(path))
    conn.execute(METRIC_DDL)
    return conn


def _appender_run(ctx: Context, n: int) -> float:
    """The raw baseline: n points of 10 keys through DuckDB's Appender, one commit."""
    conn = _raw_table(ctx.path("raw.duckdb"))
    iteration = uuid4()
    steps = n // len(KEYS)
    values = [random.random() for _ in range(n)]
    try:
        started = time.perf_counter()
        rows: list[tuple[Any, ...]] = []
        for step in range(steps):
            now = datetime.now(UTC).replace(tzinfo=None)
            base = step * len(KEYS)
            rows.extend((iteration, key, step, values[base + i], now) for i, key in enumerate(KEYS))
        conn.begin()
        appender = conn.appender("metric", columns=None)
        appender.append_rows(rows)
        appender.flush()
        conn.commit()
        elapsed = time.perf_counter() - started
        assert conn.execute("SELECT count(*) FROM metric").fetchone() == (steps * len(KEYS),)
    finally:
        conn.close()
    return elapsed


@figure(
    "batch_logging",
    "batch logging: 100,000 metric points through the public API (log_metrics, 10 keys a step)",
    area="diary",
    unit=POINTS_PER_SECOND,
    target=Target(">= 0.5 of baseline throughput", min_ratio=0.5),
)
def batch_logging(ctx: Context) -> Measurement:
    n = ctx.size(full=100_000, quick=50_000, tiny=1_000)
    steps = n // len(KEYS)
    values = [random.random() for _ in range(n)]

    def project() -> float:
        store, iteration = _store(ctx.path("diary.duckdb"))
        try:
            started = time.perf_counter()
            for step in range(steps):
                base = step * len(KEYS)
                store.log_metrics(
                    iteration, {key: values[base + i] for i, key in enumerate(KEYS)}, step
                )
            store.flush()
            return time.perf_counter() - started
        finally:
            store.close()

    return ctx.compare(
        project,
        lambda: _appender_run(ctx, n),
        baseline_name="DuckDB Appender, plain table, one commit",
        work=steps * len(KEYS),
        size={"points": steps * len(KEYS), "keys": len(KEYS)},
    )


@figure(
    "buffered_log_metric",
    "buffered log_metric: 100,000 single calls, then flush",
    area="diary",
    unit=POINTS_PER_SECOND,
    target=Target(">= 100,000 points/s", min_value=100_000),
)
def buffered_log_metric(ctx: Context) -> Measurement:
    n = ctx.size(full=100_000, quick=50_000, tiny=1_000)
    values = [random.random() for _ in range(n)]

    def project() -> float:
        store, iteration = _store(ctx.path("diary.duckdb"))
        try:
            started = time.perf_counter()
            log = store.log_metric
            for value in values:
                log(iteration, "loss", value)
            store.flush()
            return time.perf_counter() - started
        finally:
            store.close()

    return ctx.compare(
        project,
        lambda: _appender_run(ctx, n),
        baseline_name="DuckDB Appender, plain table, one commit",
        work=n,
        size={"points": n},
    )


@figure(
    "durable_log_metric",
    "durable log_metric(buffered=False): 2,000 calls, each committed before it returns",
    area="diary",
    unit=POINTS_PER_SECOND,
    target=Target(">= 0.5", min_ratio=0.5),
)
def durable_log_metric(ctx: Context) -> Measurement:
    from storage_core.database.locks import acquire_database_lock, release_database_lock

    n = ctx.size(full=2_000, quick=1_000, tiny=50)

    def project() -> float:
        store, iteration = _store(ctx.path("diary.duckdb"), buffered=False)
        try:
            started = time.perf_counter()
            for step in range(n):
                store.log_metric(iteration, "loss", 0.5, step)
            return time.perf_counter() - started
        finally:
            store.close()

    def baseline() -> float:
        conn = _raw_table(ctx.path("raw.duckdb"))
        iteration = uuid4()
        try:
            started = time.perf_counter()
            for step in range(n):
                conn.execute(
                    "INSERT INTO metric VALUES (?, ?, ?, ?, ?)",
                    [iteration, "loss", step, 0.5, datetime.now(UTC).replace(tzinfo=None)],
                )
            return time.perf_counter() - started
        finally:
            conn.close()

    measured = ctx.compare(
        project,
        baseline,
        baseline_name="raw DuckDB single-row INSERT, autocommit, one open connection",
        work=n,
        size={"calls": n},
    )
    # The cost of the inter-process lock alone: an uncontended take and release of
    # <db>.lock, which is what a unit of work pays when it has to open the file.
    lock_file = ctx.path("lock-probe.duckdb")
    cycles = 200
    started = time.perf_counter()
    for _ in range(cycles):
        acquire_database_lock(lock_file, 5.0)
        release_database_lock(lock_file)
    per_cycle = (time.perf_counter() - started) / cycles
    measured.extra["lock_take_release_s"] = per_cycle
    measured.notes.append(
        f"taking and releasing <db>.lock uncontended costs {per_cycle * 1e6:.0f} µs"
    )
    return measured


@figure(
    "metric_history",
    "metric_history of a 100,000-point series (the public call, a MetricHistory)",
    area="diary",
    unit=SECONDS,
    target=Target(">= 0.5 and < 0.1 s", min_ratio=0.5, max_value=0.1),
)
def metric_history(ctx: Context) -> Measurement:
    import shutil

    import duckdb

    n = ctx.size(full=100_000, quick=100_000, tiny=1_000)
    path = ctx.path("diary.duckdb")
    store, iteration = _store(path)
    try:
        store.log_metrics(iteration, {"other": 1.0})
        for step in range(n):
            store.log_metric(iteration, "loss", random.random(), step)
        store.flush()
    finally:
        store.close()
    # The baseline reads a copy of the same file (one process cannot hold one DuckDB file
    # through two differently configured connections).
    raw_path = ctx.path("raw.duckdb")
    shutil.copyfile(path, raw_path)
    raw = duckdb.connect(str(raw_path))

    import diary

    reader = diary.open(path)
    try:

        def project() -> float:
            started = time.perf_counter()
            points = reader.metric_history(iteration, "loss")
            elapsed = time.perf_counter() - started
            assert len(points) == n
            return elapsed

        def baseline() -> float:
            started = time.perf_counter()
            # .sql(): DuckDB's fastest route to Arrow (.execute() copies the rows twice).
            table: Any = raw.sql(
                "SELECT step, value, timestamp FROM metric WHERE iteration_id = ? AND key = ? "
                "ORDER BY step",
                params=[iteration, "loss"],
            ).to_arrow_table()
            elapsed = time.perf_counter() - started
            assert table.num_rows == n
            return elapsed

        measured = ctx.compare(
            project,
            baseline,
            baseline_name="raw DuckDB query fetched to Arrow, open connection",
            size={"points": n},
        )
        started = time.perf_counter()
        reader.metric_history_arrow(iteration, "loss")
        measured.extra["metric_history_arrow_s"] = time.perf_counter() - started
    finally:
        reader.close()
        raw.close()
    return measured


@figure(
    "bytes_per_point",
    "bytes on disk per metric point after 1,000,000 points (10 iterations x 2 keys)",
    area="diary",
    unit=BYTES_PER_POINT,
    target=Target("<= 40 bytes", max_value=40.000001),
)
def bytes_per_point(ctx: Context) -> Measurement:
    import diary

    n = ctx.size(full=1_000_000, quick=200_000, tiny=2_000)
    iterations, keys = 10, ("loss", "acc")
    steps = n // (iterations * len(keys))
    rng = random.Random(6)

    def project() -> float:
        path = ctx.path("diary.duckdb")
        with diary.open(path) as store:
            project = store.get_or_create_project("bench")
            experiment = store.get_or_create_experiment(project.id, "bench")
            for _ in range(iterations):
                iteration = store.create_iteration(experiment.id, snapshot=False).id
                for step in range(steps):
                    store.log_metrics(iteration, {k: rng.random() for k in keys}, step)
        size = path.stat().st_size
        wal = Path(f"{path}.wal")
        if wal.exists():
            size += wal.stat().st_size
        return size / (steps * iterations * len(keys))

    repeats = 1 if ctx.mode == "tiny" else 3
    return ctx.compare(
        project,
        None,
        size={"points": steps * iterations * len(keys)},
        repeats=repeats,
        warmup=False,
    )


@figure(
    "first_use",
    "first use in process: diary.open(new file) + create_project + create_experiment",
    area="diary",
    unit=SECONDS,
    target=Target("< 0.5 s", max_value=0.5),
)
def first_use(ctx: Context) -> Measurement:
    imports: list[float] = []

    def project() -> float:
        out = json.loads(run_child(["first-use", str(ctx.path("diary.duckdb"))]))
        imports.append(out["import_s"])
        return float(out["first_use_s"])

    measured = ctx.compare(project, None)
    measured.extra["import_diary_s"] = imports
    measured.notes.append(
        "a fresh process each run; timed from after `import diary` to the experiment's return"
    )
    return measured


@figure(
    "four_processes",
    "4 processes logging 25,000 points each to one DuckDB file (flush every 5,000 points)",
    area="diary",
    unit=POINTS_PER_SECOND,
    target=Target("all points present; ratio reported"),
)
def four_processes(ctx: Context) -> Measurement:
    import diary

    total = ctx.size(full=100_000, quick=20_000, tiny=2_000)
    workers = 4
    per_worker = total // workers
    env = subprocess_env({"DEARDIARY_FLUSH_SIZE": "5000", "DEARDIARY_FLUSH_INTERVAL": "1"})
    counts_ok: list[bool] = []

    def run(processes: int) -> float:
        path = ctx.path("diary.duckdb")
        with diary.open(path) as store:
            project = store.get_or_create_project("bench")
            experiment = store.get_or_create_experiment(project.id, "bench")
            ids = [
                str(store.create_iteration(experiment.id, snapshot=False).id)
                for _ in range(processes)
            ]
        points = total // processes
        children = [
            subprocess.Popen(
                [sys.executable, "-m", "bench.child", "log", str(path), ident, str(points)],
                env=env,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            for ident in ids
        ]
        try:
            for child in children:
                assert child.stdout is not None
                if child.stdout.readline().strip() != "ready":
                    raise RuntimeError("a logging child did not start")
            started = time.perf_counter()
            for child in children:
                assert child.stdin is not None
                child.stdin.write("go\n")
                child.stdin.flush()
            for child in children:
                assert child.stdout is not None
                if child.stdout.readline().strip() != "done":
                    raise RuntimeError("a logging child failed")
            elapsed = time.perf_counter() - started
        finally:
            for child in children:
                child.wait(timeout=120)
        with diary.open(path) as store:
            present = sum(len(store.metric_history(ident, "loss")) for ident in ids)
        counts_ok.append(present == points * processes)
        return elapsed

    measured = ctx.compare(
        lambda: run(workers),
        lambda: run(1),
        baseline_name="one process logging all the points",
        work=per_worker * workers,
        size={"processes": workers, "points_each": per_worker},
        warmup=False,
    )
    measured.checks["all points present"] = all(counts_ok)
    measured.notes.append(
        "timed from a start signal (children already imported) until every child has closed "
        "its store; DEARDIARY_FLUSH_SIZE=5000 so the processes take turns on the file"
    )
    return measured
