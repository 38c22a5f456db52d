"""Several processes on one diary file at once: zero errors, zero lost records.

* Four processes log buffered metrics to one database while a fifth reads the histories in a
  loop (every read must be a prefix that never shrinks).
* The command line's direct reads (``metric plot``, ``iteration list``, ``compare``) run in a
  loop while two processes log: every one succeeds and sees a prefix that never shrinks.
* Four processes use a new database for the first time at the same moment (creating the
  schema), ``CHAOS_TRIALS // 5`` rounds (at least 2).
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path

import pytest
from diary_support import CHAOS_TRIALS, DiarySandbox, row_counts, run_cli, start_child

from diary.schema import HEAD_REVISION

pytestmark = pytest.mark.slow

WRITERS = 4
POINTS = 3_000
CLI_POINTS = 8_000


def test_diary_four_writers_and_a_reader(diary_sandbox: DiarySandbox, tmp_path: Path) -> None:
    box = diary_sandbox
    box.settings.update(DEARDIARY_FLUSH_SIZE="250", DEARDIARY_FLUSH_INTERVAL="0.05")
    with box.open() as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        iterations = [
            str(store.create_iteration(experiment, snapshot=False).id) for _ in range(WRITERS)
        ]
    stop = tmp_path / "stop"
    start_at = f"{time.time() + 2.0:.3f}"
    reader = start_child(box, "reader", ",".join(iterations), str(stop), start_at)
    writers = [start_child(box, "writer", it, str(POINTS), start_at) for it in iterations]
    results = []
    for process in writers:
        out, err = process.communicate(timeout=240)
        assert (process.returncode, err) == (0, ""), err
        results.append(json.loads(out))
    stop.touch()
    out, err = reader.communicate(timeout=120)
    assert (reader.returncode, err) == (0, ""), err
    read = json.loads(out)
    assert read["reads"] > 0
    assert sorted(r["logged"] for r in results) == [POINTS] * WRITERS
    with box.open() as store:
        for iteration in iterations:
            history = store.metric_history(iteration, "x")
            assert [(p.step, p.value) for p in history] == [(s, float(s)) for s in range(POINTS)]
    assert row_counts(box.db)["metric"] == WRITERS * POINTS
    print(
        f"\nconcurrency: {WRITERS} writers x {POINTS} points, reader did {read['reads']} reads "
        f"checking {read['checked']} points; errors: 0, lost: 0"
    )


def test_diary_cli_reads_while_training_writes(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    box.settings.update(DEARDIARY_FLUSH_SIZE="100", DEARDIARY_FLUSH_INTERVAL="0.05")
    with box.open() as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        iterations = [str(store.create_iteration(experiment, snapshot=False).id) for _ in "ab"]
        for iteration in iterations:
            store.log_metric(iteration, "x", -1.0, -1)  # a point to plot from the start
    writers = [
        start_child(box, "writer", it, str(CLI_POINTS), f"{time.time() + 0.5:.3f}")
        for it in iterations
    ]
    seen, reads = -math.inf, 0
    while any(process.poll() is None for process in writers) or reads < 3:
        plot = run_cli(box, "metric", "plot", *iterations, "x", "--width", "40")
        assert (plot.returncode, plot.stderr) == (0, ""), plot.stderr
        listed = run_cli(box, "iteration", "list", "e", "--format", "json")
        assert (listed.returncode, listed.stderr) == (0, ""), listed.stderr
        counts = run_cli(box, "compare", *iterations, "--format", "json")
        assert (counts.returncode, counts.stderr) == (0, ""), counts.stderr
        count = next(
            min(row["values"].values())
            for row in json.loads(counts.stdout)
            if row["field"] == "metrics.x.max"
        )
        assert count >= seen  # the largest value logged so far never goes back
        seen, reads = count, reads + 1
    for process in writers:
        _out, err = process.communicate(timeout=240)
        assert (process.returncode, err) == (0, ""), err
    assert row_counts(box.db)["metric"] == 2 * (CLI_POINTS + 1)
    print(f"\ncli reads while writing: {reads} rounds of plot, list and compare; errors: 0")


def test_diary_four_processes_first_use_at_once(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    created = 0
    # Each round starts four interpreters that create a schema: 2 rounds in `make test`,
    # 10 in `make chaos`.
    for trial in range(max(2, CHAOS_TRIALS // 5)):
        db = box.root / f"new-{trial}.db"
        env = box.environ(DEARDIARY_DB_FILE=str(db))
        start_at = f"{time.time() + 1.5:.3f}"
        processes = [
            start_child(box, "first-use", f"worker-{n}", start_at, env=env) for n in range(WRITERS)
        ]
        outputs = []
        for process in processes:
            out, err = process.communicate(timeout=120)
            assert (process.returncode, err) == (0, ""), err
            outputs.append(json.loads(out))
        counts = row_counts(db)
        assert counts["project"] == WRITERS
        assert counts["metric"] == WRITERS * 20
        assert counts["diary_alembic_version"] == 1
        with box.open(DEARDIARY_DB_FILE=str(db)) as store:
            assert sorted(p.name for p in store.list_projects()) == [
                f"worker-{n}" for n in range(WRITERS)
            ]
            for output in outputs:
                points = store.metric_history(output["iteration"], "x")
                assert [p.step for p in points] == list(range(20))
        import duckdb

        conn = duckdb.connect(str(db), read_only=True)
        try:
            assert conn.execute("SELECT version_num FROM diary_alembic_version").fetchall() == [
                (HEAD_REVISION,)
            ]
        finally:
            conn.close()
        created += 1
    print(f"\nfirst use: {created} rounds x {WRITERS} processes; errors: 0, lost: 0")
