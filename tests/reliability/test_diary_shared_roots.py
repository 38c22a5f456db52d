"""No command of one database deletes artifact bytes another database still points at.

The matrix: two databases on one artifact root; a ``diary db backup`` copy; a plain ``cp``
copy; a moved file (with a ``cp`` left at the old place). On each side every deleting command
runs (``artifact rm``, ``artifact migrate`` back to inline, which deletes its sources, deleting
the project with its artifacts, ``artifact verify --gc --grace 0``); then the other side is
verified: nothing missing, every byte as written.

The one case no database can see is a ``cp`` made behind the original's back: the copy never
deletes the original's objects, but the original still deletes its own (docs/artifacts.md).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import diary

BIN = Path(sys.executable).parent
PAYLOADS = {"model.bin": b"weights " * 1000, "config.json": b'{"lr": 0.1}'}


def _env(root: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    return {
        **env,
        "DEARDIARY_ARTIFACT_BACKEND": "filesystem",
        "DEARDIARY_ARTIFACT_FS_ROOT": str(root / "shared-artifacts"),
    }


def _diary(root: Path, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "diary"), "--db", str(db), *args],
        cwd=root,
        env=_env(root),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _ok(root: Path, db: Path, *args: str) -> str:
    result = _diary(root, db, *args)
    assert result.returncode == 0, (args, result.stderr)
    return result.stdout


def _populate(root: Path, db: Path) -> None:
    with _store(root, db) as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        for name, data in PAYLOADS.items():
            store.put_artifact(experiment, data, name=name)


def _store(root: Path, db: Path) -> diary.Store:
    from diary.config import load_settings
    from diary.store import Store

    settings = load_settings(environ=_env(root), db_file=db)
    return Store(settings, buffered=False)


def _artifacts(root: Path, db: Path) -> list[Any]:
    with _store(root, db) as store:
        return [
            artifact
            for project in store.list_projects()
            for experiment in store.list_experiments(project.id)
            for artifact in store.list_resources(experiment.id)
        ]


def _whole(root: Path, db: Path) -> None:
    """Every artifact of ``db`` is there, byte for byte, and verify finds nothing missing."""
    from diary.artifacts import verify_artifacts

    listed = _artifacts(root, db)
    assert sorted(a.name for a in listed) == sorted(PAYLOADS)
    with _store(root, db) as store:
        for artifact in listed:
            assert store.read_resource_data(artifact.id) == PAYLOADS[artifact.name]
        report = verify_artifacts(store)
        assert report.problems == []


def _delete_everything(root: Path, db: Path) -> None:
    """Every deleting command, on ``db``."""
    first = _artifacts(root, db)[0]
    _ok(root, db, "artifact", "rm", str(first.id))
    _ok(root, db, "artifact", "migrate", "--to", "inline", "--from", "filesystem")
    _ok(root, db, "artifact", "verify", "--gc", "--grace", "0")
    with _store(root, db) as store:
        for project in store.list_projects():
            store.delete_project(project.id)
    gc = _diary(root, db, "artifact", "verify", "--gc", "--grace", "0")
    assert gc.returncode == 0, gc.stdout + gc.stderr


def _sides(kind: str, root: Path) -> tuple[Path, Path]:
    """Make the scenario; returns its two databases (both populated or copies)."""
    original = root / "a.db"
    _populate(root, original)
    if kind == "two databases":
        other = root / "b.db"
        _populate(root, other)
        return original, other
    if kind == "db backup":
        other = root / "backup.db"
        _ok(root, original, "db", "backup", str(other))
        return original, other
    if kind == "cp":
        other = root / "copy.db"
        shutil.copy2(original, other)
        return other, original  # the copy deletes first: it must spare the original
    # A moved file, with a plain copy left behind at the old place first.
    kept = root / "kept.db"
    shutil.copy2(original, kept)
    moved = root / "moved" / "a.db"
    moved.parent.mkdir()
    shutil.move(original, moved)
    Path(f"{original}.lock").unlink(missing_ok=True)
    return moved, kept


# Each scenario, with either side deleting; except the original deleting under a plain `cp`
# it cannot know about: the one documented exception (module docstring).
CASES = [
    (kind, side)
    for kind in ("two databases", "db backup", "cp", "moved")
    for side in (0, 1)
    if (kind, side) != ("cp", 1)
]


@pytest.mark.parametrize(("kind", "deleting_side"), CASES)
def test_no_side_deletes_what_the_other_points_at(
    tmp_path: Path, kind: str, deleting_side: int
) -> None:
    sides = _sides(kind, tmp_path)
    deleting, other = sides[deleting_side], sides[1 - deleting_side]
    _whole(tmp_path, other)
    _delete_everything(tmp_path, deleting)
    _whole(tmp_path, other)
    assert _artifacts(tmp_path, deleting) == []


def test_what_nobody_points_at_is_still_collected(tmp_path: Path) -> None:
    """The safety costs no space in the plain case: one database's deleted artifacts go."""
    db = tmp_path / "a.db"
    _populate(tmp_path, db)
    _delete_everything(tmp_path, db)
    left = [p for p in (tmp_path / "shared-artifacts").rglob("*") if p.is_file()]
    assert left == []
