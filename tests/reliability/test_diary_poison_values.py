"""One value that cannot be stored never costs a good one (a poison stream for buffered logging).

Every value is checked when it is logged: a call either raises ``InvalidValue`` naming the
argument, or its point is stored. Should a record that the database refuses reach a flush all the
same, the flush stores every other record and names the dropped one.
"""

from __future__ import annotations

import math
from collections import Counter
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any
from uuid import UUID

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import diary
from diary.errors import InvalidValue, StorageError
from diary.store.buffer import Batch

STEP_MAX = 2**63 - 1

_numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(10**400), max_value=10**400),
    st.decimals(allow_nan=False),
    st.fractions(),
    st.booleans(),
    st.text(max_size=8),
    st.sampled_from(
        [
            10**400,
            -(10**400),
            Decimal("1e400"),
            Decimal("-Infinity"),
            "1e400",
            "inf",
            np.float32(1.5),
            np.float64("nan"),
            np.int64(-7),
            np.uint64(2**64 - 1),
            np.bool_(True),
            None,
        ]
    ),
)
_steps = st.one_of(
    st.none(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.sampled_from(
        [
            STEP_MAX,
            STEP_MAX + 1,
            -(2**63),
            -(2**63) - 1,
            np.uint64(2**64 - 1),
            np.int32(5),
            2.0,
            2.5,
            1e20,
            True,
            "7",
        ]
    ),
)
_texts = st.one_of(
    st.text(max_size=12),
    st.sampled_from(["caf\udce9", "\ud800", "ok\udfffok", "\x00", "", "  "]),
)
_calls = st.lists(
    st.one_of(
        st.tuples(
            st.just("metric"), st.sampled_from(["loss", "acc", "caf\udce9"]), _numbers, _steps
        ),
        st.tuples(st.just("param"), _texts, st.one_of(_texts, _numbers), st.none()),
    ),
    min_size=1,
    max_size=60,
)


def _canonical(value: float) -> object:
    return "nan" if math.isnan(value) else value


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(calls=_calls)
def test_every_call_that_returned_has_its_point_stored(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch, calls: list[Any]
) -> None:
    monkeypatch.setenv("DEARDIARY_FLUSH_SIZE", "7")
    path = tmp_path_factory.mktemp("poison") / "d.db"
    expected_points: Counter[tuple[str, int, object]] = Counter()
    expected_params: dict[str, str] = {}
    with diary.open(path) as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id).id
        for number, (kind, key, value, step) in enumerate(calls):
            try:
                if kind == "metric":
                    stored_at = store.log_metric(iteration, key, value, step)
                else:
                    key = f"{number}:{key}"
                    store.log_param(iteration, key, value)
            except InvalidValue:
                continue
            if kind == "metric":
                expected_points[(key, stored_at, _canonical(float(value)))] += 1
            else:
                expected_params[key] = str(value)
    with diary.open(path) as store:
        stored: Counter[tuple[str, int, object]] = Counter()
        for key in {key for key, _, _ in expected_points}:
            history = store.metric_history(iteration, key)
            stored.update(
                (key, step, _canonical(value))
                for step, value in zip(history.steps, history.values, strict=True)
            )
        assert stored == expected_points
        assert store.get_params(iteration) == expected_params


@pytest.mark.parametrize(
    ("call", "argument"),
    [
        (lambda s, it: s.log_param(it, "tag", "caf\udce9"), "value of parameter 'tag'"),
        (lambda s, it: s.log_param(it, "caf\udce9", 1), "parameter key"),
        (lambda s, it: s.log_metric(it, "loss", 1.0, step=2**63), "step"),
        (lambda s, it: s.log_metric(it, "loss", 1.0, step=np.uint64(2**64 - 1)), "step"),
        (lambda s, it: s.log_metric(it, "loss", 10**400), "value of metric 'loss'"),
        (lambda s, it: s.log_metric(it, "loss", Decimal("1e400")), "value of metric 'loss'"),
        (lambda s, it: s.log_metric(it, "loss", Fraction(10**400, 3)), "value of metric 'loss'"),
        (lambda s, it: s.log_metrics(it, {"a": 1.0, "b": 10**400}), "value of metric 'b'"),
        (lambda s, it: s.log_points(it, [("a", 1.0, None), ("a", 2.0, -(2**63) - 1)]), "step"),
    ],
)
def test_the_reported_stream_stores_every_good_point(
    tmp_path: Path, call: Any, argument: str
) -> None:
    """The issue's stream: 1,000 points, one bad call, 1,000 more, close: 2,000 points stored."""
    with diary.open(tmp_path / "d.db") as store:
        iteration = store.create_iteration(
            store.create_experiment(store.create_project("p").id, "e").id
        ).id
        for step in range(1000):
            store.log_metric(iteration, "good", step / 7, step)
        with pytest.raises(InvalidValue) as refused:
            call(store, iteration)
        assert str(refused.value).startswith(f"invalid {argument} ")
        for step in range(1000, 2000):
            store.log_metric(iteration, "good", step / 7, step)
    with diary.open(tmp_path / "d.db") as store:
        history = store.metric_history(iteration, "good")
        assert list(history.steps) == list(range(2000))
        assert store.get_params(iteration) == {}
        assert store.metric_keys(iteration) == ["good"]


