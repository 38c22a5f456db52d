"""The environment snapshot: taken once per process, yet never stale across processes or commits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from diary import environment
from diary.environment import installed_packages, take_snapshot

_PRINT_PACKAGES = (
    "import json; from diary.environment import take_snapshot; "
    "print(json.dumps(take_snapshot().packages))"
)


def _git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), *args], capture_output=True, text=True, check=True,
        env={**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@e",
             "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@e"},
    )  # fmt: skip
    return done.stdout.strip()


def test_packages_are_read_once_per_process() -> None:
    first = installed_packages()
    assert first is installed_packages()  # the same tuple: not read again
    assert any(line.startswith("deardiary-tracking==") for line in first)


def test_a_changed_environment_gives_another_snapshot_in_the_next_process(
    tmp_path: Path,
) -> None:
    def packages(extra_path: str | None) -> list[str]:
        env = {**os.environ}
        if extra_path:
            env["PYTHONPATH"] = extra_path
        done = subprocess.run(
            [sys.executable, "-c", _PRINT_PACKAGES], capture_output=True, text=True, env=env,
            check=True,
        )  # fmt: skip
        return list(json.loads(done.stdout))

    before = packages(None)
    site = tmp_path / "site"
    info = site / "extra_tool-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-tool\nVersion: 1.2.3\n")
    after = packages(str(site))
    assert "extra-tool==1.2.3" in after
    assert "extra-tool==1.2.3" not in before
    assert sorted(set(after) - set(before)) == ["extra-tool==1.2.3"]


def test_git_state_follows_commits_and_staged_changes_within_a_process(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "train.py").write_text("print(1)\n")
    _git(repo, "add", "train.py")
    _git(repo, "commit", "-q", "-m", "one")
    one = take_snapshot(repo)
    assert (one.git_sha, one.git_dirty) == (_git(repo, "rev-parse", "HEAD"), False)
    calls: list[list[str]] = []
    real = environment._git

    def counting(args: list[str], cwd: Path) -> str | None:
        calls.append(args)
        return real(args, cwd)

    environment._git = counting  # type: ignore[assignment]
    try:
        for _ in range(50):
            assert take_snapshot(repo) == one
        assert calls == []  # asked once per HEAD and index state, not once per iteration
        (repo / "train.py").write_text("print(2)\n")
        _git(repo, "add", "train.py")  # staged: the index changed
        staged = take_snapshot(repo)
        assert (staged.git_sha, staged.git_dirty) == (one.git_sha, True)
        _git(repo, "commit", "-q", "-m", "two")
        two = take_snapshot(repo)
        assert (two.git_sha, two.git_dirty) == (_git(repo, "rev-parse", "HEAD"), False)
        assert two.git_sha != one.git_sha
    finally:
        environment._git = real  # type: ignore[assignment]
    outside = take_snapshot(tmp_path)
    assert (outside.git_sha, outside.git_dirty) == ("", None)
