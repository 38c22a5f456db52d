"""diary's schema snapshots: a new database is created from them, and they equal the migrations.

When a test here fails after a new migration, rewrite the snapshots with
``python -m storage_core.schema.snapshot diary.schema:schema_environment``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from sqlalchemy.engine import Engine

import diary
from diary.schema import HEAD_REVISION, schema_environment
from storage_core.database import create_duckdb_engine, create_sqlite_engine
from storage_core.schema import upgrade
from storage_core.schema.snapshot import build_snapshot, dump_schema, read_snapshot

REWRITE = "python -m storage_core.schema.snapshot diary.schema:schema_environment"


def migrated_engine(dialect: str, where: Path) -> Engine:
    """A database brought to head by running every migration (never the snapshot)."""
    if dialect == "duckdb":
        engine = create_duckdb_engine(where / "migrated.duckdb")
    else:
        engine = create_sqlite_engine(where / "migrated.sqlite")
    upgrade(engine, schema_environment(), "head")
    return engine


def schema_of(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return dump_schema(conn)


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_shipped_snapshots_are_what_the_migrations_build(dialect: str) -> None:
    env = schema_environment()
    shipped = read_snapshot(env, dialect)
    assert shipped is not None, f"no {dialect} snapshot shipped; run {REWRITE}"
    assert shipped == build_snapshot(env, dialect), f"stale {dialect} snapshot; run {REWRITE}"
    assert shipped.revision == HEAD_REVISION


CHILD = """
import json, sys
import diary
store = diary.open(sys.argv[1]) if sys.argv[1:] else diary.open()  # else the URL
project = store.create_project("p")
store.create_experiment(project.id, "e")
store.close()
print(json.dumps({"alembic": "alembic" in sys.modules}))
"""


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_a_new_database_is_created_from_the_snapshot_without_alembic(
    dialect: str, tmp_path: Path
) -> None:
    env = {**os.environ}
    env.pop("DEARDIARY_DB_URL", None)
    if dialect == "duckdb":
        args = [str(tmp_path / "new.duckdb")]
        created = lambda: create_duckdb_engine(tmp_path / "new.duckdb")  # noqa: E731
    else:
        env["DEARDIARY_DB_URL"] = f"sqlite:///{tmp_path / 'new.sqlite'}"
        args = []
        created = lambda: create_sqlite_engine(tmp_path / "new.sqlite")  # noqa: E731

    out = subprocess.run(
        [sys.executable, "-c", CHILD, *args],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert json.loads(out.stdout) == {"alembic": False}
    engine = created()
    assert schema_of(engine) == schema_of(migrated_engine(dialect, tmp_path))
    engine.dispose()


def blob_compression(path: Path) -> set[str]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        rows = con.execute(
            "SELECT DISTINCT compression FROM pragma_storage_info('resource_blob') "
            "WHERE column_name = 'data' AND segment_type = 'BLOB'"
        ).fetchall()
    finally:
        con.close()
    return {compression for (compression,) in rows}


@pytest.mark.parametrize("how", ["snapshot", "migrations"])
def test_inline_bytes_are_stored_uncompressed(how: str, tmp_path: Path) -> None:
    """The one column setting SQLAlchemy cannot spell survives both ways of creating a file."""
    path = tmp_path / "diary.duckdb"
    if how == "migrations":
        engine = create_duckdb_engine(path)
        upgrade(engine, schema_environment(), "head")
        engine.dispose()
    # Text compresses well: without the column setting DuckDB would pick a compression.
    data = b"the same sentence again and again. " * 30_000
    with diary.open(path) as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        store.put_artifacts(experiment.id, {"notes.txt": data})

    assert blob_compression(path) == {"Uncompressed"}


KILLED_CHILD = """
import os, signal, sys
import sqlalchemy as sa
import diary

kill_at = int(sys.argv[2])
seen = 0
execute = sa.engine.Connection.exec_driver_sql


def counting(self, statement, *args, **kwargs):
    global seen
    if statement.startswith("CREATE "):
        seen += 1
        if seen == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)  # inside the snapshot's transaction
    return execute(self, statement, *args, **kwargs)


sa.engine.Connection.exec_driver_sql = counting
diary.open(sys.argv[1])
print("not killed")
"""


@pytest.mark.parametrize("which", ["first", "middle", "last"])
def test_a_first_use_killed_inside_the_snapshot_leaves_a_file_the_next_one_creates(
    which: str, tmp_path: Path
) -> None:
    path = tmp_path / "killed.duckdb"
    snapshot = read_snapshot(schema_environment(), "duckdb")
    assert snapshot is not None
    count = len(snapshot.statements)
    kill_at = {"first": 1, "middle": count // 2, "last": count}[which]

    killed = subprocess.run(
        [sys.executable, "-c", KILLED_CHILD, str(path), str(kill_at)],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert killed.returncode == -9, killed.stderr
    assert "not killed" not in killed.stdout
    with diary.open(path) as store:
        project = store.create_project("after the kill")
        assert [p.name for p in store.list_projects()] == [project.name]
    engine = create_duckdb_engine(path)
    assert schema_of(engine) == snapshot.statements
    engine.dispose()
