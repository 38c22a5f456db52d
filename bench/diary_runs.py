"""diary's run-level paths: creating iterations, searching them, and the read commands.

* ``iterations``: 1,000 ``with store.iteration(...)`` blocks logging a param and a metric,
  against plain inserts of the same rows (two commits each) in one DuckDB connection.
* ``search_10k`` / ``search_100k``: a filter on one parameter and one metric over a sweep of
  10,000 / 100,000 iterations (20 params, 10 metric keys of 100 points each), loaded with the
  same bulk SQL as ``make bench-peers`` (:mod:`bench.peers.sweep`).
* ``cli_list`` / ``cli_compare`` / ``cli_plot``: whole processes of ``diary iteration list``
  with 3 metric columns over 10,000 iterations, ``diary compare`` of 10 and a terminal plot of
  100,000 points.
"""

from __future__ import annotations

import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import uuid4

from bench.harness import SECONDS, Context, Measurement, Target, figure, time_command
from bench.peers.sweep import Sweep, fill_diary

BIN = Path(sys.executable).parent
SEARCH = "params.lr = 0.005 and metrics.loss < 0.5"


def _experiment(path: Path) -> tuple[Any, Any]:
    import diary

    store = diary.open(path)
    project = store.get_or_create_project("bench")
    return store, store.get_or_create_experiment(project.id, "bench")


@figure(
    "iterations",
    "create 1,000 iterations (`with store.iteration()`, one param, one metric)",
    area="diary",
    unit=SECONDS,
    target=Target(">= 0.5 of raw inserts", min_ratio=0.5),
)
def iterations(ctx: Context) -> Measurement:
    n = ctx.size(full=1000, quick=300, tiny=20)

    def project() -> float:
        path = ctx.path("diary.duckdb")
        store, experiment = _experiment(path)
        try:
            started = time.perf_counter()
            for i in range(n):
                with store.iteration(experiment.id) as it:
                    it.log_param("lr", i * 0.001)
                    it.log_metric("loss", 1.0 / (i + 1))
            return time.perf_counter() - started
        finally:
            store.close()

    def baseline() -> float:
        """The same rows by hand: the iteration (committed), then its param, point and end."""
        import duckdb

        path = ctx.path("raw.duckdb")
        store, experiment = _experiment(path)
        store.close()
        conn = duckdb.connect(str(path))
        try:
            started = time.perf_counter()
            for i in range(n):
                key, now = uuid4(), datetime.now(UTC).replace(tzinfo=None)
                conn.execute("BEGIN")
                conn.execute(
                    "INSERT INTO iteration (id, experiment_id, status, created_at) "
                    "VALUES (?, ?, 'running', ?)",
                    [key, experiment.id, now],
                )
                conn.execute("COMMIT")
                conn.execute("BEGIN")
                conn.execute(
                    "INSERT INTO parameter VALUES (?, 'lr', ?, ?)", [key, str(i * 0.001), now]
                )
                conn.execute(
                    "INSERT INTO metric VALUES (?, 'loss', 0, ?, ?)", [key, 1.0 / (i + 1), now]
                )
                conn.execute(
                    "UPDATE iteration SET status = 'succeeded', ended_at = ? WHERE id = ?",
                    [now, key],
                )
                conn.execute("COMMIT")
            return time.perf_counter() - started
        finally:
            conn.close()

    return ctx.compare(
        project,
        baseline,
        baseline_name="raw DuckDB inserts, two commits per iteration",
        size={"iterations": n},
    )


def _sweep(ctx: Context, runs: int) -> Path:
    """A diary file holding the sweep (built once per run of the figures, not timed)."""
    import duckdb

    path = ctx.workdir / f"sweep-{runs}.duckdb"  # shared by the figures of one run
    if not path.exists():
        store, experiment = _experiment(path)
        store.close()
        with duckdb.connect(str(path)) as conn:
            fill_diary(conn, str(experiment.id), Sweep(runs))
    return path


