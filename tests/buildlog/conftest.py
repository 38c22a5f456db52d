"""Fixtures for the buildlog tests.

The autouse fixture points every home and database variable at ``tmp_path`` so that no test
can read or write the real ``~/.buildlog``, and makes git ignore the machine's configuration.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private HOME, BUILDLOG_HOME and BUILDLOG_DB under ``tmp_path``; yields BUILDLOG_HOME."""
    home = tmp_path / "home"
    home.mkdir()
    buildlog_home = tmp_path / "buildlog-home"
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BUILDLOG_HOME", str(buildlog_home))
    monkeypatch.setenv("BUILDLOG_DB", str(buildlog_home / "buildlog.db"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    return buildlog_home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A plain project folder (no git repository)."""
    root = tmp_path / "widgets"
    root.mkdir()
    return root


@pytest.fixture
def git_repo() -> Callable[[Path, str | None], Path]:
    """A function making a folder a git repository, with an ``origin`` remote when given."""

    def make(root: Path, origin: str | None = None) -> Path:
        root.mkdir(parents=True, exist_ok=True)
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        if origin is not None:
            subprocess.run(["git", "-C", str(root), "remote", "add", "origin", origin], check=True)
        return root

    return make


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """The suites that run on both: the default SQLite file, and a new database of a real
    PostgreSQL server through ``BUILDLOG_DB``. Returns the URL or path in use."""
    if request.param == "postgresql":
        url: str = request.getfixturevalue("postgres_url")
        monkeypatch.setenv("BUILDLOG_DB", url)
        return url
    import os

    return os.environ["BUILDLOG_DB"]
