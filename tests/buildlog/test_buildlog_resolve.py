"""The four backend resolution cases, and the project registry."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
from collections.abc import Callable
from pathlib import Path

import blorig
import blsamples

from buildlog.backends.legacy import LegacyBackend
from buildlog.backends.resolve import resolve_backend
from buildlog.backends.sqlite import SQLiteBackend
from buildlog.db import open_engine
from buildlog.paths import database_location


def _create_db(path_or_url: str | Path) -> None:
    engine, _ = open_engine(database_location(str(path_or_url)))
    engine.dispose()


def test_case_4_creates_database_and_registers(project: Path, isolated_home: Path) -> None:
    db = isolated_home / "buildlog.db"
    assert not db.exists()
    resolution = resolve_backend(project)
    try:
        assert resolution.case == 4
        assert isinstance(resolution.backend, SQLiteBackend)
        assert db.exists()
        assert resolution.notices == []
        (info,) = resolution.backend.list_projects()
        assert (info.id, info.name, info.path, info.id_source) == (
            resolution.identity.id,
            "widgets",
            str(project.resolve()),
            "path",
        )
    finally:
        resolution.backend.close()
    again = resolve_backend(project)
    again.backend.close()
    assert again.case == 1


def test_case_3_reads_legacy_files_and_creates_nothing(project: Path, isolated_home: Path) -> None:
    blsamples.write_legacy(project / "buildlog")
    resolution = resolve_backend(project)
    assert resolution.case == 3
    assert isinstance(resolution.backend, LegacyBackend)
    assert resolution.backend.count_events("rewards") == 3
    assert not isolated_home.exists()


def test_case_2_registers_and_mentions_legacy_files(project: Path, database: str) -> None:
    _create_db(database)
    data = blsamples.write_legacy(project)
    resolution = resolve_backend(project)
    resolution.backend.close()
    assert resolution.case == 2
    assert isinstance(resolution.backend, SQLiteBackend)
    assert resolution.notices == [
        f"this project has legacy buildlog files not yet in the database ({data.resolve()}); "
        "run 'buildlog migrate' to import them"
    ]
    again = resolve_backend(project)
    again.backend.close()
    assert (again.case, again.notices) == (1, [])


def test_case_2_without_legacy_files_is_quiet(project: Path, database: str) -> None:
    _create_db(database)
    (project / ".buildlog" / "seeds").mkdir(parents=True)
    (project / ".buildlog" / "gauntlet_cleared").write_text("")
    resolution = resolve_backend(project)
    resolution.backend.close()
    assert (resolution.case, resolution.notices) == (2, [])


def test_second_clone_shares_the_id_and_updates_the_path(
    tmp_path: Path, git_repo: Callable[[Path, str | None], Path], database: str
) -> None:
    url = "https://bob:token@github.com/acme/widgets.git"
    first = git_repo(tmp_path / "a" / "widgets", url)
    second = git_repo(tmp_path / "b" / "widgets", "https://github.com/acme/widgets.git")
    one = resolve_backend(first)
    one.backend.append_events("rewards", [])
    one.backend.decide_skills("promoted", ["x"])
    one.backend.close()
    two = resolve_backend(second)
    try:
        assert two.case == 1
        # The original's id (credentials count); the clean URL finds it through the alias.
        assert two.identity.id == one.identity.id == "d77140568319"
        assert [d.skill_id for d in two.backend.load_skill_decisions()] == ["x"]
        (info,) = two.backend.list_projects()
        assert (info.path, info.id_source) == (str(second.resolve()), "git-remote")
    finally:
        two.backend.close()


def test_a_new_id_at_a_known_path_never_rewrites_the_other_row(
    project: Path, git_repo: Callable[[Path, str | None], Path], database: str
) -> None:
    before = resolve_backend(project)
    before.backend.close()
    git_repo(project, "git@github.com:acme/widgets.git")
    after = resolve_backend(project)
    try:
        assert after.case == 2
        rows = {p.id: p.path for p in after.backend.list_projects()}
        assert rows == {
            before.identity.id: str(project.resolve()),  # untouched
            "44d052bc011d": f"{project.resolve()} [44d052bc011d]",
        }
    finally:
        after.backend.close()


def test_a_rotated_token_finds_the_same_project(
    project: Path, git_repo: Callable[[Path, str | None], Path], database: str
) -> None:
    git_repo(project, "https://alice:tok1@github.com/acme/secret.git")
    first = resolve_backend(project)
    try:
        assert (
            first.identity.id
            == hashlib.sha256(b"https://alice:tok1@github.com/acme/secret.git").hexdigest()[:12]
        )
        first.backend.decide_skills("promoted", ["kept"])
        (row,) = first.backend.list_projects()
        assert str(project.resolve()) == row.path  # the registry holds no URL at all
    finally:
        first.backend.close()
    subprocess.run(
        ["git", "-C", str(project), "remote", "set-url", "origin",
         "https://alice:tok2@github.com/acme/secret.git"],
        check=True,
    )  # fmt: skip
    reading = resolve_backend(project, create=False)  # a command that only reads
    try:
        assert (reading.case, reading.registered) == (1, True)
        assert reading.identity.id == first.identity.id  # through the alias, without a write
        assert [d.skill_id for d in reading.backend.load_skill_decisions()] == ["kept"]
    finally:
        reading.backend.close()
    second = resolve_backend(project)
    try:
        assert second.case == 1
        assert second.identity.id == first.identity.id  # through the alias
        assert [p.id for p in second.backend.list_projects()] == [first.identity.id]
        assert [d.skill_id for d in second.backend.load_skill_decisions()] == ["kept"]
    finally:
        second.backend.close()


def test_resolution_adopts_the_original_database(project: Path, isolated_home: Path) -> None:
    db = blorig.create_original_db(isolated_home / "buildlog.db", 7)
    resolution = resolve_backend(project)
    resolution.backend.close()
    assert resolution.case == 2
    (notice,) = resolution.notices
    assert notice.startswith(f"adopted the original buildlog database {db} (backup: {db}.backup-")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM projects").fetchone() == (2,)
    conn.close()
