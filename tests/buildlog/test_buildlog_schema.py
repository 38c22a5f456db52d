"""Schema creation, permissions, and adoption of the original tool's database."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import blorig
import pytest
import sqlalchemy as sa

from buildlog.db import VERSION_TABLE, check_engine, open_engine
from buildlog.models import metadata
from buildlog.paths import database_location
from storage_core.errors import ForeignDatabase


def _columns(path: Path) -> dict[str, list[str]]:
    conn = sqlite3.connect(path)
    try:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {t: sorted(r[1] for r in conn.execute(f'PRAGMA table_info("{t}")')) for t in tables}
    finally:
        conn.close()


def _indexes(path: Path) -> set[str]:
    conn = sqlite3.connect(path)
    try:
        return {
            r[0]
            for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")
            if not r[0].startswith("sqlite_")
        }
    finally:
        conn.close()


def test_new_database_is_private_and_matches_the_models(tmp_path: Path) -> None:
    location = database_location(str(tmp_path / "home" / ".bl" / "buildlog.db"))
    engine, status = open_engine(location)
    engine.dispose()
    assert status.action == "created"
    assert location.path is not None
    assert stat.S_IMODE(location.path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(location.path.stat().st_mode) == 0o600
    expected = {t.name: sorted(c.name for c in t.columns) for t in metadata.sorted_tables}
    expected[VERSION_TABLE] = ["version_num"]
    assert _columns(location.path) == expected
    model_indexes = {i.name for t in metadata.sorted_tables for i in t.indexes}
    assert _indexes(location.path) == model_indexes
    with sqlite3.connect(location.path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("SELECT version FROM schema_version").fetchall() == [
            (v,) for v in range(1, 8)
        ]
    engine, status = open_engine(location)
    engine.dispose()
    assert status.action == "none"


def test_reference_v7_database_is_adopted_with_nothing_lost(tmp_path: Path) -> None:
    path = blorig.create_original_db(tmp_path / "orig" / "buildlog.db", 7)
    before = blorig.dump(path)
    engine, status = open_engine(database_location(str(path)))
    engine.dispose()
    assert status.action == "adopted"
    assert status.backup is not None
    assert status.backup.parent == path.parent
    assert status.backup.name.startswith("buildlog.db.backup-adopted-")
    assert blorig.dump(status.backup) == before
    after = blorig.dump(path)
    for table, rows in before.items():
        if table == "projects":
            # Two columns added (id_source, id_alias), NULL for the original's rows.
            assert [(*r, None, None) for r in rows] == after[table]
        elif table == "posterior_snapshots":
            # One column added (record_key), NULL for the original's rows.
            assert [(*r, None) for r in rows] == after[table]
        else:
            assert rows == after[table], table
    assert after[VERSION_TABLE] == [("0004",)]
    # The adopted file has exactly the columns and indexes a new one has.
    new_engine, _ = open_engine(database_location(str(tmp_path / "new.db")))
    new_engine.dispose()
    assert _columns(path) == _columns(tmp_path / "new.db")
    assert _indexes(path) == _indexes(tmp_path / "new.db")


@pytest.mark.parametrize("version", [1, 3, 5])
def test_older_original_versions_are_brought_to_seven(tmp_path: Path, version: int) -> None:
    path = blorig.create_original_db(tmp_path / "buildlog.db", version)
    before = blorig.dump(path)
    engine, status = open_engine(database_location(str(path)))
    engine.dispose()
    assert status.action == "adopted"
    after = blorig.dump(path)
    assert [r[0] for r in after["schema_version"]] == list(range(1, 8))
    assert len(after["reward_events"]) == len(before["reward_events"]) == 1
    # Values survive; later columns are NULL.
    assert after["reward_events"][0][:10] == before["reward_events"][0][:10]
    assert after["mistakes"][0][:8] == before["mistakes"][0][:8]
    assert _columns(path) == _columns(_fresh(tmp_path))


def _fresh(tmp_path: Path) -> Path:
    location = database_location(str(tmp_path / "fresh.db"))
    engine, _ = open_engine(location)
    engine.dispose()
    assert location.path is not None
    return location.path


def test_newer_original_version_is_refused_and_untouched(tmp_path: Path) -> None:
    path = blorig.create_original_db(tmp_path / "buildlog.db", 7)
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version (version) VALUES (8)")
    conn.close()
    content = path.read_bytes()
    with pytest.raises(ForeignDatabase) as info:
        open_engine(database_location(str(path)))
    assert str(info.value) == (
        f"{path} is a buildlog database at schema version 8, not one at version 1 to 7; "
        "a newer buildlog wrote it; it was left untouched "
        "(use another database with --db or BUILDLOG_DB)"
    )
    assert path.read_bytes() == content
    # No backup either: nothing was about to change.
    assert not [p.name for p in tmp_path.iterdir() if "backup" in p.name]


def test_unknown_layout_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "odd.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_at TEXT)")
        conn.execute("INSERT INTO schema_version VALUES (7, 't')")
        conn.execute("CREATE TABLE reward_events (id TEXT PRIMARY KEY)")
    conn.close()
    content = path.read_bytes()
    with pytest.raises(ForeignDatabase) as info:
        open_engine(database_location(str(path)))
    assert str(info.value) == (
        f"{path} is a database with an unknown layout (table reward_events has no column "
        "error_class), not a buildlog database; it was left untouched"
    )
    assert path.read_bytes() == content


def test_foreign_sqlite_database_is_refused_and_untouched(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE experiments (id INTEGER PRIMARY KEY)")
    conn.close()
    content = path.read_bytes()
    with pytest.raises(ForeignDatabase) as info:
        open_engine(database_location(str(path)))
    assert str(info.value) == (
        f"{path} is a database with other tables (experiments) and no "
        "buildlog_alembic_version table, not a buildlog database; it was left untouched "
        "(use another database with --db or BUILDLOG_DB)"
    )
    assert path.read_bytes() == content


def test_check_reports_head(tmp_path: Path) -> None:
    location = database_location(str(tmp_path / "b.db"))
    engine, _ = open_engine(location)
    engine.dispose()
    engine, status = check_engine(location)
    engine.dispose()
    assert (status.current, status.head) == ("0004", "0004")


def test_alembic_from_the_shell_uses_buildlog_db(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from alembic import command
    from alembic.config import Config

    target = tmp_path / "shell.db"
    monkeypatch.setenv("BUILDLOG_DB", str(target))
    cfg = Config()
    cfg.set_main_option("script_location", "buildlog:migrations")
    cfg.set_main_option("path_separator", "os")
    command.upgrade(cfg, "head")
    engine = sa.create_engine(f"sqlite:///{target}")
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT version_num FROM {VERSION_TABLE}").scalar() == "0004"
    engine.dispose()


def test_check_on_an_original_database_says_upgrade(tmp_path: Path) -> None:
    from storage_core.errors import SchemaOutOfDate

    path = blorig.create_original_db(tmp_path / "buildlog.db", 7)
    content = path.read_bytes()
    with pytest.raises(SchemaOutOfDate) as info:
        check_engine(database_location(str(path)))
    assert str(info.value) == (
        f"database {path} is at schema revision none, behind 0004; run the 'db upgrade' command"
    )
    assert path.read_bytes() == content
