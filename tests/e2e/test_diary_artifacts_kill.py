"""``diary artifact migrate`` killed with SIGKILL at random moments loses nothing.

Each trial starts a real migration subprocess (alternately to the filesystem and back to
inline), kills it at a random moment, and checks that every artifact still reads back
byte-identical. A final run completes the job; verify then finds nothing missing or corrupt
and gc removes whatever orphans the kills left.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

import diary
from diary.artifacts import verify_artifacts
from diary.config import load_settings
from diary.store import Store

TRIALS = 12


def _environ(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    env.update(
        DEARDIARY_DB_FILE=str(tmp_path / "diary.db"),
        DEARDIARY_ARTIFACT_FS_ROOT=str(tmp_path / "artifacts"),
    )
    return env


def _open(tmp_path: Path) -> Store:
    environ = {k: v for k, v in _environ(tmp_path).items() if k.startswith("DEARDIARY_")}
    return Store(load_settings(environ=environ), buffered=False)


def _check_all(tmp_path: Path, expected: dict[UUID, bytes]) -> None:
    with _open(tmp_path) as store:
        for resource_id, data in expected.items():
            assert store.read_resource_data(resource_id) == data, resource_id


@pytest.mark.slow
def test_sigkill_during_migration_loses_nothing(tmp_path: Path) -> None:
    expected: dict[UUID, bytes] = {}
    with _open(tmp_path) as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        rng = random.Random(4)
        for i in range(80):
            data = rng.randbytes(rng.randint(0, 200_000))
            expected[store.put_artifact(experiment, data, name=f"a{i}").id] = data
    env = _environ(tmp_path)

    def migrate(target: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "diary", "artifact", "migrate", "--from", "any",
             "--to", target, "--workers", "3"],
            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip

    # Calibrate: kill points are spread over how long a whole run takes on this machine, so
    # the kills land mid-run however fast the migration is.
    durations = []
    for target in ("filesystem", "inline"):
        started = time.monotonic()
        assert migrate(target).wait(timeout=120) == 0
        durations.append(time.monotonic() - started)
    whole_run = min(durations)
    killed_at = []
    for trial in range(TRIALS):
        process = migrate("filesystem" if trial % 2 == 0 else "inline")
        delay = random.Random(trial).uniform(0.3 * whole_run, 0.9 * whole_run)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        killed_at.append((delay, process.returncode))
        _check_all(tmp_path, expected)
    # At least some trials must have died mid-run (else the test proves nothing).
    assert sum(code == -signal.SIGKILL for _, code in killed_at) >= TRIALS // 2, killed_at
    finished = subprocess.run(
        [sys.executable, "-m", "diary", "artifact", "migrate", "--from", "any", "--to",
         "filesystem"],
        env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert finished.returncode == 0, finished.stderr
    _check_all(tmp_path, expected)
    with _open(tmp_path) as store:
        assert {r.backend for r in store.list_resources(experiment)} == {"filesystem"}
        report = verify_artifacts(store, gc=True, grace=timedelta(0))
        assert report.problems == []
        assert verify_artifacts(store).ok
    assert diary  # the package under test
