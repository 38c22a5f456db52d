"""Many writers on one PostgreSQL database at once: every point and record arrives once.

Half of the diary writers run as a second "machine": a process tree of their own (started
through a shell) with another home and working folder. No file lock is involved on a server.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

import diary
from diary.query import search_runs

_DIARY_WRITER = """
import sys, diary
url, parent, name = sys.argv[1], sys.argv[2], sys.argv[3]
with diary.open(url=url, buffered=True) as store:
    experiment = store.get_iteration(parent).experiment_id
    with store.iteration(experiment, parent=parent, snapshot=False) as child:
        for step in range(500):
            child.log_metric("loss", 1.0 / (step + 1), step)
            # Every writer also logs to the shared parent, under a key of its own.
            store.log_metric(parent, "loss-" + name, step / 500, step)
        child.log_param("writer", name)
"""

_BUILDLOG_WRITER = """
import sys
from buildlog.cli import cli
for n in range(25):
    try:
        cli(["--db", sys.argv[1], "reward", "accepted", "-n", sys.argv[2] + "-" + str(n)],
            prog_name="buildlog", standalone_mode=False)
    except SystemExit:
        pass
"""


def _env(home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEARDIARY_", "BUILDLOG_"))}
    home.mkdir(parents=True, exist_ok=True)
    env["HOME"] = str(home)
    return env


def test_eight_diary_writers_on_one_iteration_tree(postgres_url: str, tmp_path: Path) -> None:
    with diary.open(url=postgres_url) as store:
        project = store.create_project("team")
        experiment = store.create_experiment(project.id, "sweep")
        parent = store.create_iteration(experiment.id, snapshot=False).id
    started = []
    for n in range(8):
        args = [sys.executable, "-c", _DIARY_WRITER, postgres_url, str(parent), f"w{n}"]
        if n % 2:  # the second machine: its own shell, home and working folder
            machine = tmp_path / "machine-b"
            command = " ".join(f"'{a}'" for a in args)
            started.append(subprocess.Popen(
                ["sh", "-c", f"cd '{machine}' && exec {command}"],
                env=_env(machine / "home"), stderr=subprocess.PIPE, text=True,
            ))  # fmt: skip
        else:
            started.append(subprocess.Popen(
                args, cwd=tmp_path, env=_env(tmp_path / "home"), stderr=subprocess.PIPE, text=True,
            ))  # fmt: skip
    errors = [process.communicate(timeout=280)[1] for process in started]
    assert [p.returncode for p in started] == [0] * 8, errors
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            per_key = dict(
                conn.execute(
                    sa.text("SELECT key, count(DISTINCT step) FROM metric "
                            "WHERE iteration_id = :p GROUP BY key"), {"p": parent}
                ).all()
            )  # fmt: skip
            total = conn.execute(sa.text("SELECT count(*) FROM metric")).scalar()
            children = conn.execute(
                sa.text("SELECT count(*) FROM iteration WHERE parent_id = :p"), {"p": parent}
            ).scalar()
    finally:
        engine.dispose()
    assert per_key == {f"loss-w{n}": 500 for n in range(8)}
    assert children == 8
    assert total == 8 * 500 * 2  # every point exactly once
    with diary.open(url=postgres_url) as store:
        assert len(search_runs(store, "metrics.loss < 0.01")) == 8


def test_eight_buildlog_writers_on_one_project(postgres_url: str, tmp_path: Path) -> None:
    project = tmp_path / "widgets"
    project.mkdir()
    started = [
        subprocess.Popen(
            [sys.executable, "-c", _BUILDLOG_WRITER, postgres_url, f"w{n}"],
            cwd=project,
            env=_env(tmp_path / "home"),
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in range(8)
    ]
    errors = [process.communicate(timeout=280)[1] for process in started]
    assert [p.returncode for p in started] == [0] * 8, errors
    engine = sa.create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            notes = {row[0] for row in conn.execute(sa.text("SELECT notes FROM reward_events"))}
    finally:
        engine.dispose()
    assert notes == {f"w{n}-{i}" for n in range(8) for i in range(25)}
