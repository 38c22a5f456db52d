"""Permissions never widen, symlinks are never followed to change something, read-only stays so.

* A permission matrix: umask 000/022/077 x (create, rewrite, backup, compact, export) for both
  packages: a new database, backup, export or lock file is never group- or world-writable; a
  file that is rewritten keeps its mode.
* Symlink and special-file targets: a database path that is a device, a FIFO, a folder or a
  link to one (or to nothing) is refused with one line, promptly, and nothing is chmod-ed.
* Read-only databases and folders: reads work, writes fail saying the database is read-only,
  and neither the mode nor the folder changes.

Everything runs through the real command lines. As root, the read-only cases run without the
capabilities that bypass file permissions (``setpriv``), as an ordinary user would.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    current_isolation,
    git_repo,
    isolated_buildlog,
)
from diary_support import WITHOUT_ROOT_BYPASS

BIN = Path(sys.executable).parent
UMASKS = [0o000, 0o022, 0o077]


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.lstat().st_mode)


def _run(
    tool: str, *args: str, cwd: Path, env: dict[str, str] | None = None, plain: bool = False
) -> subprocess.CompletedProcess[str]:
    prefix: Sequence[str] = () if plain else WITHOUT_ROOT_BYPASS
    return subprocess.run(
        [*prefix, str(BIN / tool), *args],
        cwd=cwd,
        env=env if env is not None else _env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _env() -> dict[str, str]:
    """The test's isolated buildlog environment, without any DEARDIARY_* setting."""
    env = current_isolation().env()
    return {k: v for k, v in env.items() if not k.startswith("DEARDIARY_")}


def _ok(tool: str, *args: str, cwd: Path, plain: bool = True) -> str:
    result = _run(tool, *args, cwd=cwd, plain=plain)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def _not_writable_by_others(*paths: Path) -> None:
    for path in paths:
        assert _mode(path) & 0o022 == 0, (path.name, oct(_mode(path)))


# -- the permission matrix ---------------------------------------------------------------------


