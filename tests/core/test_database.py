"""storage_core.database: file detection, engine factories, foreign files, Appender, backups."""

from __future__ import annotations

import sqlite3
import stat
import uuid
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa

from storage_core.database import (
    FileKind,
    backup_database,
    create_duckdb_engine,
    create_engine_for,
    create_sqlite_engine,
    database_path,
    describe_file_kind,
    detect_file_kind,
    duckdb_url,
    open_duckdb,
    raw_duckdb_connection,
    sqlite_url,
)
from storage_core.errors import ForeignDatabase, NotFound


def make_duckdb(path: Path) -> Path:
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (1), (2)")
    conn.close()
    return path


def make_sqlite(path: Path) -> Path:
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.execute("INSERT INTO t VALUES (1), (2)")
    conn.commit()
    conn.close()
    return path


def test_detect_file_kind_on_every_kind(tmp_path: Path) -> None:
    (tmp_path / "empty").write_bytes(b"")
    (tmp_path / "text.txt").write_text("hello, this is not a database\n")
    assert detect_file_kind(tmp_path / "missing") is FileKind.MISSING
    assert detect_file_kind(tmp_path / "empty") is FileKind.EMPTY
    assert detect_file_kind(make_sqlite(tmp_path / "a.sqlite")) is FileKind.SQLITE
    assert detect_file_kind(make_duckdb(tmp_path / "a.duckdb")) is FileKind.DUCKDB
    assert detect_file_kind(tmp_path / "text.txt") is FileKind.OTHER
    assert detect_file_kind(tmp_path) is FileKind.OTHER
    assert describe_file_kind(FileKind.SQLITE) == "SQLite database"
    assert describe_file_kind(FileKind.DUCKDB) == "DuckDB database"
    assert describe_file_kind(FileKind.EMPTY) == "empty file"
    assert describe_file_kind(FileKind.OTHER) == "file that is not a database"


def test_urls_round_trip_to_paths(tmp_path: Path) -> None:
    odd = tmp_path / "dir with space" / "a?b#c.db"
    assert database_path(sqlite_url(odd)) == odd
    assert database_path(duckdb_url(odd)) == odd
    assert sqlite_url(odd).startswith("sqlite:////")
    assert database_path("sqlite://") is None
    assert database_path("sqlite:///:memory:") is None
    assert database_path("duckdb:///:memory:") is None
    assert database_path("postgresql://u:p@host/db") is None


def test_sqlite_file_opened_as_duckdb_is_refused_untouched(tmp_path: Path) -> None:
    path = make_sqlite(tmp_path / "data.db")
    before = path.read_bytes()
    with pytest.raises(ForeignDatabase) as info:
        create_duckdb_engine(path)
    assert str(info.value).startswith(f"{path} is a SQLite database, not a DuckDB database")
    with pytest.raises(ForeignDatabase), open_duckdb(path, lock_timeout=1):
        pass
    assert path.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["data.db"]


def test_duckdb_file_opened_as_sqlite_is_refused_untouched(tmp_path: Path) -> None:
    path = make_duckdb(tmp_path / "data.db")
    before = path.read_bytes()
    with pytest.raises(ForeignDatabase) as info:
        create_sqlite_engine(path)
    assert str(info.value).startswith(f"{path} is a DuckDB database, not a SQLite database")
    assert path.read_bytes() == before


@pytest.mark.parametrize("factory", [create_sqlite_engine, create_duckdb_engine])
def test_text_file_is_refused_by_both_engines(tmp_path: Path, factory: object) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("not a database\n")
    with pytest.raises(ForeignDatabase, match="is a file that is not a database"):
        factory(path)  # type: ignore[operator]
    assert path.read_text() == "not a database\n"


def test_file_replaced_after_engine_creation_is_refused_on_connect(tmp_path: Path) -> None:
    path = tmp_path / "late.duckdb"
    engine = create_duckdb_engine(path)
    make_sqlite(path)
    with pytest.raises(ForeignDatabase, match="is a SQLite database"), engine.connect():
        pass


def test_empty_file_is_not_taken_for_a_duckdb_database(tmp_path: Path) -> None:
    path = tmp_path / "empty.duckdb"
    path.write_bytes(b"")
    engine = create_duckdb_engine(path, lock_timeout=0.2)
    with pytest.raises(ForeignDatabase, match="zero-byte file"), engine.connect():
        pass
    assert path.read_bytes() == b""


def test_missing_parent_directory(tmp_path: Path) -> None:
    with pytest.raises(NotFound):
        create_sqlite_engine(tmp_path / "no" / "such" / "x.db")
    engine = create_sqlite_engine(tmp_path / "made" / "x.db", create_dirs=True)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    assert (tmp_path / "made" / "x.db").exists()


def test_sqlite_pragmas_and_file_mode(tmp_path: Path) -> None:
    path = tmp_path / "private.db"
    engine = create_sqlite_engine(path, busy_timeout=12.5, file_mode=0o600)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 12500
        for name in ("private.db", "private.db-wal", "private.db-shm"):
            assert stat.S_IMODE((tmp_path / name).stat().st_mode) == 0o600, name


