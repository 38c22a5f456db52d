"""buildlog end to end: the real command in a subprocess, against real files in tmp_path."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

LEGACY_REWARD = {
    "id": "rew-9e945b24ce",
    "timestamp": "2026-02-05T14:45:00.123456+00:00",
    "outcome": "revision",
    "reward_value": 0.7,
    "rules_active": ["arch-b0fcb62a1e"],
    "revision_distance": 0.3,
    "session_id": "session-20260205-143012-123456",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """A private HOME and buildlog home: no test touches the real ~/.buildlog."""
    home = tmp_path / "home"
    home.mkdir()
    environment = dict(os.environ)
    environment.pop("BUILDLOG_DB", None)
    environment |= {
        "HOME": str(home),
        "BUILDLOG_HOME": str(tmp_path / "buildlog-home"),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_CONFIG_GLOBAL": str(home / ".gitconfig"),
    }
    return environment


def buildlog(
    env: dict[str, str], cwd: Path, *args: str, code: int = 0
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [sys.executable, "-m", "buildlog", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == code, (result.stdout, result.stderr)
    return result


def test_help_does_not_import_sqlalchemy(env: dict[str, str], tmp_path: Path) -> None:
    probe = (
        "import sys, runpy\n"
        "sys.argv = ['buildlog', '--help']\n"
        "try:\n"
        "    runpy.run_module('buildlog', run_name='__main__')\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(sorted(m for m in ('sqlalchemy', 'alembic', 'yaml') if m in sys.modules))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"
    assert "Commands:" in result.stdout


def test_legacy_project_migrate_export_import(env: dict[str, str], tmp_path: Path) -> None:
    project = tmp_path / "widgets"
    data = project / "buildlog" / ".buildlog"
    data.mkdir(parents=True)
    (data / "reward_events.jsonl").write_text(json.dumps(LEGACY_REWARD) + "\n")
    (data / "promoted.json").write_text(json.dumps({"skill_ids": ["arch-b0fcb62a1e"]}))
    (project / "buildlog" / "bandit_state.jsonl").write_text(
        json.dumps({"context": "general", "rule_id": "arch-b0fcb62a1e", "alpha": 2.0}) + "\n"
    )
    db = Path(env["BUILDLOG_HOME"]) / "buildlog.db"

    info = json.loads(buildlog(env, project, "info", "--json").stdout)
    assert (info["backend"], info["resolution_case"]) == ("legacy", 3)
    refused = buildlog(env, project, "reward", "accepted", code=1)
    assert refused.stderr.startswith("Error: cannot record rewards: ")
    assert "Traceback" not in refused.stderr
    assert not db.exists()

    dry = buildlog(env, project, "migrate", "--dry-run")
    assert "would import 1 records" in dry.stdout
    assert not db.exists()
    migrated = buildlog(env, project, "migrate")
    assert "renamed to reward_events.jsonl.migrated" in migrated.stdout
    assert oct(db.stat().st_mode & 0o777) == "0o600"
    assert oct(db.parent.stat().st_mode & 0o777) == "0o700"
    again = buildlog(env, project, "migrate")
    assert again.stdout == "nothing to migrate: no legacy files pending\n"

    buildlog(env, project, "reward", "accepted", "--rule", "arch-b0fcb62a1e")
    rewards = json.loads(buildlog(env, project, "rewards", "--json").stdout)["events"]
    assert rewards[-1]["id"] == "rew-9e945b24ce"  # newest first, as the original prints them
    assert len(rewards) == 2

    out = tmp_path / "export"
    buildlog(env, project, "export", "--output", str(out))
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"]["rewards"] == 2
    restored_env = env | {"BUILDLOG_DB": str(tmp_path / "restored.db")}
    imported = json.loads(buildlog(restored_env, project, "import", str(out), "--json").stdout)
    assert imported["added"]["rewards"] == 2
    buildlog(restored_env, project, "export", "--output", str(tmp_path / "again"))
    for name in ("rewards", "bandit_state", "skill_decisions"):
        first = (out / f"{name}.jsonl").read_bytes()
        assert (tmp_path / "again" / f"{name}.jsonl").read_bytes() == first


def test_debug_shows_the_traceback(env: dict[str, str], tmp_path: Path) -> None:
    plain = buildlog(env, tmp_path, "experiment", "end", code=1)
    assert plain.stderr == (
        "Error: no experiment is running; start one with 'buildlog experiment start'\n"
    )
    debug = buildlog(env, tmp_path, "--debug", "experiment", "end", code=1)
    assert "Traceback (most recent call last)" in debug.stderr
    assert "storage_core.errors.NotFound" in debug.stderr