def test_an_automatic_step_past_the_top_is_refused_and_the_key_keeps_working(
    tmp_path: Path,
) -> None:
    with diary.open(tmp_path / "d.db", buffered=False) as store:
        iteration = store.create_iteration(
            store.create_experiment(store.create_project("p").id, "e").id
        ).id
        assert store.log_metric(iteration, "loss", 5, STEP_MAX) == STEP_MAX
        with pytest.raises(InvalidValue, match="give the step explicitly"):
            store.log_metric(iteration, "loss", 6)
        assert store.log_metric(iteration, "loss", 7, 3) == 3
        assert store.log_metric(iteration, "other", 1) == 0
    with diary.open(tmp_path / "d.db", buffered=False) as store:
        # A new store learns the top step from the database and refuses the same way.
        with pytest.raises(InvalidValue, match="give the step explicitly"):
            store.log_metric(iteration, "loss", 6)
        assert list(store.metric_history(iteration, "loss").steps) == [3, STEP_MAX]


@pytest.mark.parametrize("url_kind", ["duckdb", "sqlite"])
def test_a_flush_stores_the_good_records_around_one_the_database_refuses(
    tmp_path: Path, url_kind: str
) -> None:
    """Defence in depth: a record that slipped past the checks is dropped alone, and named."""
    url = f"sqlite:///{tmp_path / 'd.sqlite'}" if url_kind == "sqlite" else None
    path = None if url else tmp_path / "d.db"
    store = diary.open(path, url=url)
    iteration = store.create_iteration(
        store.create_experiment(store.create_project("p").id, "e").id
    ).id
    for step in range(500):
        store.log_metric(iteration, "good", float(step), step)

    def poison(batch: Batch) -> None:  # what no public call lets through any more
        batch.add_point(UUID(str(iteration)), "bad", 2**64, 1.0, 0.0)

    store._buffer.add(poison)
    for step in range(500, 1000):
        store.log_metric(iteration, "good", float(step), step)
    with pytest.raises(StorageError) as dropped:
        store.flush()
    message = str(dropped.value)
    assert message.startswith("dropped 1 buffered record(s) the database refused, stored the rest:")
    assert f"metric 'bad' step {2**64} of iteration {iteration}" in message
    store.log_metric(iteration, "good", 1000.0, 1000)
    store.close()
    with diary.open(path, url=url) as store:
        assert list(store.metric_history(iteration, "good").steps) == list(range(1001))
        assert store.metric_keys(iteration) == ["good"]


def test_an_iteration_ends_with_its_good_points_even_around_a_refused_record(
    tmp_path: Path,
) -> None:
    """The last flush and the end of an iteration are one transaction; a refused record in
    it is dropped alone, and the iteration still ends (failed: something was refused)."""
    with diary.open(tmp_path / "d.db") as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        started: list[UUID] = []

        def train() -> None:
            with store.iteration(experiment, snapshot=False) as it:
                started.append(UUID(str(it.id)))
                for step in range(100):
                    it.log_metric("good", float(step), step)

                def poison(batch: Batch) -> None:
                    batch.add_point(started[0], "bad", 2**64, 1.0, 0.0)

                store._buffer.add(poison)

        with pytest.raises(StorageError, match="dropped 1 buffered record"):
            train()
        record = store.get_iteration(started[0])
        assert (record.status.value, record.ended_at is not None) == ("failed", True)
        assert "dropped 1 buffered record" in record.error_message
        assert list(store.metric_history(started[0], "good").steps) == list(range(100))
