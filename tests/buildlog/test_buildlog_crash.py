"""SIGKILL at random points of a migrate, then a rerun: every record present exactly once."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import blsamples
import pytest

from buildlog.migrate import migrate_legacy

# Runs migrate in a child process that kills itself with SIGKILL right before its K-th
# database statement, commit or file rename (K = 0: count them and print the total).
CHILD = """
import os, signal, sys
import sqlalchemy as sa
from sqlalchemy.engine import Engine
import buildlog.migrate
from buildlog.migrate import migrate_legacy

kill_at, root = int(sys.argv[1]), sys.argv[2]
seen = 0

def tick(*_args, **_kw):
    global seen
    seen += 1
    if seen == kill_at:
        os.kill(os.getpid(), signal.SIGKILL)

sa.event.listen(Engine, "before_cursor_execute", tick)
sa.event.listen(Engine, "commit", tick)
real_rename = os.rename

def rename(src, dst):
    tick()
    real_rename(src, dst)

buildlog.migrate.os.rename = rename
migrate_legacy(root)
print(seen)
"""

KILLS = 12
EXPECTED = {
    "reward_events": 3,
    "sessions": 2,
    "mistakes": 2,
    "skill_decisions": 4,
    "review_learnings": 2,
    "review_history": 2,
    "active_sessions": 1,
    "bandit_arms": 2,
    "posterior_snapshots": 1,
    "projects": 1,
}


def _child(kill_at: int, root: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CHILD, str(kill_at), str(root)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )


def _counts(db: Path) -> dict[str, int]:
    conn = sqlite3.connect(db)
    try:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in EXPECTED}
    finally:
        conn.close()


@pytest.mark.slow
def test_sigkill_during_migrate_then_rerun(tmp_path: Path) -> None:
    env = dict(os.environ)
    counting_root = tmp_path / "count" / "widgets"
    blsamples.write_legacy(counting_root)
    env["BUILDLOG_DB"] = str(tmp_path / "count" / "buildlog.db")
    counted = _child(0, counting_root, env)
    assert counted.returncode == 0, counted.stderr
    total = int(counted.stdout.split()[-1])
    assert total > 40  # schema creation, registration, nine files, nine renames

    rng = random.Random(20260205)
    # The first and the last point, a few random ones in the first half (schema creation,
    # registration) and most in the second half, where the files are imported and renamed.
    half = total // 2
    points = sorted(
        {1, total, *rng.sample(range(2, half), 3), *rng.sample(range(half, total), KILLS - 5)}
    )
    assert len(points) == KILLS
    for kill_at in points:
        case = tmp_path / f"kill-{kill_at}"
        root = case / "widgets"
        blsamples.write_legacy(root)
        db = case / "buildlog.db"
        env["BUILDLOG_DB"] = str(db)
        killed = _child(kill_at, root, env)
        assert killed.returncode == -signal.SIGKILL, (kill_at, killed.stderr)
        os.environ["BUILDLOG_DB"] = str(db)
        rerun = migrate_legacy(root)
        assert rerun.issues == [], kill_at
        assert all(f.status == "migrated" for f in rerun.files), kill_at
        assert _counts(db) == EXPECTED, kill_at
        data = root / ".buildlog"
        assert not [p for p in data.iterdir() if not p.name.endswith(".migrated")], kill_at
        assert (data / "reward_events.jsonl.migrated").read_text() == blsamples.jsonl(
            blsamples.REWARDS
        )
        again = migrate_legacy(root)
        assert (again.files, again.changed) == ([], False)
