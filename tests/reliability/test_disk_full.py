"""A full disk, for both packages: one line that says so and names the file, nothing stored,
everything stored before intact, and the next run works once there is space again.

The disk is a real, small tmpfs mounted for the test (CI runs as root, which mounting needs);
a filler file takes the space that is left, so the next write of any size fails with ENOSPC.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    current_isolation,
    git_repo,
    isolated_buildlog,
)

import diary
from diary.errors import StorageError
from storage_core.errors import DiskFull

BIN = Path(sys.executable).parent
DISK_FULL_TAIL = (
    " (No space left on device); nothing of this command was stored and everything stored "
    "before is kept; free some space and run it again\n"
)


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """An 8 MiB tmpfs of our own (unmounted afterwards)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", str(mount)], check=True)
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=True)


def _fill(disk: Path) -> Path:
    """Take every free byte of ``disk`` with one file (returned, to be removed later)."""
    filler = disk / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        for size in (1 << 16, 4096, 512, 1):  # down to the last partial block
            try:
                while os.write(fd, b"\0" * size):
                    pass
            except OSError:
                continue
    finally:
        os.close(fd)
    return filler


def _run(tool: str, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    return subprocess.run(
        [str(BIN / tool), *args],
        cwd=cwd,
        env={**base, **current_isolation().env(), **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_diary_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    db = small_disk / "d.db"
    with diary.open(db, buffered=False) as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        iteration = store.create_iteration(experiment).id
        store.log_points(iteration, [("loss", i / 3, i) for i in range(1000)])
    points = tmp_path / "points.csv"
    points.write_text("key,value,step\n" + "".join(f"loss,{i},{i}\n" for i in range(1000, 400_000)))
    artifact = tmp_path / "weights.bin"
    artifact.write_bytes(os.urandom(1 << 20))
    filler = _fill(small_disk)
    commands = {
        "metrics": (["log", "metrics", str(iteration), str(points)], {}),
        "artifact": (
            ["artifact", "put", str(experiment), str(artifact)],
            {"DEARDIARY_ARTIFACT_BACKEND": "filesystem"},
        ),
        "inline artifact": (["artifact", "put", str(experiment), str(artifact)], {}),
        "compact": (["db", "compact"], {}),
    }
    for name, (args, env) in commands.items():
        result = _run("diary", "--db", str(db), *args, cwd=small_disk, **env)
        assert result.returncode == 1, name
        assert result.stderr.startswith("Error: the disk is full: could not write "), name
        assert result.stderr.endswith(DISK_FULL_TAIL), (name, result.stderr)
        assert str(small_disk) in result.stderr, name
    with pytest.raises(DiskFull) as raised, diary.open(db, buffered=False) as store:
        store.log_points(iteration, [("more", float(i), i) for i in range(300_000)])
    assert isinstance(raised.value, StorageError)
    filler.unlink()
    with diary.open(db, buffered=False) as store:
        assert list(store.metric_history(iteration, "loss").steps) == list(range(1000))
        assert store.metric_keys(iteration) == ["loss"]
        assert store.list_resources(experiment) == []
        store.log_metric(iteration, "loss", 1.0, 1000)
    assert not any(p.name.startswith(".d.db.compact") for p in small_disk.iterdir())


def test_buildlog_on_a_full_disk(small_disk: Path, tmp_path: Path) -> None:
    project = git_repo(tmp_path / "project")
    home = small_disk / "buildlog-home"
    env = {"BUILDLOG_HOME": str(home), "BUILDLOG_DB": str(home / "buildlog.db")}
    first = _run("buildlog", "reward", "accepted", cwd=project, **env)
    assert first.returncode == 0, first.stderr
    notes = "x" * 100_000  # a write bigger than any page left free
    filler = _fill(small_disk)
    result = _run("buildlog", "reward", "rejected", "--notes", notes, cwd=project, **env)
    assert result.returncode == 1
    assert result.stderr == (
        f"Error: the disk is full: could not write {home / 'buildlog.db'}{DISK_FULL_TAIL}"
    )
    exported = _run("buildlog", "export", "-o", str(small_disk / "out"), cwd=project, **env)
    assert exported.returncode == 1
    assert exported.stderr.startswith("Error: ")
    assert "Traceback" not in exported.stderr
    filler.unlink()
    listed = _run("buildlog", "rewards", "--json", cwd=project, **env)
    assert listed.returncode == 0, listed.stderr
    events = json.loads(listed.stdout)["events"]
    assert [event["outcome"] for event in events] == ["accepted"]
