"""Subprocess worker for the multi-process database tests in tests/core.

Usage: python db_worker.py MODE DB START_AT [COUNT]

Every mode sleeps until the wall-clock time START_AT so that all workers hit the database at
the same moment, then prints one JSON line with its result on stdout.
"""

from __future__ import annotations

import json
import os
import sys
import time
import uuid
from pathlib import Path

import sqlalchemy as sa

from storage_core.database import create_duckdb_engine, create_sqlite_engine, open_duckdb
from storage_core.schema import SchemaEnvironment, ensure_schema

FIXTURE = SchemaEnvironment(
    name="fixture",
    script_location=str(Path(__file__).resolve().parent.parent / "schema_fixture"),
    version_table="fixture_alembic_version",
)


def _wait_until(start_at: float) -> None:
    delay = start_at - time.time()
    if delay > 0:
        time.sleep(delay)


def _write(engine: sa.Engine, count: int) -> int:
    written = 0
    for i in range(count):
        # Read-then-write in one transaction: a deferred SQLite transaction would fail here
        # under contention; BEGIN IMMEDIATE makes it wait instead.
        with engine.begin() as conn:
            conn.execute(sa.text("SELECT count(*) FROM item")).scalar_one()
            conn.execute(
                sa.text("INSERT INTO item (id, writer, n) VALUES (:id, :w, :n)"),
                {"id": str(uuid.uuid4()), "w": os.getpid(), "n": i},
            )
        written += 1
    return written


def main() -> None:
    mode, db, start_at = sys.argv[1], sys.argv[2], float(sys.argv[3])
    count = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    result: dict[str, object] = {"pid": os.getpid()}
    if mode == "ensure":
        engine = create_duckdb_engine(db, lock_timeout=60)
        _wait_until(start_at)
        result["action"] = ensure_schema(engine, FIXTURE, lock_timeout=60).action
    elif mode == "duckdb-write":
        engine = create_duckdb_engine(db, lock_timeout=60)
        _wait_until(start_at)
        result["written"] = _write(engine, count)
    elif mode == "sqlite-write":
        engine = create_sqlite_engine(db, busy_timeout=60)
        _wait_until(start_at)
        result["written"] = _write(engine, count)
    elif mode == "hold":
        with open_duckdb(db, lock_timeout=10):
            print(json.dumps({"pid": os.getpid(), "holding": True}), flush=True)
            time.sleep(float(sys.argv[3]))
        return
    else:
        raise SystemExit(f"unknown mode {mode}")
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
