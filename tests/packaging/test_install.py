"""Installing as a user would, outside the repository: from a git URL with a subdirectory, from
built wheels, and with ``uv tool install``; then both commands run from the new environment.

Each install goes into a fresh virtualenv (or tool folder) under ``tmp_path``, never the
project's ``.venv``, so a missing dependency declaration fails here."""

from __future__ import annotations

import email.parser
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from install_support import PACKAGES, ROOT


def _clean_env(home: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEARDIARY_", "BUILDLOG_"))}
    env.pop("VIRTUAL_ENV", None)
    env["HOME"] = str(home)
    env.update(extra)
    return env


def _new_venv(uv: str, where: Path) -> Path:
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(where)], check=True)
    return where / "bin"


def _uv_pip_install(uv: str, bin_dir: Path, *requirements: str, cwd: Path) -> None:
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(bin_dir / "python"), *requirements],
        cwd=cwd,
        env=_clean_env(cwd),
        check=True,
    )


def _use_both_commands(bin_dir: Path, work: Path) -> None:
    """The smallest real job for each command: a new database, a record, the record read back."""
    env = _clean_env(work)
    run = {"cwd": work, "env": env, "capture_output": True, "text": True, "check": False}
    created = subprocess.run(
        [str(bin_dir / "diary"), "--db", "runs.db", "project", "create", "demo", "--json"], **run
    )
    assert created.returncode == 0, created.stderr
    assert '"name": "demo"' in created.stdout
    project = work / "project"
    project.mkdir()
    rewarded = subprocess.run(
        [str(bin_dir / "buildlog"), "--project-root", str(project), "reward", "accepted"], **run
    )
    assert rewarded.returncode == 0, rewarded.stderr
    listed = subprocess.run(
        [str(bin_dir / "buildlog"), "--project-root", str(project), "rewards", "--json"], **run
    )
    assert listed.returncode == 0, listed.stderr
    assert '"outcome": "accepted"' in listed.stdout


def _snapshot_repository(target: Path) -> Path:
    """A git repository holding the working tree's packages, so the git-URL install tests the
    files as they are now (a clone of HEAD would test the last commit instead)."""
    target.mkdir()
    shutil.copytree(
        ROOT / "packages",
        target / "packages",
        ignore=shutil.ignore_patterns("__pycache__", "*.egg-info", ".pytest_cache"),
    )
    git = ["git", "-c", "user.name=test", "-c", "user.email=test@example.invalid"]
    subprocess.run([*git, "init", "--quiet", str(target)], check=True)
    subprocess.run([*git, "-C", str(target), "add", "."], check=True)
    subprocess.run([*git, "-C", str(target), "commit", "--quiet", "-m", "snapshot"], check=True)
    return target


def test_install_from_a_git_url_with_subdirectories(uv: str, tmp_path: Path) -> None:
    repo = _snapshot_repository(tmp_path / "repo")
    bin_dir = _new_venv(uv, tmp_path / "venv")
    url = f"git+file://{repo}"
    _uv_pip_install(
        uv,
        bin_dir,
        *(
            f"{name} @ {url}#subdirectory=packages/{folder}"
            for name, (folder, _) in PACKAGES.items()
        ),
        cwd=tmp_path,
    )
    _use_both_commands(bin_dir, tmp_path)


def test_install_from_built_wheels_by_distribution_name(
    uv: str, wheels: dict[str, Path], tmp_path: Path
) -> None:
    bin_dir = _new_venv(uv, tmp_path / "venv")
    (dist,) = {wheel.parent for wheel in wheels.values()}
    _uv_pip_install(
        uv, bin_dir, "--find-links", str(dist), "deardiary-tracking", "buildlog-store", cwd=tmp_path
    )
    _use_both_commands(bin_dir, tmp_path)


def test_uv_tool_install_puts_both_commands_on_path(uv: str, tmp_path: Path) -> None:
    tools, bin_dir = tmp_path / "tools", tmp_path / "bin"
    env = _clean_env(tmp_path, UV_TOOL_DIR=str(tools), UV_TOOL_BIN_DIR=str(bin_dir))
    for folder in ("diary", "buildlog"):
        subprocess.run(
            [uv, "tool", "install", "--quiet", f"./packages/{folder}"],
            cwd=ROOT,
            env=env,
            check=True,
        )
    assert sorted(path.name for path in bin_dir.iterdir()) == ["buildlog", "diary"]
    _use_both_commands(bin_dir, tmp_path)


def _metadata(wheel: Path) -> email.message.Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = (n for n in archive.namelist() if n.endswith(".dist-info/METADATA"))
        return email.parser.Parser().parsestr(archive.read(name).decode())


@pytest.mark.parametrize("package", PACKAGES)
def test_requirements_are_ranges_with_an_upper_bound(wheels: dict[str, Path], package: str) -> None:
    for requirement in _metadata(wheels[package]).get_all("Requires-Dist") or []:
        spec = requirement.split(";")[0]
        assert "==" not in spec, f"{package} pins exactly: {requirement}"
        assert ">=" in spec, f"{package} has no tested lower bound: {requirement}"
        assert "<" in spec.replace("<=", ""), f"{package} has no upper bound: {requirement}"


@pytest.mark.parametrize("package", PACKAGES)
def test_package_page_says_what_it_is_and_how_to_install(
    wheels: dict[str, Path], package: str
) -> None:
    page = _metadata(wheels[package]).get_payload()
    assert isinstance(page, str)
    assert len(page.splitlines()) > 30, "the package page is the README: more than a pointer"
    assert f"pip install {package}" in page or "uv tool install" in page
    assert "```python" in page


@pytest.mark.parametrize("folder", [folder for folder, _ in PACKAGES.values()])
def test_package_page_examples_run(folder: str, tmp_path: Path) -> None:
    """Every Python example on a package page runs as written, in an empty folder."""
    page = (ROOT / "packages" / folder / "README.md").read_text(encoding="utf-8")
    examples = re.findall(r"```python\n(.*?)```", page, flags=re.S)
    assert examples
    for example in examples:
        result = subprocess.run(
            [sys.executable, "-c", example],
            cwd=tmp_path,
            env=_clean_env(tmp_path),
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, f"{example}\n{result.stderr}"
