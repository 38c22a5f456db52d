"""Buffered and durable logging of metrics and parameters, through every writer."""

from __future__ import annotations

import math
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

import diary
from diary.errors import InvalidValue, NotFound, ParameterConflict
from diary.store import Store


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Poll for something a background thread does (no assertion on how long it takes)."""
    deadline = time.monotonic() + 30
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up waiting for {what}")
        time.sleep(0.01)


def new_iteration(store: Store) -> object:
    project = store.create_project("p")
    experiment = store.create_experiment(project.id, "e")
    return store.create_iteration(experiment.id, snapshot=False).id


@pytest.mark.parametrize(
    ("url_kind", "writer"),
    [("duckdb", "arrow"), ("duckdb", "appender"), ("duckdb", "core"), ("sqlite", "core")],
)
def test_every_writer_round_trips(tmp_path: Path, url_kind: str, writer: str) -> None:
    url = f"{url_kind}:///{tmp_path / 'd.db'}"
    with diary.open(url=url, metric_writer=writer) as store:  # type: ignore[arg-type]
        iteration = new_iteration(store)
        moment = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=UTC)
        for step in range(1000):
            store.log_metric(iteration, "loss", 1 / (step + 1), timestamp=moment)
        store.log_metrics(iteration, {"acc": 0.5, "f1": -2.0}, step=7)
        store.log_param(iteration, "layers", 3)
        history = store.metric_history(iteration, "loss")
        assert [p.step for p in history] == list(range(1000))
        assert [p.value for p in history] == [1 / (s + 1) for s in range(1000)]
        assert {p.timestamp for p in history} == {moment}
        assert store.metric_keys(iteration) == ["acc", "f1", "loss"]
        assert store.get_params(iteration) == {"layers": "3"}


def test_steps_default_to_the_next_step_per_key(any_store: Store) -> None:
    iteration = new_iteration(any_store)
    assert any_store.log_metric(iteration, "loss", 1.0) == 0
    assert any_store.log_metric(iteration, "loss", 0.9) == 1
    assert any_store.log_metric(iteration, "acc", 0.1) == 0
    assert any_store.log_metric(iteration, "loss", 0.5, step=10) == 10
    assert any_store.log_metric(iteration, "loss", 0.4) == 11
    assert any_store.log_metric(iteration, "loss", 0.45, step=3) == 3
    assert any_store.log_metrics(iteration, {"loss": 0.3, "acc": 0.2}) == {"loss": 12, "acc": 1}
    steps = [p.step for p in any_store.metric_history(iteration, "loss")]
    assert steps == [0, 1, 3, 10, 11, 12]


def test_next_step_continues_what_another_store_logged(db_path: Path) -> None:
    with diary.open(db_path) as first:
        iteration = new_iteration(first)
        first.log_metrics(iteration, {"loss": 1.0}, step=41)
    with diary.open(db_path) as second:
        assert second.log_metric(iteration, "loss", 0.5) == 42
        assert second.log_metric(iteration, "other", 0.5) == 0


def test_same_step_twice_keeps_both_points_in_a_stable_order(any_store: Store) -> None:
    iteration = new_iteration(any_store)
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    any_store.log_metric(iteration, "loss", 2.0, step=1, timestamp=moment)
    any_store.log_metric(iteration, "loss", 1.0, step=1, timestamp=moment)
    assert [p.value for p in any_store.metric_history(iteration, "loss")] == [1.0, 2.0]


def test_buffered_points_are_invisible_until_flushed(db_path: Path) -> None:
    with diary.open(db_path) as writer, diary.open(db_path) as reader:
        iteration = new_iteration(writer)
        writer.log_metric(iteration, "loss", 1.0)
        writer.log_param(iteration, "lr", 0.1)
        assert reader.metric_history(iteration, "loss") == []
        assert reader.get_params(iteration) == {}
        writer.flush()
        assert [p.value for p in reader.metric_history(iteration, "loss")] == [1.0]
        assert reader.get_params(iteration) == {"lr": "0.1"}


def test_unbuffered_writes_are_durable_per_call(db_path: Path) -> None:
    with diary.open(db_path, buffered=False) as writer, diary.open(db_path) as reader:
        iteration = new_iteration(writer)
        writer.log_metric(iteration, "loss", 1.0)
        writer.log_param(iteration, "lr", "x")
        assert len(reader.metric_history(iteration, "loss")) == 1
        assert reader.get_params(iteration) == {"lr": "x"}


def test_size_trigger_flushes_without_being_asked(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEARDIARY_FLUSH_SIZE", "10")
    monkeypatch.setenv("DEARDIARY_FLUSH_INTERVAL", "3600")
    with diary.open(db_path) as writer, diary.open(db_path) as reader:
        iteration = new_iteration(writer)
        for step in range(20):
            writer.log_metric(iteration, "loss", float(step))
        # At twice the flush size the logging call writes itself (bounded memory)...
        assert len(reader.metric_history(iteration, "loss")) == 20
        # ...and at the flush size the background thread is woken.
        for step in range(10):
            writer.log_metric(iteration, "acc", float(step))
        wait_until(lambda: len(reader.metric_history(iteration, "acc")) == 10, "size flush")


def test_interval_trigger_flushes_in_the_background(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEARDIARY_FLUSH_INTERVAL", "0.05")
    with diary.open(db_path) as writer, diary.open(db_path) as reader:
        iteration = new_iteration(writer)
        writer.log_metric(iteration, "loss", 1.0)
        wait_until(lambda: len(reader.metric_history(iteration, "loss")) == 1, "interval flush")


def test_interpreter_exit_flushes(db_path: Path) -> None:
    with diary.open(db_path) as store:
        iteration = new_iteration(store)
    script = textwrap.dedent(
        f"""
        import diary
        store = diary.open({str(db_path)!r})
        for step in range(500):
            store.log_metric({str(iteration)!r}, "loss", float(step))
        store.log_param({str(iteration)!r}, "seed", 7)
        # no close(), no flush(): the atexit hook must write the buffer
        """
    )
    subprocess.run([sys.executable, "-c", script], check=True, timeout=120)
    with diary.open(db_path) as store:
        assert len(store.metric_history(iteration, "loss")) == 500
        assert store.get_params(iteration) == {"seed": "7"}


def test_parameter_conflicts(any_store: Store) -> None:
    iteration = new_iteration(any_store)
    any_store.log_param(iteration, "lr", 0.1)
    any_store.log_param(iteration, "lr", "0.1")  # the same value again is fine
    with pytest.raises(ParameterConflict) as raised:
        any_store.log_params(iteration, {"batch": 32, "lr": 0.2})
    assert str(raised.value) == (
        f"parameter 'lr' of iteration {iteration} is already '0.1'; refusing '0.2' "
        "(a parameter is set once per iteration)"
    )
    any_store.flush()
    assert any_store.get_params(iteration) == {"lr": "0.1"}  # nothing of the refused call


def test_conflict_with_another_process_is_reported_at_flush(db_path: Path) -> None:
    with diary.open(db_path, buffered=False) as first, diary.open(db_path) as second:
        iteration = new_iteration(first)
        first.log_param(iteration, "lr", 0.1)
        second.log_params(iteration, {"lr": 0.3, "momentum": 0.9})
        second.log_metric(iteration, "loss", 1.0)
        with pytest.raises(ParameterConflict) as raised:
            second.flush()
        assert raised.value.stored == "0.1"
        assert raised.value.given == "0.3"
        # The rest of the batch was written; the refused value was dropped, not retried.
        assert first.get_params(iteration) == {"lr": "0.1", "momentum": "0.9"}
        assert len(first.metric_history(iteration, "loss")) == 1
        second.flush()


def test_background_refusal_is_raised_by_the_next_call(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DEARDIARY_FLUSH_INTERVAL", "0.05")
    with diary.open(db_path, buffered=False) as first, diary.open(db_path) as second:
        iteration = new_iteration(first)
        first.log_param(iteration, "lr", 0.1)
        second.log_param(iteration, "lr", 0.2)
        # Wait until the background flush has written the batch and recorded the refusal.
        wait_until(lambda: second._buffer._refused is not None, "background flush")
        with pytest.raises(ParameterConflict):
            second.log_metric(iteration, "loss", 1.0)
        second.flush()
        assert len(first.metric_history(iteration, "loss")) == 1


def test_points_of_a_deleted_iteration_are_dropped_and_reported(db_path: Path) -> None:
    with diary.open(db_path) as first, diary.open(db_path) as second:
        iteration = new_iteration(first)
        keep = first.create_iteration(first.list_experiments(first.list_projects()[0].id)[0].id)
        first.log_metric(iteration, "loss", 1.0)
        first.log_metric(keep.id, "loss", 2.0)
        second.delete_iteration(iteration)
        with pytest.raises(NotFound) as raised:
            first.flush()
        assert str(raised.value) == (
            f"iteration not found: {iteration}; its buffered metrics and parameters were dropped"
        )
        assert [p.value for p in second.metric_history(keep.id, "loss")] == [2.0]


def test_invalid_values_are_refused_at_the_call(any_store: Store) -> None:
    iteration = new_iteration(any_store)
    with pytest.raises(InvalidValue) as raised:
        any_store.log_metric(iteration, "", 1.0)
    assert str(raised.value) == "invalid metric key '': must not be empty"
    with pytest.raises(InvalidValue) as raised:
        any_store.log_metric(iteration, "loss", "high")
    assert str(raised.value) == "invalid value of metric 'loss' 'high': expected a number"
    with pytest.raises(InvalidValue) as raised:
        any_store.log_metric(iteration, "loss", True)
    assert str(raised.value) == "invalid value of metric 'loss' True: expected a number"
    with pytest.raises(InvalidValue) as raised:
        any_store.log_metric(iteration, "loss", 1.0, step=1.5)  # type: ignore[arg-type]
    assert str(raised.value) == "invalid step 1.5: expected a whole number"
    with pytest.raises(InvalidValue) as raised:
        any_store.log_metric(iteration, "loss", 1.0, timestamp=datetime(2026, 1, 1))
    assert str(raised.value) == "invalid timestamp '2026-01-01T00:00:00': must be timezone-aware"
    with pytest.raises(NotFound):
        any_store.log_metric("00000000-0000-0000-0000-000000000009", "loss", 1.0)
    assert any_store.log_metric(iteration, "loss", 1, step=2.0) == 2  # type: ignore[arg-type]


def test_nan_and_infinity(tmp_path: Path) -> None:
    with diary.open(tmp_path / "d.db") as store:
        iteration = new_iteration(store)
        store.log_metrics(iteration, {"a": math.nan, "b": math.inf, "c": -math.inf})
        values = [store.metric_history(iteration, k)[0].value for k in "abc"]
        assert math.isnan(values[0])
        assert values[1:] == [math.inf, -math.inf]
    with diary.open(url=f"sqlite:///{tmp_path / 'd.sqlite'}") as store:
        iteration = new_iteration(store)
        with pytest.raises(InvalidValue) as raised:
            store.log_metric(iteration, "a", math.nan)
        assert str(raised.value) == (
            "invalid value of metric 'a' nan: NaN can only be stored in a DuckDB database"
        )
        store.log_metric(iteration, "b", math.inf)
        assert store.metric_history(iteration, "b")[0].value == math.inf


def test_deardiary_vocabulary(store: Store) -> None:
    iteration = new_iteration(store)
    assert store.create_metric(iteration, "loss", 0.5) == 0
    store.create_parameter(iteration, "lr", 0.1)
    assert store.get_params(iteration) == {"lr": "0.1"}
    assert store.latest_metrics(iteration)["loss"].value == 0.5


def test_deleting_a_series_and_a_parameter(any_store: Store) -> None:
    iteration = new_iteration(any_store)
    any_store.log_metrics(iteration, {"loss": 1.0, "acc": 0.1})
    any_store.log_metric(iteration, "loss", 0.5)
    any_store.log_param(iteration, "lr", 0.1)
    assert any_store.delete_metric(iteration, "loss") == 2
    assert any_store.metric_keys(iteration) == ["acc"]
    assert any_store.log_metric(iteration, "loss", 0.2) == 0  # a new series starts at 0
    assert any_store.delete_parameter(iteration, "lr") is True
    assert any_store.delete_parameter(iteration, "lr") is False
    any_store.log_param(iteration, "lr", 0.2)  # the key can be set again
    assert any_store.get_params(iteration) == {"lr": "0.2"}
