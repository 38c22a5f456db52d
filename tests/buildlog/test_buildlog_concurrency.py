"""Eight processes writing at once through the SQLite backend lose nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from buildlog.backends.resolve import resolve_backend

WRITER = """
import sys
from buildlog.backends.resolve import resolve_backend
from buildlog.identifiers import reward_id
from buildlog.records import RewardEvent

worker, count, root = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
backend = resolve_backend(root).backend
for n in range(count):
    stamp = f"2026-02-05T14:45:00.{worker:02d}{n:04d}+00:00"
    record = RewardEvent(reward_id("accepted", stamp), stamp, "accepted", 1.0, source=f"w{worker}")
    # One transaction per record: the worst case for lock contention.
    assert backend.append_events("rewards", [record]) == 1
    backend.update_arm("general", "shared-rule", 1.0 if n % 2 == 0 else 0.0)
backend.close()
"""

WORKERS = 8
RECORDS = 500


@pytest.mark.slow
def test_eight_writers_lose_nothing(project: Path) -> None:
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(worker), str(RECORDS), str(project)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for worker in range(WORKERS)
    ]
    failures = [(p.wait(), p.stderr.read() if p.stderr else "") for p in processes]
    for process in processes:
        if process.stderr:
            process.stderr.close()
    assert failures == [(0, "")] * WORKERS
    backend = resolve_backend(project).backend
    try:
        assert backend.count_events("rewards") == WORKERS * RECORDS
        ids = {r.id for r in backend.load_events("rewards")}
        assert len(ids) == WORKERS * RECORDS
        (arm,) = backend.load_bandit_state()
        # Every read-modify-write of the shared arm counted: 1 + 2000 successes, 1 + 2000 failures.
        assert (arm.alpha, arm.beta) == (1.0 + WORKERS * RECORDS / 2, 1.0 + WORKERS * RECORDS / 2)
        assert len(backend.list_projects()) == 1
    finally:
        backend.close()
