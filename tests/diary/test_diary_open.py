"""diary.open: configuration sources, first-use migration, foreign files left untouched."""

from __future__ import annotations

import hashlib
import sqlite3
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

import diary
from diary.errors import ConfigError, ForeignDatabase, SchemaTooNew
from diary.schema import VERSION_TABLE


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_default_database_is_created_in_the_working_directory(tmp_path: Path) -> None:
    with diary.open() as store:
        store.create_project("p")
    assert (tmp_path / "deardiary.db").is_file()


def test_environment_and_env_file_choose_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text(f"DEARDIARY_DB_FILE={tmp_path / 'from-file.db'}\n")
    with diary.open(env_file=env_file) as store:
        store.create_project("p")
    assert (tmp_path / "from-file.db").is_file()
    monkeypatch.setenv("DEARDIARY_DB_FILE", str(tmp_path / "from-env.db"))
    with diary.open(env_file=env_file) as store:
        assert store.list_projects() == []
    assert (tmp_path / "from-env.db").is_file()
    monkeypatch.setenv("DEARDIARY_DB_URL", f"sqlite:///{tmp_path / 'url.sqlite'}")
    with diary.open() as store:
        assert store.engine.dialect.name == "sqlite"
    with diary.open(tmp_path / "explicit.db") as store:
        assert store.engine.dialect.name == "duckdb"


def test_invalid_setting_fails_at_open(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEARDIARY_LOCK_TIMEOUT", "forever")
    with pytest.raises(ConfigError) as raised:
        diary.open()
    assert str(raised.value) == (
        "invalid DEARDIARY_LOCK_TIMEOUT='forever': expected a number of seconds"
    )


def test_reopening_keeps_the_data(db_path: Path) -> None:
    with diary.open(db_path) as store:
        project = store.create_project("p")
    with diary.open(db_path) as store:
        assert store.list_projects() == [project]


def test_sqlite_file_is_refused_untouched(db_path: Path) -> None:
    connection = sqlite3.connect(db_path)
    connection.execute("CREATE TABLE project (id INTEGER PRIMARY KEY, name TEXT)")
    connection.commit()
    connection.close()
    before = digest(db_path)
    with pytest.raises(ForeignDatabase) as raised:
        diary.open(db_path)
    assert str(raised.value) == (
        f"{db_path} is a SQLite database (DearDiary.jl before v0.9 used SQLite), not a diary "
        "DuckDB database; nothing was written to it; use a new file, or "
        "DEARDIARY_DB_URL=sqlite:///... for a diary database kept in SQLite"
    )
    assert digest(db_path) == before


def make_deardiary_jl_file(path: Path, id_type: str) -> None:
    """The shape of a DearDiary.jl v0.9 database: schema_migrations and its own tables."""
    connection = duckdb.connect(str(path))
    connection.execute(
        "CREATE TABLE schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, "
        "applied_at TEXT NOT NULL)"
    )
    connection.execute("INSERT INTO schema_migrations VALUES (1, 'baseline', '2026-01-01T00:00')")
    connection.execute(f"CREATE TABLE project (id {id_type} PRIMARY KEY, name TEXT NOT NULL)")
    connection.execute(f"CREATE TABLE iteration (id {id_type} PRIMARY KEY, notes TEXT)")
    connection.close()


@pytest.mark.parametrize("id_type", ["VARCHAR", "BIGINT"])
def test_deardiary_jl_duckdb_file_is_refused_untouched(db_path: Path, id_type: str) -> None:
    make_deardiary_jl_file(db_path, id_type)
    before = digest(db_path)
    with pytest.raises(ForeignDatabase) as raised:
        diary.open(db_path)
    assert str(raised.value) == (
        f"{db_path} is a DearDiary.jl database (schema_migrations version 1), not a diary "
        "database; nothing was written to it"
    )
    assert digest(db_path) == before
    assert not Path(f"{db_path}.wal").exists()


def test_other_files_are_refused_untouched(db_path: Path) -> None:
    db_path.write_text("just some notes\n")
    with pytest.raises(ForeignDatabase) as raised:
        diary.open(db_path)
    assert str(raised.value) == (
        f"{db_path} is a file that is not a database, not a diary database; "
        "nothing was written to it"
    )
    assert db_path.read_text() == "just some notes\n"


def test_other_duckdb_database_is_refused(db_path: Path) -> None:
    connection = duckdb.connect(str(db_path))
    connection.execute("CREATE TABLE sales (id INTEGER)")
    connection.close()
    with pytest.raises(ForeignDatabase) as raised:
        diary.open(db_path)
    assert str(raised.value).startswith(f"{db_path} is a database with other tables (sales)")


def test_newer_schema_is_refused(db_path: Path) -> None:
    with diary.open(db_path) as store:
        store.create_project("p")
    connection = duckdb.connect(str(db_path))
    connection.execute(f"UPDATE {VERSION_TABLE} SET version_num = '9999_future'")
    connection.close()
    with pytest.raises(SchemaTooNew) as raised:
        diary.open(db_path)
    assert str(raised.value) == (
        f"database {db_path} is at schema revision 9999_future, which this version does not "
        "know (newest known: 0005_metric_summary); upgrade the software"
    )


def test_import_diary_is_light() -> None:
    code = (
        "import sys, diary; "
        "heavy = [m for m in ('sqlalchemy', 'duckdb', 'alembic', 'pyarrow') if m in sys.modules]; "
        "print(heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.strip() == "[]"
