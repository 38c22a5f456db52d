"""metric_history's column-wise MetricHistory and the one-statement durable write."""

from __future__ import annotations

from pathlib import Path

import pytest

import diary
from diary.errors import NotFound
from diary.records import MetricHistory, MetricPoint


def test_history_behaves_as_a_list_of_points(tmp_path: Path) -> None:
    with diary.open(tmp_path / "h.db") as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        for step in range(5):
            store.log_metric(iteration, "loss", step / 10, step)
        history = store.metric_history(iteration, "loss")
    assert isinstance(history, MetricHistory)
    assert len(history) == 5
    assert history.steps == [0, 1, 2, 3, 4]
    assert history.values == [0.0, 0.1, 0.2, 0.3, 0.4]
    assert history[1] == MetricPoint(1, 0.1, history.timestamps_us[1])
    assert history[-1].step == 4
    assert [p.step for p in history[1:3]] == [1, 2]
    assert history == list(history)
    assert list(history) == [
        MetricPoint(*row)
        for row in zip(*(history.steps, history.values, history.timestamps_us), strict=True)
    ]
    assert history != [history[0]]
    assert "MetricHistory([MetricPoint(step=0" in repr(history)
    assert MetricHistory() == []
    assert MetricHistory([MetricPoint(0, 1.0, 5)]) == [MetricPoint(0, 1.0, 5)]


def test_durable_point_is_written_and_a_deleted_iteration_refused(tmp_path: Path) -> None:
    with diary.open(tmp_path / "d.db", buffered=False) as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        assert store.log_metric(iteration, "loss", 0.5) == 0
        assert store.log_metric(iteration, "loss", 0.25) == 1
        points = store.metric_history(iteration, "loss")
        assert [(p.step, p.value) for p in points] == [(0, 0.5), (1, 0.25)]
        store.delete_iteration(iteration)
        with pytest.raises(NotFound):
            store.log_metric(iteration, "loss", 0.1, 5)


@pytest.mark.parametrize("metric_writer", ["arrow", "appender"])
@pytest.mark.parametrize("repeats", [False, True])
def test_history_order_is_step_then_timestamp_then_value(
    tmp_path: Path, metric_writer: str, repeats: bool
) -> None:
    """Steps logged out of order, some repeated with equal or different times and values:
    the history is sorted by (step, timestamp, value) on every read path."""
    import random
    from datetime import UTC, datetime, timedelta

    rng = random.Random(7)
    base = datetime(2026, 1, 1, tzinfo=UTC)
    points = []
    for index in range(600):
        step = rng.randrange(40) if repeats else index
        stamp = base + timedelta(seconds=rng.randrange(3))
        points.append((step, float(rng.randrange(4)) if repeats else rng.random(), stamp))
    rng.shuffle(points)
    store = diary.Store(
        diary.config.load_settings(db_file=tmp_path / "o.db"), metric_writer=metric_writer
    )  # type: ignore[arg-type]
    with store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        for step, value, stamp in points:
            store.log_metric(iteration, "m", value, step, timestamp=stamp)
        history = store.metric_history(iteration, "m")
    expected = sorted(
        (step, value, round(stamp.timestamp() * 1_000_000)) for step, value, stamp in points
    )
    assert sorted(expected, key=lambda p: (p[0], p[2], p[1])) == [tuple(p) for p in history]
