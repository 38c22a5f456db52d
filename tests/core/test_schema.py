"""storage_core.schema: first-use upgrades, backups, refusals and adoption on both engines."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from storage_core.database import create_duckdb_engine, create_sqlite_engine, duckdb_url
from storage_core.errors import ForeignDatabase, SchemaOutOfDate, SchemaTooNew
from storage_core.schema import (
    SchemaEnvironment,
    check,
    current_revision,
    ensure_schema,
    head_revision,
    stamp,
    upgrade,
)

FIXTURE = SchemaEnvironment(
    name="fixture",
    script_location=str(Path(__file__).resolve().parent / "schema_fixture"),
    version_table="fixture_alembic_version",
)
HEAD = "cccc00000003"
ENGINES: dict[str, Callable[[Path], Engine]] = {
    "duckdb": lambda p: create_duckdb_engine(p / "db.duckdb"),
    "sqlite": lambda p: create_sqlite_engine(p / "db.sqlite"),
}


@pytest.fixture(params=sorted(ENGINES))
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Engine:
    return ENGINES[request.param](tmp_path)


def db_file(engine: Engine) -> Path:
    return Path(str(engine.url.database))


def backups(engine: Engine) -> list[Path]:
    path = db_file(engine)
    return sorted(path.parent.glob(f"{path.name}.backup-*"))


def version_rows(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(sa.text("SELECT version_num FROM fixture_alembic_version")).scalars()
        )


def columns_of_project(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        # SELECT * works on both engines, unlike inspect() reflection on DuckDB.
        return set(conn.execute(sa.text("SELECT * FROM project LIMIT 0")).keys())


def test_head_revision() -> None:
    assert head_revision(FIXTURE) == HEAD


def test_empty_database_is_created_at_head(engine: Engine) -> None:
    assert current_revision(engine, FIXTURE) is None
    status = ensure_schema(engine, FIXTURE)
    assert (status.action, status.current, status.head, status.backup) == (
        "created",
        HEAD,
        HEAD,
        None,
    )
    assert version_rows(engine) == [HEAD]
    assert columns_of_project(engine) == {"id", "name", "description"}
    assert backups(engine) == []
    assert check(engine, FIXTURE).current == HEAD


def test_foreign_keys_from_the_migrations_hold(engine: Engine) -> None:
    ensure_schema(engine, FIXTURE)
    with pytest.raises(sa.exc.DBAPIError), engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO note VALUES ('n1', 'no-such-project', 'x')"))


def test_behind_is_backed_up_then_upgraded(engine: Engine) -> None:
    upgrade(engine, FIXTURE, "bbbb00000002")
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO project (id, name) VALUES ('p1', 'old')"))
        conn.execute(sa.text("INSERT INTO note VALUES ('n1', 'p1', 'kept')"))
    status = ensure_schema(engine, FIXTURE)
    assert (status.action, status.previous, status.current) == ("upgraded", "bbbb00000002", HEAD)
    assert status.backup is not None
    assert backups(engine) == [status.backup]
    assert status.backup.name.startswith(f"{db_file(engine).name}.backup-bbbb00000002-")
    assert status.backup.name.endswith("Z")
    assert columns_of_project(engine) == {"id", "name", "description"}
    # The backup is the old database: old revision, old rows, old columns.
    factory = create_duckdb_engine if engine.dialect.name == "duckdb" else create_sqlite_engine
    old = factory(status.backup)
    assert version_rows(old) == ["bbbb00000002"]
    assert columns_of_project(old) == {"id", "name"}
    with old.connect() as conn:
        assert conn.execute(sa.text("SELECT body FROM note")).scalar() == "kept"


def test_at_head_is_a_no_op_without_backup(engine: Engine) -> None:
    ensure_schema(engine, FIXTURE)
    status = ensure_schema(engine, FIXTURE)
    assert (status.action, status.backup, status.previous) == ("none", None, None)
    assert backups(engine) == []
    if engine.dialect.name == "sqlite":
        # The fast path takes no file lock, so it never even creates the lock file (DuckDB
        # connections always hold it: see storage_core.database.locks).
        lock = Path(f"{db_file(engine)}.lock")
        lock.unlink()
        ensure_schema(engine, FIXTURE)
        assert not lock.exists()


def test_unknown_revision_is_too_new(engine: Engine) -> None:
    ensure_schema(engine, FIXTURE)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE fixture_alembic_version SET version_num = 'deadbeef0000'"))
    with pytest.raises(SchemaTooNew) as info:
        ensure_schema(engine, FIXTURE)
    message = str(info.value)
    assert "deadbeef0000" in message
    assert HEAD in message
    assert str(db_file(engine)) in message
    assert (info.value.found, info.value.head) == ("deadbeef0000", HEAD)
    with pytest.raises(SchemaTooNew):
        check(engine, FIXTURE)
    assert backups(engine) == []


def test_behind_without_auto_upgrade_is_out_of_date(engine: Engine) -> None:
    upgrade(engine, FIXTURE, "aaaa00000001")
    with pytest.raises(SchemaOutOfDate) as info:
        ensure_schema(engine, FIXTURE, auto_upgrade=False)
    assert (info.value.current, info.value.head) == ("aaaa00000001", HEAD)
    assert current_revision(engine, FIXTURE) == "aaaa00000001"
    with pytest.raises(SchemaOutOfDate):
        check(engine, FIXTURE)
    assert backups(engine) == []


def test_backup_can_be_switched_off(engine: Engine) -> None:
    upgrade(engine, FIXTURE, "aaaa00000001")
    status = ensure_schema(engine, FIXTURE, backup=False)
    assert (status.action, status.backup) == ("upgraded", None)
    assert backups(engine) == []


def test_check_on_an_empty_database(engine: Engine) -> None:
    with pytest.raises(SchemaOutOfDate, match="at schema revision none"):
        check(engine, FIXTURE)


def test_tables_without_our_version_table_are_foreign(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE runs (id VARCHAR PRIMARY KEY)"))
    with pytest.raises(ForeignDatabase) as info:
        ensure_schema(engine, FIXTURE)
    assert "database with other tables (runs) and no fixture_alembic_version table" in str(
        info.value
    )
    assert "not a fixture database" in str(info.value)
    with pytest.raises(ForeignDatabase):
        check(engine, FIXTURE)


def test_adoption_stamps_and_upgrades_an_older_tools_database(engine: Engine) -> None:
    # What an older tool left behind: the project table of revision aaaa00000001, no versions.
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE project (id VARCHAR(36) PRIMARY KEY, name VARCHAR(200) NOT NULL)")
        )
        conn.execute(sa.text("INSERT INTO project VALUES ('p1', 'legacy')"))
    seen: list[str] = []

    def adopt(conn: Connection) -> str | None:
        names = set(conn.execute(sa.text("SELECT * FROM project LIMIT 0")).keys())
        seen.append(",".join(sorted(names)))
        return "aaaa00000001" if names == {"id", "name"} else None

    status = ensure_schema(engine, FIXTURE, adopt=adopt)
    assert (status.action, status.current, status.previous) == ("adopted", HEAD, None)
    assert seen == ["id,name"]
    assert status.backup is not None
    assert status.backup.exists()
    assert version_rows(engine) == [HEAD]
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT name FROM project")).scalar() == "legacy"
    assert ensure_schema(engine, FIXTURE, adopt=adopt).action == "none"


def test_adopt_hook_returning_none_keeps_the_refusal(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.text("CREATE TABLE other (id VARCHAR PRIMARY KEY)"))
    with pytest.raises(ForeignDatabase):
        ensure_schema(engine, FIXTURE, adopt=lambda conn: None)
    assert backups(engine) == []


def test_stamp_then_upgrade(engine: Engine) -> None:
    upgrade(engine, FIXTURE, "aaaa00000001")
    stamp(engine, FIXTURE, "aaaa00000001")
    assert current_revision(engine, FIXTURE) == "aaaa00000001"
    upgrade(engine, FIXTURE)
    assert version_rows(engine) == [HEAD]


def test_operator_path_through_the_alembic_command_line(tmp_path: Path) -> None:
    """`alembic upgrade head` from a shell, the URL coming from the env var env.py reads."""
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {FIXTURE.script_location}\n")
    db = tmp_path / "ops.duckdb"
    env = {**os.environ, "FIXTURE_DB_URL": duckdb_url(db)}
    alembic = [sys.executable, "-m", "alembic", "-c", str(ini)]
    sql = subprocess.run(
        [*alembic, "upgrade", "head", "--sql"], env=env, capture_output=True, text=True, check=True
    )
    assert "CREATE TABLE project" in sql.stdout
    assert not db.exists()
    subprocess.run([*alembic, "upgrade", "bbbb00000002"], env=env, capture_output=True, check=True)
    engine = create_duckdb_engine(db)
    assert current_revision(engine, FIXTURE) == "bbbb00000002"
    subprocess.run([*alembic, "upgrade", "head"], env=env, capture_output=True, check=True)
    assert version_rows(engine) == [HEAD]


def test_operator_url_on_the_command_line_wins(tmp_path: Path) -> None:
    """`alembic -x url=...` points at another database than the environment names."""
    ini = tmp_path / "alembic.ini"
    ini.write_text(f"[alembic]\nscript_location = {FIXTURE.script_location}\n")
    from_env, from_x = tmp_path / "env.duckdb", tmp_path / "x.duckdb"
    env = {**os.environ, "FIXTURE_DB_URL": duckdb_url(from_env)}
    subprocess.run(
        [
            sys.executable,
            "-m",
            "alembic",
            "-c",
            str(ini),
            "-x",
            f"url={duckdb_url(from_x)}",
            "upgrade",
            "head",
        ],
        env=env,
        capture_output=True,
        check=True,
    )
    assert not from_env.exists()
    assert version_rows(create_duckdb_engine(from_x)) == [HEAD]
