"""The environment snapshot recorded with each iteration: Python, git, entry point, packages.

Taking it never fails an iteration: a missing ``git`` or a directory outside a repository
gives empty values.
"""

from __future__ import annotations

import platform
import shlex
import subprocess
import sys
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

__all__ = ["EnvironmentSnapshot", "take_snapshot"]

_GIT_TIMEOUT = 5.0


@dataclass(frozen=True)
class EnvironmentSnapshot:
    """Where an iteration ran.

    Attributes:
        python_version: e.g. ``"3.11.9"``.
        git_sha: the commit checked out in the working directory, empty outside a repository.
        git_dirty: whether tracked files have uncommitted changes; None outside a repository.
        entry_point: the command line that started the process.
        packages: installed distributions as sorted ``name==version`` lines.
    """

    python_version: str
    git_sha: str
    git_dirty: bool | None
    entry_point: str
    packages: tuple[str, ...]


def _git(args: list[str], cwd: Path) -> str | None:
    try:
        done = subprocess.run(
            ["git", *args],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=_GIT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


def installed_packages() -> tuple[str, ...]:
    """The installed distributions as sorted, de-duplicated ``name==version`` lines."""
    found = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions()
        if dist.metadata["Name"]
    }
    return tuple(sorted(found, key=str.lower))


def take_snapshot(cwd: Path | None = None) -> EnvironmentSnapshot:
    """Record the current environment.

    Args:
        cwd: the directory whose git state is recorded (default: the working directory).
    """
    where = cwd or Path.cwd()
    sha = _git(["rev-parse", "HEAD"], where)
    dirty: bool | None = None
    if sha is not None:
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = bool(status) if status is not None else None
    return EnvironmentSnapshot(
        python_version=platform.python_version(),
        git_sha=sha or "",
        git_dirty=dirty,
        entry_point=shlex.join(sys.argv) if sys.argv and sys.argv[0] else "",
        packages=installed_packages(),
    )
