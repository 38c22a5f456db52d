"""``metric_summary`` always equals the summary of the stored points, whatever writes them.

Every write path (the Arrow, Appender, small-batch and single-point paths on DuckDB, SQLAlchemy
Core on SQLite), deletes, points arriving out of order, equal steps and NaN: after each run of
operations the maintained rows are compared with the summaries computed from every point.
The upgrade to 0005 fills the table from the points stored before it.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diary
from diary import models as m
from diary.errors import StorageError
from diary.query.compile import computed_metric_summaries
from diary.schema import schema_environment
from diary.store import Store
from storage_core.database import create_duckdb_engine, create_sqlite_engine
from storage_core.schema import upgrade

Row = tuple[str, str, float, int, float, float, int]


def _same(value: float) -> Any:
    return "nan" if isinstance(value, float) and math.isnan(value) else value


def _rows(conn: sa.Connection, source: Any) -> list[tuple[Any, ...]]:
    columns = [source.c[name] for name in ("iteration_id", "key", "last", "step", "min", "max")]
    rows = conn.execute(sa.select(*columns, source.c["count"])).all()
    return sorted((str(row[0]), row[1], *(_same(v) for v in row[2:6]), int(row[6])) for row in rows)


def maintained_and_computed(store: Store) -> tuple[list[Any], list[Any]]:
    """The rows of ``metric_summary`` and the summaries computed from the points."""
    store.flush()
    with store.reading() as conn:
        maintained = _rows(conn, m.metric_summary)
        computed = _rows(conn, computed_metric_summaries(conn.dialect.name))
    return maintained, computed


def _open(
    tmp_path: Path, engine: str, writer: str, buffered: bool = True, url: str | None = None
) -> Store:
    if engine == "sqlite":
        return diary.open(url=f"sqlite:///{tmp_path / 's.sqlite'}", buffered=buffered)
    if engine == "postgresql":
        return diary.open(url=url, buffered=buffered, metric_writer=writer)
    return diary.open(tmp_path / "d.duckdb", buffered=buffered, metric_writer=writer)


WRITERS = [
    ("duckdb", "arrow"),
    ("duckdb", "appender"),
    ("duckdb", "core"),
    ("sqlite", "core"),
    ("postgresql", "core"),
    ("postgresql", "copy"),
]

# An operation: (kind, iteration index, key, values, step)
# Mostly a few values, so that equal steps and equal values are common.
_values = st.one_of(
    st.sampled_from([0.0, -0.0, 1.0, 2.0, -1.0, math.inf]),
    st.floats(allow_nan=False, allow_infinity=True, width=32),
)
_operation = st.tuples(
    st.sampled_from(["point", "points", "batch", "delete_key", "delete_iteration"]),
    st.integers(0, 2),
    st.sampled_from(["loss", "acc"]),
    st.lists(_values, min_size=1, max_size=40),
    st.one_of(st.none(), st.integers(0, 5)),
)


def _apply(store: Store, iterations: list[UUID], operation: tuple[Any, ...], nan: bool) -> None:
    kind, index, key, values, step = operation
    iteration = iterations[index]
    if nan and len(values) > 2:
        values = [*values[:-1], math.nan]  # NaN only where the engine stores it
    if kind == "point":
        store.log_metric(iteration, key, values[0], step)
    elif kind == "points":
        for value in values:
            store.log_metric(iteration, key, value, step)
    elif kind == "batch":
        # One timestamp for the batch: equal steps tie on time, and the largest value is last.
        points = [
            (key, value, None if step is None else step + i % 3) for i, value in enumerate(values)
        ]
        store.log_points(iteration, points, timestamp=datetime(2026, 1, 1, tzinfo=UTC))
    elif kind == "delete_key":
        store.delete_metric(iteration, key)
    else:
        experiment = store.get_iteration(iteration).experiment_id
        store.delete_iteration(iteration)
        iterations[index] = store.create_iteration(experiment, snapshot=False).id


@pytest.mark.parametrize(("engine", "writer"), WRITERS)
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "durable"])
@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(operations=st.lists(_operation, min_size=1, max_size=12))
def test_the_summary_rows_equal_the_points_after_any_writes(
    tmp_path_factory: pytest.TempPathFactory,
    request: pytest.FixtureRequest,
    engine: str,
    writer: str,
    buffered: bool,
    operations: list[tuple[Any, ...]],
) -> None:
    folder = tmp_path_factory.mktemp("summary")
    # One PostgreSQL database for every example: the comparison covers whatever is stored.
    url = request.getfixturevalue("postgres_url") if engine == "postgresql" else None
    with _open(folder, engine, writer, buffered, url) as store:
        project = store.get_or_create_project("p")
        experiment = store.get_or_create_experiment(project.id, "e")
        iterations = [store.create_iteration(experiment.id, snapshot=False).id for _ in range(3)]
        for operation in operations:
            _apply(store, iterations, operation, nan=engine == "duckdb")
        maintained, computed = maintained_and_computed(store)
    assert maintained == computed


@pytest.mark.parametrize(("engine", "writer"), WRITERS)
@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "durable"])
def test_on_an_equal_step_the_later_point_is_last(
    tmp_path: Path, request: pytest.FixtureRequest, engine: str, writer: str, buffered: bool
) -> None:
    url = request.getfixturevalue("postgres_url") if engine == "postgresql" else None
    with _open(tmp_path, engine, writer, buffered, url) as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        store.log_metric(iteration, "loss", 5.0, step=1)
        store.flush()
        store.log_metric(iteration, "loss", 2.0, step=1)
        store.log_metric(iteration, "loss", 9.0, step=0)
        maintained, computed = maintained_and_computed(store)
    assert maintained == computed
    assert maintained[0][1:] == ("loss", 2.0, 1, 2.0, 9.0, 3)


def test_a_large_batch_takes_the_arrow_path_and_stays_exact(tmp_path: Path) -> None:
    with _open(tmp_path, "duckdb", "arrow") as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        first = store.create_iteration(experiment.id, snapshot=False).id
        second = store.create_iteration(experiment.id, snapshot=False).id
        store.log_points(first, [("loss", float(i % 7), i % 50) for i in range(5000)])
        store.log_points(second, [("loss", 1.0, 3), ("acc", math.nan, 0)])
        store.log_points(first, [("loss", -1.0, 10)] * 40)  # an old step: the last stays
        maintained, computed = maintained_and_computed(store)
    assert maintained == computed
    summary = {row[:2]: row[2:] for row in maintained}
    # Step 49 holds i = 49, 99, ... (values 0, 1, 2, ...): the largest of the tie is last.
    assert summary[(str(first), "loss")] == (6.0, 49, -1.0, 6.0, 5040)
    assert summary[(str(second), "acc")] == ("nan", 0, "nan", "nan", 1)


def test_a_new_process_continues_the_steps_from_the_summary(tmp_path: Path) -> None:
    with _open(tmp_path, "duckdb", "arrow") as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        store.log_metric(iteration, "loss", 1.0, step=41)
    with _open(tmp_path, "duckdb", "arrow") as store:
        assert store.log_metric(iteration, "loss", 0.5) == 42
        store.delete_metric(iteration, "loss")
    with _open(tmp_path, "duckdb", "arrow") as store:
        assert store.log_metric(iteration, "loss", 0.5) == 0
        maintained, computed = maintained_and_computed(store)
    assert maintained == computed


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite", "postgresql"])
def test_the_upgrade_fills_the_summaries_from_stored_points(
    tmp_path: Path, request: pytest.FixtureRequest, dialect: str
) -> None:
    url = None
    if dialect == "duckdb":
        engine = create_duckdb_engine(tmp_path / "old.duckdb")
    elif dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.sqlite'}"
        engine = create_sqlite_engine(tmp_path / "old.sqlite")
    else:
        url = request.getfixturevalue("postgres_url")
        engine = sa.create_engine(url)
    env = schema_environment()
    upgrade(engine, env, "0004_environment")
    project, experiment = uuid4(), uuid4()
    iterations = [uuid4(), uuid4()]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    points = [
        (iterations[0], "loss", 0, 3.0, now),
        (iterations[0], "loss", 2, 1.0, now),
        (iterations[0], "loss", 2, 5.0, now),  # a tie: the larger value is last
        (iterations[0], "loss", 1, -2.0, now + timedelta(seconds=5)),
        (iterations[0], "acc", 0, 0.5, now),
        (iterations[1], "loss", 7, 9.0, now),
        (iterations[1], "loss", 7, 8.0, now + timedelta(seconds=1)),  # later on a tie: last
    ]
    if dialect == "duckdb":
        points.append((iterations[1], "acc", 0, math.nan, now))
    with engine.begin() as conn:
        conn.execute(sa.insert(m.project).values(id=project, name="p", created_at=now))
        conn.execute(
            sa.insert(m.experiment).values(
                id=experiment, project_id=project, name="e", created_at=now
            )
        )
        for key in iterations:
            conn.execute(
                sa.insert(m.iteration).values(id=key, experiment_id=experiment, created_at=now)
            )
        names = ("iteration_id", "key", "step", "value", "timestamp")
        conn.execute(sa.insert(m.metric), [dict(zip(names, p, strict=True)) for p in points])
    upgrade(engine, env)
    engine.dispose()
    with diary.open(url=url) if url else diary.open(tmp_path / "old.duckdb") as store:
        maintained, computed = maintained_and_computed(store)
        assert maintained == computed
        lasts = {(row[0], row[1]): row[2] for row in maintained}
        assert lasts[(str(iterations[0]), "loss")] == 5.0
        assert lasts[(str(iterations[1]), "loss")] == 8.0
        # Writes after the upgrade merge into the filled rows.
        store.log_metric(iterations[0], "loss", 0.25)
        assert store.log_metric(iterations[0], "loss", 0.125) == 4
        maintained, computed = maintained_and_computed(store)
    assert maintained == computed


def test_postgresql_takes_the_copy_path_by_default(postgres_url: str) -> None:
    from diary.store.writers import choose_writer

    assert choose_writer("auto", "postgresql") == "copy"
    with diary.open(url=postgres_url, buffered=True) as store:
        assert store.metric_writer == "copy"
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        points = [("loss", 1.0 / (step + 1), step) for step in range(5000)]
        store.log_points(iteration, points)
        store.flush()
        history = store.metric_history(iteration, "loss")
        assert list(history.steps) == list(range(5000))
        maintained, computed = maintained_and_computed(store)
    assert maintained == computed
    with pytest.raises(StorageError, match="copy metric writer needs PostgreSQL"):
        choose_writer("copy", "sqlite")
