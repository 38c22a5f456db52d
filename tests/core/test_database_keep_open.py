"""DuckDB engines keep the file open between units of work, and let go when asked."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from storage_core.database import create_duckdb_engine
from storage_core.database.keeper import kept_by
from storage_core.database.locks import database_lock, lock_wanted


def _engine(path: Path, keep_open: float) -> sa.Engine:
    engine = create_duckdb_engine(path, keep_open=keep_open)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE IF NOT EXISTS t (i INTEGER)")
    return engine


def test_the_file_stays_open_after_a_unit_of_work_then_closes_when_idle(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    engine = _engine(path, keep_open=0.2)
    try:
        assert database_lock(path.absolute()).is_locked  # kept open
        time.sleep(0.6)
        assert not database_lock(path.absolute()).is_locked  # idle: released
    finally:
        engine.dispose()


def test_dispose_and_keep_open_zero_release_at_once(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    engine = _engine(path, keep_open=30)
    assert database_lock(path.absolute()).is_locked
    engine.dispose()
    assert not database_lock(path.absolute()).is_locked
    assert kept_by(path.absolute()) is None
    engine = _engine(path, keep_open=0)
    assert not database_lock(path.absolute()).is_locked
    engine.dispose()


def test_another_process_gets_the_file_within_milliseconds(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    engine = _engine(path, keep_open=60)  # would keep the file a minute if nobody asked
    try:
        code = (
            "import sys, time; from storage_core.database import create_duckdb_engine\n"
            "e = create_duckdb_engine(sys.argv[1], keep_open=0)\n"
            "t = time.monotonic()\n"
            "with e.begin() as c: c.exec_driver_sql('INSERT INTO t VALUES (1)')\n"
            "print(time.monotonic() - t)\n"
        )
        done = subprocess.run(
            [sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True
        )
        assert float(done.stdout) < 5.0
        with engine.connect() as conn:
            assert conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 1
    finally:
        engine.dispose()


def test_a_touched_lock_file_means_wanted(tmp_path: Path) -> None:
    path = tmp_path / "k.duckdb"
    lock = Path(f"{path}.lock")
    lock.write_text("1\n")
    stamp = lock.stat().st_mtime_ns
    assert not lock_wanted(path, stamp)
    time.sleep(0.01)
    lock.touch()
    assert lock_wanted(path, stamp)


def _threshold(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return str(conn.exec_driver_sql("SELECT current_setting('checkpoint_threshold')").scalar())


def test_settings_hold_for_every_connection_whether_the_file_was_open_or_not(
    tmp_path: Path,
) -> None:
    path = tmp_path / "s.duckdb"
    engine = create_duckdb_engine(path, keep_open=0.2, settings={"checkpoint_threshold": "77MiB"})
    try:
        assert _threshold(engine) == "77.0 MiB"  # opened the file: SET
        assert _threshold(engine) == "77.0 MiB"  # found it open (kept): no SET needed
        time.sleep(0.6)
        assert not database_lock(path.absolute()).is_locked  # let go; the instance is gone
        assert _threshold(engine) == "77.0 MiB"  # opened again: SET again
        plain = create_duckdb_engine(tmp_path / "plain.duckdb", keep_open=0)
        assert _threshold(plain) != "77.0 MiB"  # a setting of the instance, not of DuckDB
        plain.dispose()
    finally:
        engine.dispose()
