"""Reading back: histories as points, Arrow and pandas; keys; latest values; search."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pyarrow as pa
import pytest

from diary.errors import InvalidValue, NotFound, StorageError
from diary.records import MetricPoint
from diary.store import Store


def test_history_forms_agree(any_store: Store) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    iteration = any_store.create_iteration(experiment.id, snapshot=False).id
    moment = datetime(2026, 3, 4, 5, 6, 7, 123456, tzinfo=UTC)
    for step in range(5):
        any_store.log_metric(iteration, "loss", step * 1.5, timestamp=moment)
    points = any_store.metric_history(iteration, "loss")
    assert points[1] == MetricPoint.at(1, 1.5, moment)
    assert points[1].timestamp == moment
    assert points[1].to_dict() == {
        "step": 1,
        "value": 1.5,
        "timestamp": "2026-03-04T05:06:07.123456+00:00",
    }

    table = any_store.metric_history_arrow(iteration, "loss")
    assert table.schema == pa.schema(
        [("step", pa.int64()), ("value", pa.float64()), ("timestamp", pa.timestamp("us", "UTC"))]
    )
    assert table.column("step").to_pylist() == [0, 1, 2, 3, 4]
    assert table.column("timestamp").to_pylist()[0] == moment

    frame = any_store.metric_history_pandas(iteration, "loss")
    assert list(frame.columns) == ["step", "value", "timestamp"]
    assert frame["value"].tolist() == [0.0, 1.5, 3.0, 4.5, 6.0]
    assert str(frame["timestamp"].dt.tz) == "UTC"

    assert any_store.metric_history(iteration, "missing") == []
    assert any_store.metric_history_arrow(iteration, "missing").num_rows == 0
    with pytest.raises(NotFound):
        any_store.metric_history("00000000-0000-0000-0000-000000000000", "loss")


def test_latest_metrics_and_keys(any_store: Store) -> None:
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    iteration = any_store.create_iteration(experiment.id, snapshot=False).id
    any_store.log_metric(iteration, "loss", 3.0, step=5)
    any_store.log_metric(iteration, "loss", 1.0, step=9)
    any_store.log_metric(iteration, "loss", 2.0, step=7)
    any_store.log_metric(iteration, "acc", 0.7)
    latest = any_store.latest_metrics(iteration)
    assert list(latest) == ["acc", "loss"]
    assert (latest["loss"].step, latest["loss"].value) == (9, 1.0)
    assert any_store.metric_keys(iteration) == ["acc", "loss"]


@pytest.fixture
def sweep(any_store: Store) -> tuple[UUID, list[UUID]]:
    """Four iterations with different learning rates, optimisers and final losses."""
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "sweep")
    ids = []
    for lr, optimiser, losses in [
        ("0.1", "sgd", [0.9, 0.5]),
        ("0.01", "adam", [0.8, 0.2]),
        ("1e-3", "adam", [0.7, 0.4]),
        ("10", "sgd", []),
    ]:
        with any_store.iteration(experiment.id, snapshot=False) as it:
            it.log_params({"lr": lr, "optimiser": optimiser})
            for loss in losses:
                it.log_metric("loss", loss)
        ids.append(it.id)
    return experiment.id, ids


def test_search_orders_by_latest_metric(any_store: Store, sweep: tuple[UUID, list[UUID]]) -> None:
    experiment, ids = sweep
    found = any_store.search_iterations(experiment, order_by="metric.loss")
    assert [r.iteration.id for r in found] == [ids[1], ids[2], ids[0], ids[3]]
    assert [r.metrics for r in found] == [{"loss": 0.2}, {"loss": 0.4}, {"loss": 0.5}, {}]
    best = any_store.search_iterations(experiment, order_by="metric.loss", limit=1)
    assert [r.iteration.id for r in best] == [ids[1]]
    worst_first = any_store.search_iterations(experiment, order_by="metric.loss", descending=True)
    assert [r.iteration.id for r in worst_first] == [ids[0], ids[2], ids[1], ids[3]]


def test_search_filters_and_orders_by_parameters(
    any_store: Store, sweep: tuple[UUID, list[UUID]]
) -> None:
    experiment, ids = sweep
    adam = any_store.search_iterations(experiment, where=[("param.optimiser", "=", "adam")])
    assert [r.iteration.id for r in adam] == [ids[1], ids[2]]
    # Parameters compare numerically when both sides are numbers ("1e-3" < "0.01").
    by_lr = any_store.search_iterations(experiment, order_by="params.lr")
    assert [r.params["lr"] for r in by_lr] == ["1e-3", "0.01", "0.1", "10"]
    small = any_store.search_iterations(
        experiment, where=[("param.lr", "<", 0.05), ("metric.loss", "<=", 0.4)]
    )
    assert [(r.iteration.id, r.metrics, r.params) for r in small] == [
        (ids[1], {"loss": 0.2}, {"lr": "0.01"}),
        (ids[2], {"loss": 0.4}, {"lr": "1e-3"}),
    ]
    assert any_store.search_iterations(experiment, status="failed") == []
    assert small[0].to_dict()["metrics"] == {"loss": 0.2}


def test_search_refuses_malformed_fields(any_store: Store, sweep: tuple[UUID, list[UUID]]) -> None:
    experiment, _ = sweep
    with pytest.raises(InvalidValue) as raised:
        any_store.search_iterations(experiment, order_by="loss")
    assert str(raised.value) == "invalid search field 'loss': expected metric.KEY or param.KEY"
    with pytest.raises(InvalidValue) as raised:
        any_store.search_iterations(experiment, where=[("metric.loss", "~", 1)])
    assert str(raised.value) == "invalid search operator '~': expected one of = == != < <= > >="


@pytest.mark.parametrize(
    ("blocked", "call", "message"),
    [
        (
            "pyarrow",
            "metric_history_arrow",
            "pyarrow is not installed; install the extra: pip install 'deardiary-tracking[arrow]'",
        ),
        (
            "pandas",
            "metric_history_pandas",
            "pandas is not installed; install the extra: pip install 'deardiary-tracking[pandas]'",
        ),
    ],
)
def test_missing_extras_are_named(
    store: Store, monkeypatch: pytest.MonkeyPatch, blocked: str, call: str, message: str
) -> None:
    project = store.create_project("p")
    experiment = store.create_experiment(project.id, "e")
    iteration = store.create_iteration(experiment.id, snapshot=False).id
    # A None entry in sys.modules makes the import fail as if the package were absent.
    monkeypatch.setitem(sys.modules, blocked, None)
    with pytest.raises(StorageError) as raised:
        getattr(store, call)(iteration, "loss")
    assert str(raised.value) == message


def test_without_pyarrow_duckdb_logging_uses_the_appender(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import diary

    monkeypatch.setitem(sys.modules, "pyarrow", None)
    with diary.open(db_path) as store:
        assert store.metric_writer == "appender"
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        store.log_metrics(iteration, {"loss": 0.5, "acc": 0.25})
        assert [p.value for p in store.metric_history(iteration, "loss")] == [0.5]
    with pytest.raises(StorageError) as raised:
        diary.open(db_path, metric_writer="arrow")
    assert str(raised.value) == (
        "pyarrow is not installed; install the extra: pip install 'deardiary-tracking[arrow]'"
    )
