"""Operators upgrade both schemas with alembic from the repository root (alembic.ini)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEARDIARY_", "BUILDLOG_"))}
    env.update(extra)
    return env


def _run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_alembic_upgrades_diary_from_the_repository_root(tmp_path: Path) -> None:
    env = _env(DEARDIARY_DB_FILE=str(tmp_path / "ops.db"))
    upgraded = _run("alembic", "-n", "diary", "upgrade", "head", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    current = _run("alembic", "-n", "diary", "current", env=env)
    assert current.stdout.strip().endswith("(head)")
    check = _run("diary", "db", "check", env=env)
    assert check.returncode == 0, check.stderr


def test_alembic_url_option_points_elsewhere(tmp_path: Path) -> None:
    target = tmp_path / "other.db"
    env = _env(DEARDIARY_DB_FILE=str(tmp_path / "unused.db"))
    result = _run(
        "alembic", "-n", "diary", "-x", f"url=duckdb:///{target}", "upgrade", "head", env=env
    )
    assert result.returncode == 0, result.stderr
    assert target.exists()
    assert not (tmp_path / "unused.db").exists()


def test_alembic_upgrades_buildlog_with_private_files(tmp_path: Path) -> None:
    home = tmp_path / "home" / ".buildlog"
    env = _env(BUILDLOG_HOME=str(home))
    upgraded = _run("alembic", "-n", "buildlog", "upgrade", "head", env=env)
    assert upgraded.returncode == 0, upgraded.stderr
    assert stat.S_IMODE(home.stat().st_mode) == 0o700
    assert stat.S_IMODE((home / "buildlog.db").stat().st_mode) == 0o600
    check = _run("buildlog", "db", "check", env=env)
    assert check.returncode == 0, check.stderr