def test_sqlite_foreign_keys_are_enforced(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "fk.db")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE p (id TEXT PRIMARY KEY)"))
        conn.execute(sa.text("CREATE TABLE c (id TEXT PRIMARY KEY, p TEXT REFERENCES p(id))"))
    with pytest.raises(sa.exc.IntegrityError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO c VALUES ('c1', 'nope')"))


def test_sqlite_write_transactions_begin_immediate(tmp_path: Path) -> None:
    path = tmp_path / "imm.db"
    engine = create_sqlite_engine(path, busy_timeout=0.2)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as writer:
        writer.execute(sa.text("SELECT count(*) FROM t")).scalar()
        # The write lock was taken by BEGIN IMMEDIATE before the first (read) statement, so a
        # plain sqlite3 connection cannot start a write transaction now.
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        with pytest.raises(sqlite3.OperationalError, match="database is locked"):
            other.execute("BEGIN IMMEDIATE")
        other.close()
        writer.rollback()
    # A deferred (read-only) unit of work does not take the write lock.
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as reader:
        reader.execute(sa.text("SELECT count(*) FROM t")).scalar()
        other = sqlite3.connect(path, timeout=0.05, isolation_level=None)
        other.execute("BEGIN IMMEDIATE")
        other.execute("INSERT INTO t VALUES (1)")
        other.execute("COMMIT")
        other.close()


def test_sqlite_rollback_and_commit(tmp_path: Path) -> None:
    engine = create_sqlite_engine(tmp_path / "tx.db")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    with engine.connect() as conn:
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
        conn.rollback()
        conn.execute(sa.text("INSERT INTO t VALUES (2)"))
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT x FROM t")).scalars().all() == [2]


def test_appender_shares_the_sqlalchemy_transaction(tmp_path: Path) -> None:
    engine = create_duckdb_engine(tmp_path / "app.duckdb")
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE m (id VARCHAR PRIMARY KEY, v DOUBLE)"))
    rows = [(str(uuid.uuid4()), float(i)) for i in range(100)]
    with engine.connect() as conn:
        conn.begin()
        appender = raw_duckdb_connection(conn).appender("m")
        appender.append_rows(rows)
        appender.flush()
        assert conn.execute(sa.text("SELECT count(*) FROM m")).scalar() == 100
        conn.rollback()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM m")).scalar() == 0
        conn.rollback()
        conn.begin()
        appender = raw_duckdb_connection(conn).appender("m")
        appender.append_rows(rows)
        appender.flush()
        conn.commit()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM m")).scalar() == 100


def test_duckdb_engine_releases_the_file_between_units_of_work(tmp_path: Path) -> None:
    path = tmp_path / "np.duckdb"
    engine = create_duckdb_engine(path)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
    # No connection is kept: a raw connection (which would conflict) can open the file.
    with open_duckdb(path, lock_timeout=1) as raw:
        raw.execute("INSERT INTO t VALUES (7)")
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT x FROM t")).scalar() == 7


def test_create_engine_for_dispatches(tmp_path: Path) -> None:
    sqlite_engine = create_engine_for(sqlite_url(tmp_path / "a.db"), busy_timeout=3)
    duck_engine = create_engine_for(duckdb_url(tmp_path / "b.duckdb"), lock_timeout=3)
    memory_engine = create_engine_for("sqlite://")
    assert (sqlite_engine.dialect.name, duck_engine.dialect.name) == ("sqlite", "duckdb")
    assert isinstance(duck_engine.pool, sa.pool.NullPool)
    with sqlite_engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 3000
    with memory_engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT 1").scalar() == 1


@pytest.mark.parametrize("kind", ["sqlite", "duckdb"])
@pytest.mark.parametrize("from_engine", [True, False])
def test_backup_database_copies_the_rows(tmp_path: Path, kind: str, from_engine: bool) -> None:
    path = tmp_path / f"src.{kind}"
    engine = create_sqlite_engine(path) if kind == "sqlite" else create_duckdb_engine(path)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t SELECT * FROM (VALUES (1), (2), (3)) v"))
    dest = tmp_path / "copy" / f"backup.{kind}"
    dest.parent.mkdir()
    assert backup_database(engine if from_engine else path, dest) == dest
    assert detect_file_kind(dest) is (FileKind.SQLITE if kind == "sqlite" else FileKind.DUCKDB)
    assert sorted(p.name for p in dest.parent.iterdir()) == [dest.name]
    copy = create_sqlite_engine(dest) if kind == "sqlite" else create_duckdb_engine(dest)
    with copy.connect() as conn:
        assert conn.execute(sa.text("SELECT sum(x) FROM t")).scalar() == 6


def test_sqlite_backup_while_a_writer_is_open(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    engine = create_sqlite_engine(path)
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE t (x INTEGER)"))
        conn.execute(sa.text("INSERT INTO t VALUES (1)"))
    with engine.connect().execution_options(sqlite_begin="DEFERRED") as reader:
        reader.execute(sa.text("SELECT count(*) FROM t")).scalar()
        backup_database(path, tmp_path / "b.db")
    check = sqlite3.connect(tmp_path / "b.db")
    assert check.execute("SELECT x FROM t").fetchall() == [(1,)]
    check.close()


def test_backup_refuses_foreign_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "x.txt").write_text("text")
    with pytest.raises(ForeignDatabase, match="not a SQLite or DuckDB database"):
        backup_database(tmp_path / "x.txt", tmp_path / "b")
    with pytest.raises(NotFound):
        backup_database(tmp_path / "none.db", tmp_path / "b")
    assert not (tmp_path / "b").exists()


def test_lock_file_takes_the_database_permissions(tmp_path: Path) -> None:
    path = tmp_path / "private.duckdb"
    with open_duckdb(path):
        pass
    path.chmod(0o600)
    Path(f"{path}.lock").unlink()
    other = tmp_path / "copy.duckdb"
    other.write_bytes(path.read_bytes())
    other.chmod(0o600)
    with open_duckdb(other):
        pass
    assert stat.S_IMODE(Path(f"{other}.lock").stat().st_mode) == 0o600
