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


def test_alembic_and_the_db_commands_on_a_postgresql_server(postgres_server: str) -> None:
    """Both schemas on a real server: alembic from the repository root, then each tool's own
    ``db current`` and ``db check``. Each tool gets a database of its own."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        for name in ("ops_diary", "ops_buildlog"):
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE {name}")
    admin.dispose()
    base = make_url(postgres_server)
    diary_url = base.set(database="ops_diary").render_as_string(hide_password=False)
    buildlog_url = base.set(database="ops_buildlog").render_as_string(hide_password=False)
    env = _env(DEARDIARY_DB_URL=diary_url, BUILDLOG_DB=buildlog_url)
    for package, tool in (("diary", "diary"), ("buildlog", "buildlog")):
        upgraded = _run("alembic", "-n", package, "upgrade", "head", env=env)
        assert upgraded.returncode == 0, upgraded.stderr
        current = _run("alembic", "-n", package, "current", env=env)
        assert current.stdout.strip().endswith("(head)"), current.stdout
        check = _run(tool, "db", "check", env=env)
        assert check.returncode == 0, check.stderr
        assert _run(tool, "db", "current", env=env).returncode == 0
