"""Faulty databases given to buildlog: refused with one line naming the file, never written.

Each fault is a file put where buildlog expects its database (``BUILDLOG_DB``). Every
command that opens the database (reading, recording, migrate, export, import, info,
``db upgrade``) must exit 1 with ``Error: <file> ...<problem>`` as the only line on stderr,
and the folder holding the file must be byte-for-byte what it was (no ``-wal``/``-shm``
left behind, no journal mode switched, no backup written).
"""

from __future__ import annotations

import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import duckdb
import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    current_isolation,
    isolated_buildlog,
    run_buildlog,
    tree,
)
from click.testing import CliRunner

from buildlog.backends.resolve import resolve_backend
from buildlog.cli import cli
from buildlog.operations import record_reward

HEAD = "0004"
DAMAGED = (
    ", not a usable buildlog database; it was left untouched; restore it from a backup or "
    "move it away"
)


def _healthy(path: Path, project: Path, rewards: int = 1500) -> None:
    """A buildlog database with enough rows to span many pages, closed cleanly.

    The records belong to a project without legacy files next to ``project``.
    """
    maker = project.parent / "maker"
    maker.mkdir(exist_ok=True)
    backend = resolve_backend(maker, str(path)).backend
    try:
        from buildlog.records import RewardEvent

        backend.append_events(
            "rewards",
            [
                RewardEvent(f"rew-{i:010x}", f"2026-01-01T00:00:{i:06d}", "accepted", 1.0)
                for i in range(rewards)
            ],
        )
        record_reward(backend, "accepted", notes="x" * 200)
    finally:
        backend.close()
    assert not Path(f"{path}-wal").exists()


def _rewrite(path: Path, sql: str, *params: object) -> None:
    conn = sqlite3.connect(path)
    try:
        conn.execute(sql, params)
        conn.commit()
    finally:
        conn.close()


