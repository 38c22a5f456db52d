"""Crash safety of ``buildlog migrate``: SIGKILL at random moments, then a rerun.

Each trial copies a large legacy folder (every file kind, thousands of records), starts the
real ``buildlog migrate`` in a child process and kills it with SIGKILL after a random delay
drawn over the measured length of a whole migration (first use of the database included).
Then the database must pass SQLite's integrity check and open, a rerun must complete, every
legacy record must be in the database exactly once, the legacy files must be byte-identical
(renamed ``*.migrated`` or still pending) and the project must hold nothing else.

``CHAOS_TRIALS`` sets the number of trials (5 by default, 50 in ``make chaos``);
``CHAOS_SEED`` replays a run (the seed is in every failure message).
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    HERE,
    LegacyFolder,
    chaos_trials,
    copy_legacy,
    current_isolation,
    integrity,
    isolated_buildlog,
    record_keys,
    tree,
    write_large_legacy,
)

from buildlog.db import open_engine
from buildlog.migrate import migrate_legacy
from buildlog.paths import database_location
from buildlog.project import identify_project


def _start(root: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    child = subprocess.Popen(
        [sys.executable, str(HERE), "migrate-child", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "ready"
    return child


def _go(child: subprocess.Popen[str]) -> None:
    assert child.stdin is not None
    child.stdin.write("go\n")
    child.stdin.flush()


def _finish(child: subprocess.Popen[str]) -> tuple[int, str, str]:
    out, err = child.communicate(timeout=120)
    return child.returncode, out, err


def _check_migrated(
    legacy: LegacyFolder, db: Path, project_id: str, context: str
) -> dict[str, list[tuple[object, ...]]]:
    """Every record exactly once; files byte-identical and archived; nothing else written."""
    found = record_keys(db, project_id)
    for table, expected in legacy.expected.items():
        rows = found[table]
        assert len(rows) == len(set(rows)), f"{context}: duplicates in {table}"
        assert set(rows) == expected, f"{context}: {table} differs"
    after = tree(legacy.root)
    wanted = {}
    for relative, data in legacy.files.items():
        name = relative
        if not relative.endswith((".md", ".yaml")):
            name = f"{relative}.migrated"
        wanted[name] = data
    assert after == wanted, f"{context}: the project folder holds {sorted(after)}"
    return found


@pytest.mark.slow
def test_sigkill_at_random_moments_of_migrate(tmp_path: Path) -> None:
    isolation = current_isolation()
    trials = chaos_trials()
    seed = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(1 << 32))))
    rng = random.Random(seed)
    template = write_large_legacy(tmp_path / "template" / "widgets")
    assert template.records > 5000

    # A database that already holds another project's records: half of the trials migrate
    # into a copy of it, the other half into a database created by the migration itself.
    populated = tmp_path / "populated.db"
    other = copy_legacy(template, tmp_path / "other" / "gadgets")
    migrate_legacy(other.root, str(populated))
    assert not populated.with_name("populated.db-wal").exists()

    # One undisturbed run measures how long a migration takes once Python is ready.
    calibration = copy_legacy(template, tmp_path / "calibration" / "widgets")
    env = isolation.env(BUILDLOG_DB=str(tmp_path / "calibration" / "buildlog.db"))
    child = _start(calibration.root, env)
    _go(child)
    code, out, err = _finish(child)
    assert (code, err) == (0, ""), out
    duration = float(out.split()[-1])
    project = identify_project(calibration.root)
    _check_migrated(calibration, tmp_path / "calibration" / "buildlog.db", project.id, "calib")

    killed = 0
    for trial in range(trials):
        context = f"trial {trial} (CHAOS_SEED={seed})"
        case = tmp_path / f"trial-{trial}"
        legacy = copy_legacy(template, case / "widgets")
        db = case / "db" / "buildlog.db"
        if trial % 2:
            db.parent.mkdir(parents=True)
            shutil.copyfile(populated, db)
            db.chmod(0o600)
        env = isolation.env(BUILDLOG_DB=str(db))
        delay = rng.uniform(0.0, 0.9 * duration)
        child = _start(legacy.root, env)
        _go(child)
        time.sleep(delay)
        if child.poll() is None:
            os.kill(child.pid, signal.SIGKILL)
        code, out, err = _finish(child)
        assert code in (0, -signal.SIGKILL), f"{context}: exit {code}: {out} {err}"
        killed += code == -signal.SIGKILL

        if db.exists() and db.stat().st_size:
            assert integrity(db) == "ok", context
            # The database opens through buildlog (finishing a first use cut short).
            engine, _status = open_engine(database_location(str(db)))
            engine.dispose()
        rerun = migrate_legacy(legacy.root, str(db))
        assert rerun.issues == [], context
        assert all(f.status == "migrated" for f in rerun.files), (context, rerun.files)
        assert rerun.report is None or rerun.report.ok, context
        project_id = identify_project(legacy.root).id
        _check_migrated(legacy, db, project_id, context)
        if trial % 2:
            # The other project's records are untouched.
            _check_migrated_other(populated, db, other)
        again = migrate_legacy(legacy.root, str(db))
        assert (again.files, again.changed) == ([], False), context
    # The delays cover a whole migration, so most trials kill it part-way.
    assert killed >= (trials + 1) // 2, f"only {killed} of {trials} trials were killed"


def _check_migrated_other(populated: Path, db: Path, other: LegacyFolder) -> None:
    project_id = identify_project(other.root).id
    assert record_keys(db, project_id) == record_keys(populated, project_id)
