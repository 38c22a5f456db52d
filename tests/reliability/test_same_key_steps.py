"""Several writers logging one key of one iteration without steps: no two points share a step.

Each process (or store) chooses the next step from memory; the write moves its chosen steps
past whatever another writer stored meanwhile (diary.store.steps). Tested on every engine,
with stores in one process (deterministic) and with concurrent processes.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import diary


@pytest.fixture(params=["duckdb", "sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    """``diary.open`` arguments for a new database of each engine."""
    if request.param == "duckdb":
        return {"path": str(tmp_path / "diary.db")}
    if request.param == "sqlite":
        return {"url": f"sqlite:///{tmp_path / 'diary.sqlite'}"}
    return {"url": request.getfixturevalue("postgres_url")}


def _open(database: dict[str, str], **options: bool) -> diary.Store:
    return diary.open(database.get("path"), url=database.get("url"), **options)


def test_a_second_store_continues_after_the_first_and_the_first_moves_on(
    database: dict[str, str],
) -> None:
    with _open(database, buffered=False) as first:
        experiment = first.create_experiment(first.create_project("p").id, "e").id
        iteration = first.create_iteration(experiment, snapshot=False).id
        assert [first.log_metric(iteration, "loss", float(n)) for n in range(5)] == [0, 1, 2, 3, 4]
        with _open(database, buffered=False) as second:
            # It reads where the key stands, as a second process would.
            assert [second.log_metric(iteration, "loss", 10.0 + n) for n in range(3)] == [5, 6, 7]
        # The first store still believes 5 comes next; the write moves it past 7 and says so.
        assert first.log_metric(iteration, "loss", 20.0) == 8
        assert first.log_metrics(iteration, {"loss": 21.0, "acc": 0.5}) == {"loss": 9, "acc": 0}
        # An explicit step is the caller's: it is never moved.
        assert first.log_metric(iteration, "loss", 22.0, step=3) == 3
        history = first.metric_history(iteration, "loss")
        assert list(zip(history.steps, history.values, strict=True)) == [
            (0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0), (3, 22.0), (4, 4.0), (5, 10.0), (6, 11.0),
            (7, 12.0), (8, 20.0), (9, 21.0),
        ]  # fmt: skip


def test_buffered_points_move_together_and_stay_in_order(database: dict[str, str]) -> None:
    with _open(database, buffered=True) as first:
        experiment = first.create_experiment(first.create_project("p").id, "e").id
        iteration = first.create_iteration(experiment, snapshot=False).id
        first.log_metric(iteration, "loss", 0.0)
        first.flush()
        # Chosen in memory: steps 1, 2, 3 (then 4, and 51 after an explicit 50).
        first.log_points(iteration, [("loss", 1.0, None), ("loss", 2.0, None)])
        first.log_metric(iteration, "loss", 3.0)
        with _open(database, buffered=False) as second:
            assert second.log_points(iteration, [("loss", -1.0, None)] * 4) == [1, 2, 3, 4]
        first.log_metric(iteration, "loss", 4.0)
        first.log_metric(iteration, "loss", 5.0, step=50)
        first.log_metric(iteration, "loss", 6.0)
        first.flush()
        first.log_metric(iteration, "loss", 7.0)
        history = first.metric_history(iteration, "loss")
    assert list(zip(history.steps, history.values, strict=True)) == [
        (0, 0.0), (1, -1.0), (2, -1.0), (3, -1.0), (4, -1.0), (5, 1.0), (6, 2.0), (7, 3.0),
        (8, 4.0), (50, 5.0), (51, 6.0), (52, 7.0),
    ]  # fmt: skip


_WRITER = """
import json, sys, diary
path, url, iteration, buffered = sys.argv[1:5]
steps = []
with diary.open(path or None, url=url or None, buffered=buffered == "1") as store:
    for n in range(60):
        steps.append(store.log_metric(iteration, "loss", writer * 1000 + n))
print(json.dumps(steps))
"""


def test_concurrent_processes_never_share_a_step(database: dict[str, str], tmp_path: Path) -> None:
    with _open(database) as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        iteration = store.create_iteration(experiment, snapshot=False).id
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    env.update(DEARDIARY_FLUSH_SIZE="4", DEARDIARY_FLUSH_INTERVAL="0.01")
    writers = []
    for n in range(4):
        script = _WRITER.replace("writer * 1000", f"{n} * 1000")
        args = [database.get("path", ""), database.get("url", ""), str(iteration), str(n % 2)]
        writers.append(subprocess.Popen(
            [sys.executable, "-c", script, *args], cwd=tmp_path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        ))  # fmt: skip
    outputs = [process.communicate(timeout=300) for process in writers]
    assert [p.returncode for p in writers] == [0] * 4, [err for _, err in outputs]
    with _open(database) as store:
        history = store.metric_history(iteration, "loss")
    steps = list(history.steps)
    assert sorted(steps) == list(range(240))  # every point, each at a step of its own
    by_value = dict(zip(history.values, steps, strict=True))
    for n, (out, _) in enumerate(outputs):
        mine = [by_value[float(n * 1000 + i)] for i in range(60)]
        assert mine == sorted(mine)  # each writer's points keep their order
        if n % 2 == 0:  # unbuffered: the returned steps are the stored ones
            assert json.loads(out) == mine
