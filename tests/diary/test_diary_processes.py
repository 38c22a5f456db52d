"""Several processes on one DuckDB file: logging and reading at once, and the lock timeout."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

import diary
from diary.errors import DatabaseLocked

# A training process: opens (and on first use creates) the database, logs a parameter and
# many metric points with background flushes, and reports its iteration id.
TRAINER = textwrap.dedent(
    """
    import json, sys
    import diary

    store = diary.open(sys.argv[1])
    project = store.create_project(sys.argv[2])
    experiment = store.create_experiment(project.id, "e")
    with store.iteration(experiment.id, snapshot=False) as it:
        it.log_param("worker", sys.argv[2])
        for step in range(int(sys.argv[3])):
            it.log_metrics({"loss": 1.0 / (step + 1), "acc": step / 1000})
            if step % 100 == 0:
                # Read while the other process writes: the store flushes, then reads.
                store.metric_history(it.id, "loss")
    store.close()
    print(json.dumps({"iteration": str(it.id)}))
    """
)


def run_trainers(db_path: Path, count: int, steps: int) -> list[str]:
    env = {**os.environ, "DEARDIARY_FLUSH_INTERVAL": "0.02"}
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", TRAINER, str(db_path), f"worker-{n}", str(steps)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        for n in range(count)
    ]
    ids = []
    for process in processes:
        out, err = process.communicate(timeout=240)
        assert process.returncode == 0, err
        assert "Could not set lock" not in err
        ids.append(json.loads(out)["iteration"])
    return ids


@pytest.mark.slow
def test_two_processes_create_log_and_read_one_file_at_once(db_path: Path) -> None:
    ids = run_trainers(db_path, count=2, steps=600)
    with diary.open(db_path) as store:
        assert sorted(p.name for p in store.list_projects()) == ["worker-0", "worker-1"]
        for iteration in ids:
            history = store.metric_history(iteration, "loss")
            assert [p.step for p in history] == list(range(600))
            assert store.get_iteration(iteration).status.value == "succeeded"


HOLDER = textwrap.dedent(
    """
    import sys, duckdb
    connection = duckdb.connect(sys.argv[1])
    print("holding", flush=True)
    sys.stdin.readline()
    connection.close()
    """
)


@contextlib.contextmanager
def held(db_path: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the DuckDB file open until the block ends."""
    with subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(db_path)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as holder:
        assert holder.stdout is not None
        assert holder.stdin is not None
        assert holder.stdout.readline().strip() == "holding"
        try:
            yield holder
        finally:
            holder.stdin.close()  # end of input: the holder closes the file and exits
            holder.wait(timeout=60)


def test_a_held_file_times_out_naming_the_holder(
    db_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with diary.open(db_path) as store:
        store.create_project("p")
    monkeypatch.setenv("DEARDIARY_LOCK_TIMEOUT", "0.2")
    with held(db_path) as holder:
        with pytest.raises(DatabaseLocked) as raised:
            diary.open(db_path)
        assert raised.value.pid == holder.pid
        assert str(raised.value).startswith(
            f"database {db_path} is locked by process {holder.pid}; gave up after "
        )


def test_a_short_hold_is_waited_for(db_path: Path) -> None:
    with diary.open(db_path) as store:
        store.create_project("p")
    with held(db_path) as holder:
        assert holder.stdin is not None
        # Tell the holder to let go; opening waits for that instead of failing at once.
        holder.stdin.close()
        with diary.open(db_path) as store:
            assert [p.name for p in store.list_projects()] == ["p"]
