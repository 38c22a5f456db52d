"""End to end: the installed ``diary`` command in real subprocesses, two at once on one file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

DIARY = str(Path(sys.executable).with_name("diary"))


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A clean environment pointing diary at a file in tmp_path."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    return {**clean, "DEARDIARY_DB_FILE": str(tmp_path / "e2e.db")}


def diary(env: dict[str, str], *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [DIARY, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )
    if check:
        assert done.returncode == 0, done.stderr
    return done


def test_walk_through_with_the_installed_command(env: dict[str, str], tmp_path: Path) -> None:
    project = json.loads(diary(env, "project", "create", "e2e", "--json").stdout)["id"]
    experiment = diary(env, "experiment", "create", project, "exp").stdout.strip()
    iteration = diary(env, "iteration", "start", experiment).stdout.strip()
    diary(env, "log", "param", iteration, "lr", "0.01")
    for value in ("0.9", "0.5", "0.1"):
        diary(env, "log", "metric", iteration, "loss", value)
    history = json.loads(diary(env, "metric", "history", iteration, "loss", "--json").stdout)
    assert [(p["step"], p["value"]) for p in history] == [(0, 0.9), (1, 0.5), (2, 0.1)]
    diary(env, "iteration", "end", iteration)
    shown = json.loads(diary(env, "iteration", "show", iteration, "--json").stdout)
    assert shown["status"] == "succeeded"
    failed = diary(env, "iteration", "show", "missing", check=False)
    assert (failed.returncode, failed.stdout, failed.stderr) == (
        1,
        "",
        "Error: iteration not found: missing\n",
    )
    module = subprocess.run(
        [sys.executable, "-m", "diary", "--version"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert module.stdout == "diary, version 0.1.0\n"


TRAINING = textwrap.dedent(
    """
    import sys
    import diary

    with diary.open() as store:
        with store.iteration(sys.argv[1], snapshot=False) as it:
            print(it.id, flush=True)
            for step in range(3000):
                it.log_metrics({"loss": 1 / (step + 1), "acc": step / 3000})
    """
)


def test_a_training_process_and_the_cli_at_once(env: dict[str, str]) -> None:
    project = diary(env, "project", "create", "p").stdout.strip()
    experiment = diary(env, "experiment", "create", project, "e").stdout.strip()
    other = diary(env, "iteration", "start", experiment).stdout.strip()
    trainer_env = {**env, "DEARDIARY_FLUSH_INTERVAL": "0.02"}
    with subprocess.Popen(
        [sys.executable, "-c", TRAINING, experiment],
        env=trainer_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as trainer:
        assert trainer.stdout is not None
        training = trainer.stdout.readline().strip()
        # While the trainer logs and flushes, the CLI reads its history and logs elsewhere.
        for step in range(8):
            read = diary(env, "metric", "history", training, "loss", "--format", "csv")
            assert read.stdout.startswith("step,value,timestamp\n")
            diary(env, "log", "metric", other, "cli", str(step))
        _, err = trainer.communicate(timeout=240)
        assert trainer.returncode == 0, err
        assert "Could not set lock" not in err
    history = json.loads(diary(env, "metric", "history", training, "loss", "--json").stdout)
    assert [p["step"] for p in history] == list(range(3000))
    cli_points = json.loads(diary(env, "metric", "history", other, "cli", "--json").stdout)
    assert [p["value"] for p in cli_points] == [float(v) for v in range(8)]
    status = json.loads(diary(env, "iteration", "show", training, "--json").stdout)["status"]
    assert status == "succeeded"


def test_the_command_line_on_a_postgresql_server(postgres_url: str) -> None:
    """Every step through DEARDIARY_DB_URL, against a real PostgreSQL server."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    env = {**clean, "DEARDIARY_DB_URL": postgres_url}
    diary(env, "project", "create", "team")
    experiment = diary(env, "experiment", "create", "team", "sweep").stdout.strip()
    iteration = diary(env, "iteration", "start", experiment).stdout.strip()
    diary(env, "log", "param", iteration[:8], "lr", "0.1")
    for value in ("0.9", "0.4"):
        diary(env, "log", "metric", iteration[:8], "loss", value)
    diary(env, "iteration", "end", iteration)
    found = json.loads(diary(env, "iteration", "search", "metrics.loss < 0.5", "--json").stdout)
    assert [(row["id"], row["params.lr"], row["metrics.loss"]) for row in found] == [
        (iteration, "0.1", 0.4)
    ]
    history = diary(env, "metric", "history", iteration, "loss", "--format", "csv").stdout
    assert [line.split(",")[:2] for line in history.splitlines()[1:]] == [
        ["0", "0.9"],
        ["1", "0.4"],
    ]
    assert diary(env, "db", "current").stdout.strip() == "0005_metric_summary"
    shown = diary(env, "config").stdout
    assert "postgres@" in shown  # no password: none is shown, not "***"
    assert ":***@" not in shown
    for args in (["db", "backup", "copy.db"], ["db", "compact"]):  # files only: one line each
        refused = diary(env, *args, check=False)
        assert (refused.returncode, refused.stderr.count("\n")) == (1, 1), args
        assert refused.stderr.startswith("Error: "), args
        assert ":***@" not in refused.stderr, args


def test_a_server_that_is_not_there_is_one_error_line(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    env = {**clean, "DEARDIARY_DB_URL": "postgresql+psycopg://bob:s3cret-pw@127.0.0.1:1/runs"}
    failed = diary(env, "project", "list", check=False)
    assert (failed.returncode, failed.stdout) == (1, "")
    assert failed.stderr.startswith(
        "Error: postgresql+psycopg://bob:***@127.0.0.1:1/runs cannot be reached: "
    )
    assert "s3cret-pw" not in failed.stderr
    assert len(failed.stderr.splitlines()) == 1