@pytest.mark.parametrize("mask", UMASKS, ids=[f"umask-{m:03o}" for m in UMASKS])
def test_diary_files_never_widen(tmp_path: Path, mask: int) -> None:
    with _umask(mask):
        _ok("diary", "--db", "d.db", "project", "create", "p", cwd=tmp_path)
        _not_writable_by_others(tmp_path / "d.db", tmp_path / "d.db.lock")
        _ok("diary", "--db", "d.db", "db", "backup", "copy.db", cwd=tmp_path)
        _not_writable_by_others(tmp_path / "copy.db")
        for kept in (0o600, 0o640, 0o604):
            (tmp_path / "d.db").chmod(kept)
            _ok("diary", "--db", "d.db", "db", "compact", cwd=tmp_path)
            assert _mode(tmp_path / "d.db") == kept
            _ok("diary", "--db", "d.db", "db", "backup", "private.db", cwd=tmp_path)
            assert _mode(tmp_path / "private.db") == kept | 0o400
        (tmp_path / "d.db").chmod(0o666)  # the user's own choice, kept by a rewrite
        _ok("diary", "--db", "d.db", "db", "compact", cwd=tmp_path)
        assert _mode(tmp_path / "d.db") == 0o666
        _ok("diary", "--db", "d.db", "db", "backup", "from-open.db", cwd=tmp_path)
        assert _mode(tmp_path / "from-open.db") == 0o644
        sqlite_url = f"sqlite:///{tmp_path / 'd.sqlite'}"
        result = subprocess.run(
            [str(BIN / "diary"), "project", "create", "p"],
            cwd=tmp_path,
            env={**_env(), "DEARDIARY_DB_URL": sqlite_url},
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        _not_writable_by_others(*tmp_path.glob("d.sqlite*"))


@pytest.mark.parametrize("mask", UMASKS, ids=[f"umask-{m:03o}" for m in UMASKS])
def test_buildlog_files_never_widen(tmp_path: Path, mask: int) -> None:
    project = git_repo(tmp_path / "project")
    isolation = current_isolation()
    with _umask(mask):
        _ok("buildlog", "reward", "accepted", cwd=project)
        _ok("buildlog", "export", "-o", str(tmp_path / "out"), cwd=project)
        files = sorted((tmp_path / "out").iterdir())
        assert files
        _not_writable_by_others(tmp_path / "out", *files, *isolation.buildlog_home.iterdir())
        assert _mode(isolation.db) == 0o600 & ~mask
        (tmp_path / "out" / "rewards.jsonl").chmod(0o640)
        (tmp_path / "out" / "manifest.json").chmod(0o664)  # the user's own choice
        _ok("buildlog", "export", "-o", str(tmp_path / "out"), cwd=project)
        assert _mode(tmp_path / "out" / "rewards.jsonl") == 0o640
        assert _mode(tmp_path / "out" / "manifest.json") == 0o664


# -- symlinks and special files ----------------------------------------------------------------


@pytest.fixture
def targets(tmp_path: Path) -> dict[str, Path]:
    """Paths that are no database file, each with a symlink to it."""
    places = tmp_path / "places"
    places.mkdir()
    fifo = places / "fifo"
    os.mkfifo(fifo, 0o644)
    device = places / "null-device"
    os.mknod(device, stat.S_IFCHR | 0o644, os.makedev(1, 3))  # a /dev/null of our own
    folder = places / "folder"
    folder.mkdir(mode=0o755)
    found: dict[str, Path] = {"fifo": fifo, "device": device, "folder": folder}
    for name, target in list(found.items()):
        link = places / f"link-to-{name}"
        link.symlink_to(target)
        found[f"link-to-{name}"] = link
    dangling = places / "link-to-nothing"
    dangling.symlink_to(places / "nothing.db")
    found["link-to-nothing"] = dangling
    return found


def _modes(paths: dict[str, Path]) -> dict[str, int]:
    return {name: _mode(path.resolve()) for name, path in paths.items() if path.resolve().exists()}


@pytest.mark.parametrize("tool", ["diary", "buildlog"])
def test_special_files_and_links_are_refused_and_never_changed(
    tmp_path: Path, targets: dict[str, Path], tool: str
) -> None:
    project = git_repo(tmp_path / "project")
    before = _modes(targets)
    listing = sorted(p.name for p in targets["fifo"].parent.iterdir())
    read = ["project", "list"] if tool == "diary" else ["rewards"]
    write = ["project", "create", "p"] if tool == "diary" else ["reward", "accepted"]
    for name, path in targets.items():
        for args in (read, write, ["db", "current"]):
            result = _run(tool, "--db", str(path), *args, cwd=project, plain=True)
            assert result.returncode in (1, 2), (name, args)
            lines = result.stderr.splitlines()
            assert lines[-1].startswith("Error: "), (name, args, result.stderr)
            assert "Traceback" not in result.stderr
            assert result.stdout == ""
    assert _modes(targets) == before
    assert sorted(p.name for p in targets["fifo"].parent.iterdir()) == listing


def test_a_link_to_an_empty_file_is_used_without_changing_its_mode(tmp_path: Path) -> None:
    project = git_repo(tmp_path / "project")
    target = tmp_path / "shared" / "buildlog.db"
    target.parent.mkdir()
    target.touch(mode=0o644)
    target.chmod(0o644)
    link = tmp_path / "link.db"
    link.symlink_to(target)
    _ok("buildlog", "--db", str(link), "reward", "accepted", cwd=project)
    assert _mode(target) == 0o644
    assert link.is_symlink()
    assert len(_ok("buildlog", "--db", str(link), "rewards", "--json", cwd=project)) > 2


# -- read-only databases and folders -----------------------------------------------------------


@pytest.mark.parametrize("how", ["file-0444", "file-0400", "folder-0555"])
def test_read_only_databases_stay_read_only(tmp_path: Path, how: str) -> None:
    project = git_repo(tmp_path / "project")
    isolation = current_isolation()
    home = tmp_path / "diary-home"
    home.mkdir()
    _ok("diary", "--db", str(home / "d.db"), "project", "create", "p", cwd=project)
    _ok("diary", "--db", str(home / "d.db"), "experiment", "create", "p", "e", cwd=project)
    _ok("buildlog", "reward", "accepted", cwd=project)
    databases = {"diary": home / "d.db", "buildlog": isolation.db}
    for path in databases.values():
        for extra in path.parent.glob(f"{path.name}?*"):
            if not extra.name.endswith(".lock"):
                extra.unlink()
    if how.startswith("folder"):
        (home / "d.db.lock").unlink()  # no lock file, and none can be made: reads go without
    mode = {"file-0444": 0o444, "file-0400": 0o400}.get(how)
    for path in databases.values():
        if mode is not None:
            path.chmod(mode)
        else:
            path.parent.chmod(0o555)
    try:
        before = {
            p: (_mode(p), sorted(x.name for x in p.parent.iterdir())) for p in databases.values()
        }
        reads = {"diary": ["project", "list", "--json"], "buildlog": ["rewards", "--json"]}
        writes = {"diary": ["project", "create", "q"], "buildlog": ["reward", "accepted"]}
        for tool, path in databases.items():
            db = ["--db", str(path)]
            read = _run(tool, *db, *reads[tool], cwd=project)
            assert read.returncode == 0, (tool, read.stderr)
            assert len(read.stdout) > 2
            write = _run(tool, *db, *writes[tool], cwd=project)
            assert write.returncode == 1, (tool, write.stdout)
            assert write.stderr == (
                f"Error: database {path} is read-only: it can be read but not written; nothing "
                "was changed (give the file and its folder write permission to write to it)\n"
            )
            again = _run(tool, *db, *reads[tool], cwd=project)
            assert again.stdout == read.stdout
        listed = _run("diary", "--db", str(databases["diary"]), "iteration", "list", "e",
                      "--json", cwd=project)  # fmt: skip
        assert (listed.returncode, listed.stdout, listed.stderr) == (0, "[]\n", "")
        after = {
            p: (_mode(p), sorted(x.name for x in p.parent.iterdir())) for p in databases.values()
        }
        assert after == before
    finally:
        for path in databases.values():
            path.parent.chmod(0o700)
