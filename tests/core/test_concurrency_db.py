"""Several real processes on one database file: first use, writes, and the DuckDB lock wait."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage_core.database import create_duckdb_engine, create_sqlite_engine, open_duckdb
from storage_core.errors import DatabaseLocked

WORKER = Path(__file__).resolve().parent / "workers" / "db_worker.py"
# Far enough ahead for every interpreter to start and import before the common start time.
START_DELAY = 2.5
# DuckDB opens the file per unit of work (~20 ms each on this machine), so writes from four
# processes serialise (~25-45 ms per write under contention here): 4 x 500 takes most of a
# minute, which is the price of proving that no write ever fails on the lock.
DUCKDB_WRITES = 500
SQLITE_WRITES = 500


def run_workers(mode: str, db: Path, processes: int, count: int = 0) -> list[dict[str, object]]:
    start_at = time.time() + START_DELAY
    args = [sys.executable, str(WORKER), mode, str(db), repr(start_at), str(count)]
    procs = [
        subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(processes)
    ]
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, err
        results.append(json.loads(out))
    return results


def create_item_table(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("CREATE TABLE item (id VARCHAR(36) PRIMARY KEY, writer INTEGER, n INTEGER)")
        )


@pytest.mark.slow
def test_parallel_first_use_of_a_new_duckdb_file(tmp_path: Path) -> None:
    db = tmp_path / "first.duckdb"
    results = run_workers("ensure", db, processes=4)
    actions = sorted(str(r["action"]) for r in results)
    assert actions == ["created", "none", "none", "none"]
    engine = create_duckdb_engine(db)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT version_num FROM fixture_alembic_version")).scalars()
        assert list(rows) == ["cccc00000003"]


@pytest.mark.slow
def test_duckdb_writers_wait_for_each_other(tmp_path: Path) -> None:
    db = tmp_path / "writes.duckdb"
    engine = create_duckdb_engine(db)
    create_item_table(engine)
    results = run_workers("duckdb-write", db, processes=4, count=DUCKDB_WRITES)
    assert [r["written"] for r in results] == [DUCKDB_WRITES] * 4
    with engine.connect() as conn:
        per_writer = conn.execute(
            sa.text("SELECT writer, count(*) FROM item GROUP BY writer")
        ).all()
    assert sorted(n for _, n in per_writer) == [DUCKDB_WRITES] * 4
    assert {w for w, _ in per_writer} == {r["pid"] for r in results}


@pytest.mark.slow
def test_sqlite_writers_with_begin_immediate_never_fail(tmp_path: Path) -> None:
    db = tmp_path / "writes.sqlite"
    engine = create_sqlite_engine(db)
    create_item_table(engine)
    # Each transaction reads, then writes: deferred transactions would fail under contention.
    results = run_workers("sqlite-write", db, processes=8, count=SQLITE_WRITES)
    assert [r["written"] for r in results] == [SQLITE_WRITES] * 8
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM item")).scalar() == 8 * SQLITE_WRITES


def test_lock_held_by_another_process_raises_database_locked(tmp_path: Path) -> None:
    db = tmp_path / "held.duckdb"
    with open_duckdb(db):
        pass
    holder = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", str(db), "30"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None
        assert json.loads(holder.stdout.readline())["holding"] is True
        started = time.monotonic()
        with pytest.raises(DatabaseLocked) as info, open_duckdb(db, lock_timeout=0.5):
            pass
        assert time.monotonic() - started < 5
        assert info.value.pid == holder.pid
        assert info.value.path == str(db)
        assert info.value.waited >= 0.5
        assert f"database {db} is locked by process {holder.pid}" in str(info.value)
        engine = create_duckdb_engine(db, lock_timeout=0.3)
        with pytest.raises(DatabaseLocked), engine.connect():
            pass
    finally:
        holder.kill()
        holder.communicate()
    # Once the holder is gone the file opens again.
    with open_duckdb(db, lock_timeout=5):
        pass


def test_lock_wait_succeeds_when_the_holder_lets_go(tmp_path: Path) -> None:
    db = tmp_path / "released.duckdb"
    with open_duckdb(db):
        pass
    holder = subprocess.Popen(
        [sys.executable, str(WORKER), "hold", str(db), "1.0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None
    assert json.loads(holder.stdout.readline())["holding"] is True
    with open_duckdb(db, lock_timeout=30):
        pass
    holder.communicate(timeout=30)
    assert holder.returncode == 0
