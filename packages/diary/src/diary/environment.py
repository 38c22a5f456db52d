"""The environment snapshot recorded with each iteration: Python, git, entry point, packages.

Taking it never fails an iteration: a missing ``git`` or a directory outside a repository
gives empty values.
"""

from __future__ import annotations

import functools
import hashlib
import json
import platform
import shlex
import subprocess
import sys
import time
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

    @functools.cached_property
    def key(self) -> str:
        """The snapshot's id in the ``environment`` table: sha256 of its content.

        Equal snapshots (every iteration a process runs in one checkout) share one stored row.
        """
        content = [
            self.python_version, self.git_sha, self.git_dirty, self.entry_point,
            [line for line in self.packages if line],
        ]  # fmt: skip
        encoded = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode()
        return hashlib.sha256(encoded).hexdigest()

    @property
    def recorded(self) -> bool:
        """Whether anything was recorded (a snapshot of nothing is stored as no environment)."""
        return any(
            (self.python_version, self.git_sha, self.git_dirty is not None, self.entry_point,
             self.packages)
        )  # fmt: skip


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
    """The installed distributions as sorted, de-duplicated ``name==version`` lines.

    Reading every distribution's metadata costs tens of milliseconds, and what is installed
    does not change while a process runs: it is read once per process (and again only if
    ``sys.path`` changes).
    """
    return _packages_on(tuple(sys.path))


@functools.lru_cache(maxsize=4)
def _packages_on(path: tuple[str, ...]) -> tuple[str, ...]:
    found = {
        f"{dist.metadata['Name']}=={dist.version}"
        for dist in metadata.distributions(path=list(path))
        if dist.metadata["Name"]
    }
    return tuple(sorted(found, key=str.lower))


def _git_state_key(where: Path) -> tuple[object, ...] | None:
    """What the git state of ``where`` depends on: the repository's HEAD, the ref it names
    and its index (their modification times and sizes), or None outside a repository."""
    for folder in (where, *where.parents):
        dot_git = folder / ".git"
        if dot_git.exists():
            break
    else:
        return None
    git_dir = dot_git
    if dot_git.is_file():  # a worktree or submodule: "gitdir: <path>"
        text = dot_git.read_text(encoding="utf-8", errors="replace").strip()
        git_dir = (folder / text.removeprefix("gitdir:").strip()).resolve()
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8", errors="replace").strip()
    except OSError:
        return None
    ref = git_dir / head.removeprefix("ref:").strip() if head.startswith("ref:") else None
    stamps = []
    for path in (git_dir / "HEAD", ref, git_dir / "index", git_dir / "packed-refs"):
        try:
            info = path.stat() if path is not None else None
        except OSError:
            info = None
        stamps.append((info.st_mtime_ns, info.st_size) if info else None)
    return (str(where), str(git_dir), head, *stamps)


# key -> (monotonic time of the answer, commit, dirty)
_GIT_CACHE: dict[tuple[object, ...], tuple[float, str | None, bool | None]] = {}
#: How long an answer about uncommitted edits may be reused (edits of tracked files that are
#: not staged change nothing git's HEAD or index show).
GIT_STATE_MAX_AGE = 1.0


def _git_state(where: Path) -> tuple[str | None, bool | None]:
    """The commit and dirtiness of ``where``, asked of git once per HEAD and index state.

    Two ``git`` processes cost ~10 ms per iteration; a sweep of short iterations runs in one
    checkout. A change of commit, branch or staged files changes the key and asks again at
    once; an edit of a tracked file that is not staged shows in ``git_dirty`` within
    :data:`GIT_STATE_MAX_AGE` seconds (so a sweep asks git about once a second, not once per
    iteration).
    """
    key = _git_state_key(where) or ("outside a repository", str(where))
    cached = _GIT_CACHE.get(key)
    if cached is not None and time.monotonic() - cached[0] < GIT_STATE_MAX_AGE:
        return cached[1], cached[2]
    sha = _git(["rev-parse", "HEAD"], where)
    dirty: bool | None = None
    if sha is not None:
        status = _git(["status", "--porcelain", "--untracked-files=no"], where)
        dirty = bool(status) if status is not None else None
    # `git status` may rewrite the index (refreshing its stat data): the state after the
    # calls is the one the next snapshot will find.
    now = time.monotonic()
    for state in (key, _git_state_key(where)):
        if state is not None:
            _GIT_CACHE[state] = (now, sha, dirty)
    return sha, dirty


def take_snapshot(cwd: Path | None = None) -> EnvironmentSnapshot:
    """Record the current environment.

    Args:
        cwd: the directory whose git state is recorded (default: the working directory).
    """
    where = (cwd or Path.cwd()).absolute()
    sha, dirty = _git_state(where)
    return EnvironmentSnapshot(
        python_version=platform.python_version(),
        git_sha=sha or "",
        git_dirty=dirty,
        entry_point=shlex.join(sys.argv) if sys.argv and sys.argv[0] else "",
        packages=installed_packages(),
    )