def _search(ctx: Context, runs: int) -> Measurement:
    import diary
    from diary.query import search_runs

    path = _sweep(ctx, runs)
    store = diary.open(path)
    found: list[int] = []
    try:
        search_runs(store, SEARCH)  # the file's first read (DuckDB loads its catalog)

        def project() -> float:
            started = time.perf_counter()
            found.append(len(search_runs(store, SEARCH)))
            return time.perf_counter() - started

        measured = ctx.compare(project, None, size={"iterations": runs, "points": runs * 1000})
    finally:
        store.close()
    measured.checks["rows found"] = bool(found) and found[0] > 0
    return measured


@figure(
    "search_10k",
    "search: `params.lr = 0.005 and metrics.loss < 0.5` over 10,000 iterations",
    area="diary",
    unit=SECONDS,
    target=Target("< 50 ms", max_value=0.05),
)
def search_10k(ctx: Context) -> Measurement:
    return _search(ctx, ctx.size(full=10_000, quick=10_000, tiny=200))


@figure(
    "search_100k",
    "search: the same filter over 100,000 iterations (100 million points)",
    area="diary",
    unit=SECONDS,
    target=Target("< 10x the 10,000 case (0.5 s)", max_value=0.5),
)
def search_100k(ctx: Context) -> Measurement:
    return _search(ctx, ctx.size(full=100_000, quick=20_000, tiny=400))


def _cli(ctx: Context, args: list[str], runs: int) -> Measurement:
    path = _sweep(ctx, runs)
    command = [str(BIN / "diary"), "--db", str(path), *args]
    time_command(command)  # bytecode compiled, file cached: as a user sees it
    return _against_python(ctx, command, {"iterations": runs})


def _against_python(ctx: Context, command: list[str], size: dict[str, int]) -> Measurement:
    """A whole command beside ``python -c pass`` (for scale: a loaded machine slows both)."""
    return ctx.compare(
        lambda: time_command(command),
        lambda: time_command([sys.executable, "-c", "pass"]),
        baseline_name="python -c pass",
        size=size,
    )


@figure(
    "cli_list",
    "`diary iteration list bench --columns` with 3 metric columns over 10,000 iterations",
    area="cli",
    unit=SECONDS,
    target=Target("< 0.5 s wall", max_value=0.5),
)
def cli_list(ctx: Context) -> Measurement:
    runs = ctx.size(full=10_000, quick=10_000, tiny=200)
    columns = "metrics.loss,metrics.m1,metrics.m2"
    return _cli(ctx, ["iteration", "list", "bench", "--columns", columns], runs)


@figure(
    "cli_compare",
    "`diary compare` of 10 iterations",
    area="cli",
    unit=SECONDS,
    target=Target("< 0.3 s wall", max_value=0.3),
)
def cli_compare(ctx: Context) -> Measurement:
    import diary

    runs = ctx.size(full=10_000, quick=10_000, tiny=200)
    path = _sweep(ctx, runs)
    with diary.open(path) as store:
        experiment = store.find_experiment("bench")
        ids = [str(i.id) for i in store.list_iterations(experiment.id)[:10]]
    return _cli(ctx, ["compare", *ids], runs)


@figure(
    "cli_plot",
    "`diary metric plot` of 100,000 points in the terminal",
    area="cli",
    unit=SECONDS,
    target=Target("< 0.5 s wall", max_value=0.5),
)
def cli_plot(ctx: Context) -> Measurement:
    import diary

    n = ctx.size(full=100_000, quick=100_000, tiny=1_000)
    path = ctx.workdir / f"plot-{n}.duckdb"
    if not path.exists():
        with diary.open(path) as store:
            project = store.get_or_create_project("bench")
            experiment = store.get_or_create_experiment(project.id, "bench")
            iteration = store.create_iteration(experiment.id, snapshot=False)
            store.log_points(iteration.id, [("loss", 1.0 / (s + 1), s) for s in range(n)])
    with diary.open(path) as store:
        iteration_id = str(store.list_iterations(store.find_experiment("bench").id)[0].id)
    command = [str(BIN / "diary"), "--db", str(path), "metric", "plot", iteration_id, "loss"]
    time_command(command)
    return _against_python(ctx, command, {"points": n})
