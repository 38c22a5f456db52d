"""A reader that goes away early (`| head -1`) ends both CLIs quietly, as it ends Unix tools.

Each command prints far more than a pipe holds (64 KiB), so it is still writing when ``head``
exits: stderr stays empty, the status is 141 (what a shell reports for SIGPIPE; 0 when the
last write happened to fit the pipe) and the stored data is unchanged.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    current_isolation,
    git_repo,
    isolated_buildlog,
    write_large_legacy,
)
from diary_support import tree_digest

import diary

BIN = Path(sys.executable).parent


def _through_head(command: list[str], cwd: Path, env: dict[str, str]) -> tuple[str, str, str]:
    """Run ``command | head -1`` in bash; return head's output, the command's stderr and status."""
    quoted = " ".join(f"'{part}'" for part in command)
    script = f'{quoted} 2>"$ERR" | head -1; echo "status=${{PIPESTATUS[0]}}"'
    err = cwd / "stderr.txt"
    result = subprocess.run(
        ["bash", "-c", script],
        cwd=cwd,
        env={**env, "ERR": str(err)},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    first, status = result.stdout.splitlines()
    return first, err.read_text(), status


@pytest.fixture
def diary_db(tmp_path: Path) -> tuple[Path, str]:
    path = tmp_path / "d.db"
    with diary.open(path) as store:
        project = store.create_project("p")
        for number in range(300):  # 300 lines of over 250 characters: more than a pipe holds
            store.create_project(f"project {number}", description="a long description " * 14)
        iteration = store.create_iteration(store.create_experiment(project.id, "e").id).id
        store.log_points(iteration, [("loss", step / 3, step) for step in range(20_000)])
    return path, str(iteration)


@pytest.mark.parametrize(
    ("args", "header"),
    [
        (["metric", "history", "{it}", "loss"], "STEP"),
        (["metric", "history", "{it}", "loss", "--format", "csv"], "step,value,timestamp"),
        (["metric", "history", "{it}", "loss", "--json"], "["),
        (["project", "list"], "ID"),
        (["project", "list", "--json"], "["),
    ],
)
def test_diary_stops_quietly_when_the_reader_is_gone(
    diary_db: tuple[Path, str], tmp_path: Path, args: list[str], header: str
) -> None:
    path, iteration = diary_db
    before = tree_digest(path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    command = [str(BIN / "diary"), "--db", str(path), *(a.format(it=iteration) for a in args)]
    first, stderr, status = _through_head(command, tmp_path, env)
    assert first.startswith(header)
    assert stderr == ""
    assert status in ("status=141", "status=0")
    assert tree_digest(path) == before


def test_buildlog_stops_quietly_when_the_reader_is_gone(tmp_path: Path) -> None:
    isolation = current_isolation()
    project = git_repo(tmp_path / "project", "https://example.com/acme/pipe.git")
    write_large_legacy(project)
    for args in (["rewards"], ["rewards", "--json"], ["sessions"]):
        first, stderr, status = _through_head(
            [str(BIN / "buildlog"), *args], project, isolation.env()
        )
        assert first
        assert stderr == "", args
        assert status in ("status=141", "status=0"), args
    assert not isolation.db.exists()
