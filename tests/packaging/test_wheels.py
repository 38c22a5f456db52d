"""The wheels are complete: built from the workspace, installed into a fresh venv without the
dev dependencies, their commands run and their packaged files (py.typed, migrations) are there."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from install_support import PACKAGES


@pytest.fixture(scope="module")
def venv(uv: str, wheels: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(where)], check=True)
    subprocess.run(
        [
            uv,
            "pip",
            "install",
            "--quiet",
            "--python",
            str(where / "bin" / "python"),
            *map(str, wheels.values()),
        ],
        check=True,
    )
    return where / "bin"


def _run(venv: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEARDIARY_", "BUILDLOG_"))}
    env["HOME"] = str(cwd)
    return subprocess.run(
        [str(venv / args[0]), *args[1:]],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(("package", "module"), [(k, v[1]) for k, v in PACKAGES.items()])
def test_wheel_ships_py_typed(wheels: dict[str, Path], package: str, module: str) -> None:
    with zipfile.ZipFile(wheels[package]) as archive:
        assert f"{module}/py.typed" in archive.namelist()


def test_dev_tools_are_not_installed(venv: Path, tmp_path: Path) -> None:
    result = _run(
        venv,
        "python",
        "-c",
        "import importlib.util as u; print(u.find_spec('pytest'))",
        cwd=tmp_path,
    )
    assert result.stdout.strip() == "None"


@pytest.mark.parametrize("command", ["diary", "buildlog"])
def test_commands_run_from_the_wheel(venv: Path, tmp_path: Path, command: str) -> None:
    result = _run(venv, command, "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"Usage: {command}" in result.stdout


def test_storage_core_round_trip_from_the_wheel(venv: Path, tmp_path: Path) -> None:
    code = (
        "from storage_core.blobs import open_blob_store\n"
        "store = open_blob_store('data')\n"
        "info = store.put('aa/one', b'hello')\n"
        "assert store.get('aa/one') == b'hello'\n"
        "print(info.sha256)\n"
    )
    result = _run(venv, "python", "-c", code, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == (
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"
    )


def test_diary_runs_its_packaged_migrations(venv: Path, tmp_path: Path) -> None:
    created = _run(
        venv, "diary", "--db", "new.db", "project", "create", "demo", "--json", cwd=tmp_path
    )
    assert created.returncode == 0, created.stderr
    assert json.loads(created.stdout)["name"] == "demo"
    check = _run(venv, "diary", "--db", "new.db", "db", "check", cwd=tmp_path)
    assert check.returncode == 0, check.stderr


def test_buildlog_runs_its_packaged_migrations(venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    recorded = _run(
        venv, "buildlog", "--project-root", str(project), "reward", "accepted", cwd=tmp_path
    )
    assert recorded.returncode == 0, recorded.stderr
    listed = _run(
        venv, "buildlog", "--project-root", str(project), "rewards", "--json", cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    assert [row["outcome"] for row in json.loads(listed.stdout)["events"]] == ["accepted"]
    assert (tmp_path / ".buildlog" / "buildlog.db").exists()
