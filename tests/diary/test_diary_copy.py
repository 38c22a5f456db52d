"""``diary db copy``: a whole store from a DuckDB file onto a PostgreSQL server and back,
verified, idempotent, and finished by a second run after a SIGKILL."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import sqlalchemy as sa

import diary
from diary import models as m
from diary.query import search_runs

DIARY = str(Path(sys.executable).with_name("diary"))
# Everything but the database's own identity (a copy takes its own).
TABLES = [name for name in m.TABLE_NAMES if name != "store_identity"]


def _fill(path: Path, iterations: int = 3, points: int = 200) -> None:
    with diary.open(path) as store:
        project = store.get_or_create_project("team", tags=["shared"])
        experiment = store.get_or_create_experiment(project.id, "sweep")
        store.add_tags("experiment", experiment.id, "stage=1")
        model = store.create_model(project.id, "classifier")
        for n in range(iterations):
            with store.iteration(experiment.id, tags=[f"n={n}"]) as it:
                it.log_params({"lr": 0.1 * (n + 1), "opt": "adam"})
                for step in range(points):
                    it.log_metrics({"loss": 1.0 / (step + 1), "acc": step / points}, step)
                with it.child(notes="fold") as child:
                    child.log_metric("loss", float("nan") if n == 0 else 0.5)
                artifact = it.log_artifact(f"weights {n}".encode(), name="w.bin")
        store.create_model_version(model.id, it.id, resource_id=artifact.id)


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table's rows, comparable across engines (ids as text, times to microseconds)."""
    engine = sa.create_engine(url)

    def cell(value: Any) -> Any:
        if isinstance(value, float) and value != value:
            return "nan"
        if hasattr(value, "isoformat"):
            return value.replace(tzinfo=None).isoformat()
        if isinstance(value, bytes | memoryview):
            return bytes(value)
        return str(value) if value is not None and not isinstance(value, int | float) else value

    try:
        with engine.connect() as conn:
            return {
                name: sorted(
                    (tuple(cell(v) for v in row) for row in conn.execute(sa.select(table))),
                    key=repr,
                )
                for name in TABLES
                if (table := m.metadata.tables[name]) is not None
            }
    finally:
        engine.dispose()


def _copy(source: str, target: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    if "://" in source:
        env["DEARDIARY_DB_URL"] = source
        args = [DIARY, "db", "copy", "--to", target, *extra]
    else:
        args = [DIARY, "--db", source, "db", "copy", "--to", target, *extra]
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=300)


def test_a_store_goes_to_postgresql_and_back_unchanged(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "local.db"
    _fill(source)
    there = _copy(str(source), postgres_url, "--json")
    assert there.returncode == 0, there.stderr
    report = json.loads(there.stdout)
    assert report["rows"]["metric"] == 3 * 400 + 3
    assert report["added"] == report["rows"]
    back = tmp_path / "back.db"
    returned = _copy(postgres_url, str(back))
    assert returned.returncode == 0, returned.stderr
    assert "(verified)" in returned.stdout
    original = _dump(f"duckdb:///{source}")
    assert _dump(postgres_url) == original
    assert _dump(f"duckdb:///{back}") == original
    with diary.open(source) as a, diary.open(url=postgres_url) as b:
        found = search_runs(a, "metrics.loss < 0.01").rows
        assert search_runs(b, "metrics.loss < 0.01").rows == found
        first = search_runs(a, "params.opt = 'adam'").rows[0]
        iteration = first["id"]
        artifact = a.list_resources(first["experiment_id"])[0].id
        assert b.read_resource_data(artifact) == b"weights 0"
        assert list(b.metric_history(iteration, "loss").values) == list(
            a.metric_history(iteration, "loss").values
        )
    again = json.loads(_copy(str(source), postgres_url, "--json").stdout)
    assert set(again["added"].values()) == {0}


def test_a_killed_copy_is_finished_by_running_it_again(tmp_path: Path, postgres_url: str) -> None:
    source = tmp_path / "local.db"
    _fill(source, iterations=400, points=50)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    started = subprocess.Popen(
        [DIARY, "--db", str(source), "db", "copy", "--to", postgres_url],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert started.stderr is not None
    seen = b""
    # Killed once the first batch of points is in: half of them are still to copy.
    while b"metric: " not in seen:
        chunk = os.read(started.stderr.fileno(), 64)
        assert chunk, seen
        seen += chunk
    started.send_signal(signal.SIGKILL)
    started.wait(timeout=60)
    started.stderr.close()
    assert started.returncode == -signal.SIGKILL
    engine = sa.create_engine(postgres_url)
    with engine.connect() as conn:
        partial = conn.execute(sa.select(sa.func.count()).select_from(m.metric)).scalar()
    engine.dispose()
    assert 0 < partial < 400 * 100 + 400
    finished = _copy(str(source), postgres_url)
    assert finished.returncode == 0, finished.stderr
    assert _dump(postgres_url) == _dump(f"duckdb:///{source}")


def test_copying_a_database_onto_itself_is_refused(tmp_path: Path) -> None:
    source = tmp_path / "local.db"
    _fill(source, iterations=1, points=1)
    refused = _copy(str(source), str(source))
    assert (refused.returncode, refused.stdout) == (1, "")
    assert refused.stderr == f"Error: invalid --to '{source}': is the database being copied\n"
    missing = _copy(str(tmp_path / "nothing.db"), str(tmp_path / "x.db"))
    assert missing.returncode == 1
    assert missing.stderr.startswith("Error: ")
    assert not (tmp_path / "x.db").exists()
