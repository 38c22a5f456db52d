"""DuckDB's storage format, the one hard constraint on the duckdb version range: a file written
by a newer DuckDB release is refused with a message that names both versions and the fix."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from storage_core.database.duckdb_format import installed_duckdb_version, writer_version
from storage_core.database.engines import open_duckdb
from storage_core.errors import DatabaseDamaged, StorageFormatTooNew


def _database(path: Path) -> Path:
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE t (a INTEGER)")
    conn.close()
    return path


def _claim_written_by(path: Path, version: bytes) -> None:
    """Rewrite the writer's version in the main header, as a newer release would have left it
    (the header's checksum no longer matches, as DuckDB would find for a format it cannot read)."""
    data = path.read_bytes()
    at = data.index(f"v{installed_duckdb_version()}".encode())
    with path.open("r+b") as handle:
        handle.seek(at)
        handle.write(version.ljust(len(f"v{installed_duckdb_version()}"), b"\0"))


def test_the_header_names_the_duckdb_that_wrote_the_file(tmp_path: Path) -> None:
    assert writer_version(_database(tmp_path / "a.duckdb")) == f"v{duckdb.__version__}"


def test_not_a_duckdb_file_has_no_writer(tmp_path: Path) -> None:
    other = tmp_path / "x.db"
    other.write_bytes(b"SQLite format 3\0" + b"\0" * 200)
    assert writer_version(other) is None


def test_a_file_from_a_newer_release_is_refused_naming_both_versions(tmp_path: Path) -> None:
    path = _database(tmp_path / "new.duckdb")
    _claim_written_by(path, b"v9.1.0")
    before = path.read_bytes()
    with pytest.raises(StorageFormatTooNew) as caught, open_duckdb(path):
        pass
    assert str(caught.value) == (
        f"database {path} was written by DuckDB 9.1.0, whose storage format the installed "
        f"duckdb {installed_duckdb_version()} cannot read; upgrade it: "
        "pip install 'duckdb>=9.1'"
    )
    assert path.read_bytes() == before


def test_damage_in_a_file_of_this_release_is_still_damage(tmp_path: Path) -> None:
    path = _database(tmp_path / "damaged.duckdb")
    with path.open("r+b") as handle:
        handle.seek(20)
        handle.write(b"\xff" * 8)
    with pytest.raises(DatabaseDamaged), open_duckdb(path):
        pass


def test_diary_says_so_in_one_line(tmp_path: Path) -> None:
    path = _database(tmp_path / "runs.db")
    _claim_written_by(path, b"v9.1.0")
    result = subprocess.run(
        [str(Path(sys.executable).parent / "diary"), "--db", str(path), "project", "list"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: database {path} was written by DuckDB 9.1.0")
    assert len(result.stderr.strip().splitlines()) == 1