def _truncated(path: Path, project: Path) -> str:
    _healthy(path, project)
    size = path.stat().st_size
    data = path.read_bytes()[: size // 2]
    path.write_bytes(data)
    return f"{{db}} is a damaged SQLite database (truncated: {size // 2} of {size} bytes){DAMAGED}"


def _corrupt_pages(path: Path, project: Path) -> str:
    _healthy(path, project)
    data = bytearray(path.read_bytes())
    page = int.from_bytes(data[16:18], "big")
    # Zero every page after the schema page: the header and size stay plausible.
    data[page:] = bytes(len(data) - page)
    path.write_bytes(bytes(data))
    return f"{{db}} is a damaged SQLite database (database disk image is malformed){DAMAGED}"


def _newer_revision(path: Path, project: Path) -> str:
    _healthy(path, project, rewards=10)
    _rewrite(path, "UPDATE buildlog_alembic_version SET version_num = ?", "9f1e2d3c4b5a")
    return (
        "database {db} is at schema revision 9f1e2d3c4b5a, which this version does not know "
        f"(newest known: {HEAD}); upgrade the software"
    )


def _original_v8(path: Path, project: Path) -> str:
    _healthy(path, project, rewards=10)
    conn = sqlite3.connect(path)
    try:
        conn.execute("DROP TABLE buildlog_alembic_version")
        conn.execute("INSERT INTO schema_version (version) VALUES (8)")
        conn.commit()
        # The original tool's database is in WAL mode too; make it a rollback-journal file
        # so that a journal-mode switch would show in the bytes.
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    return (
        "{db} is a buildlog database at schema version 8, not one at version 1 to 7; a newer "
        "buildlog wrote it; it was left untouched (use another database with --db or "
        "BUILDLOG_DB)"
    )


def _other_app(path: Path, project: Path) -> str:
    _rewrite(path, "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total REAL)")
    return (
        "{db} is a database with other tables (invoices) and no buildlog_alembic_version table, "
        "not a buildlog database; it was left untouched (use another database with --db or "
        "BUILDLOG_DB)"
    )


def _duckdb(path: Path, project: Path) -> str:
    conn = duckdb.connect(str(path))
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    return (
        "{db} is a DuckDB database, not a SQLite database; check the path, or move the file away "
        "to start a new database"
    )


def _text(path: Path, project: Path) -> str:
    path.write_text("these are my notes, not a database\n")
    return (
        "{db} is a file that is not a database, not a SQLite database; check the path, or move "
        "the file away to start a new database"
    )


FAULTS: dict[str, Callable[[Path, Path], str]] = {
    "truncated": _truncated,
    "corrupt-pages": _corrupt_pages,
    "newer-alembic-revision": _newer_revision,
    "original-schema-version-8": _original_v8,
    "other-application": _other_app,
    "duckdb-file": _duckdb,
    "text-file": _text,
}

COMMANDS = [
    ["rewards"],
    ["reward", "accepted"],
    ["info"],
    ["migrate"],
    ["export", "-o", "{out}"],
    ["import", "{bundle}"],
    ["db", "upgrade"],
    ["db", "check"],
]


@pytest.fixture
def setting(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(project with legacy files, a valid export folder, the folder of the faulty file)."""
    project = tmp_path / "widgets"
    (project / ".buildlog").mkdir(parents=True)
    (project / ".buildlog" / "reward_events.jsonl").write_text(
        '{"id": "rew-1", "timestamp": "2026-01-01T00:00:00+00:00", "outcome": "accepted", '
        '"reward_value": 1.0}\n'
    )
    source = tmp_path / "source.db"
    _healthy(source, project, rewards=3)
    bundle = tmp_path / "bundle"
    runner = CliRunner()
    exported = runner.invoke(
        cli, ["--db", str(source), "--project-root", str(project), "export", "-o", str(bundle)]
    )
    assert exported.exit_code == 0, exported.stderr
    return project, bundle, tmp_path / "faulty"


@pytest.mark.parametrize("fault", list(FAULTS))
def test_faulty_database_is_refused_and_untouched(
    fault: str, setting: tuple[Path, Path, Path]
) -> None:
    project, bundle, folder = setting
    folder.mkdir()
    db = folder / "buildlog.db"
    problem = FAULTS[fault](db, project)
    shutil.copyfile(db, folder.parent / "pristine.db")
    for leftover in folder.iterdir():
        if leftover != db:
            leftover.unlink()
    before = tree(folder)
    legacy = tree(project)
    out = folder.parent / "out"
    for command in COMMANDS:
        args = [a.format(out=out, bundle=bundle) for a in command]
        result = CliRunner().invoke(
            cli, ["--project-root", str(project), *args], env={"BUILDLOG_DB": str(db)}
        )
        assert result.exit_code == 1, (command, result.stdout, result.stderr)
        assert result.stderr == f"Error: {problem.format(db=db)}\n", command
        assert "Traceback" not in result.stdout
        assert tree(folder) == before, command
        assert tree(project) == legacy, command
        assert not out.exists(), command
    # The same through a real process, with the database named by --db.
    completed = run_buildlog(
        ["--db", str(db), "--project-root", str(project), "reward", "accepted"],
        current_isolation().env(),
    )
    assert (completed.returncode, completed.stderr) == (1, f"Error: {problem.format(db=db)}\n")
    assert tree(folder) == before


def test_a_refused_file_stays_usable_by_its_owner(setting: tuple[Path, Path, Path]) -> None:
    """After all the refusals, the original tool's newer database still opens as it was."""
    project, _bundle, folder = setting
    folder.mkdir()
    db = folder / "buildlog.db"
    _original_v8(db, project)
    result = CliRunner().invoke(
        cli, ["--project-root", str(project), "rewards"], env={"BUILDLOG_DB": str(db)}
    )
    assert result.exit_code == 1
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        assert conn.execute("SELECT max(version) FROM schema_version").fetchone() == (8,)
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        conn.close()


_KILLED_MID_TRANSACTION = r"""
import sqlite3, sys
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("PRAGMA journal_mode=DELETE")  # as the original tool keeps its database
conn.execute("PRAGMA cache_size=2")  # spill the transaction into the file early
conn.execute("BEGIN")
for i in range(2000):
    conn.execute(
        "INSERT INTO reward_events (id, project_id, timestamp, outcome, reward_value) "
        "SELECT 'lost-' || ?, project_id, timestamp, outcome, reward_value "
        "FROM reward_events LIMIT 1",
        (i,),
    )
print("ready", flush=True)
sys.stdin.read()
"""


def test_a_hot_rollback_journal_is_rolled_back_on_open(
    setting: tuple[Path, Path, Path],
) -> None:
    """A writer killed mid-transaction in rollback-journal mode leaves a hot ``-journal``.

    Rolling it back is a write, which a read-only connection cannot do ("attempt to write
    a readonly database"): buildlog must recover it, keep every committed record and none
    of the killed transaction's.
    """
    import signal
    import subprocess
    import sys

    project, _bundle, folder = setting
    folder.mkdir()
    db = folder / "buildlog.db"
    _healthy(db, project, rewards=300)
    with subprocess.Popen(
        [sys.executable, "-c", _KILLED_MID_TRANSACTION, str(db)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    ) as child:
        assert child.stdout is not None
        assert child.stdout.readline() == "ready\n"
        child.send_signal(signal.SIGKILL)
    assert Path(f"{db}-journal").stat().st_size > 0  # the precondition: a hot journal

    result = CliRunner().invoke(
        cli, ["--project-root", str(project), "info"], env={"BUILDLOG_DB": str(db)}
    )
    assert result.exit_code == 0, result.stderr
    assert "Error" not in result.stderr  # (a hint about the legacy files is expected)
    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        counts = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE id LIKE 'lost-%') FROM reward_events"
        ).fetchone()
    finally:
        conn.close()
    assert counts == (301, 0)
