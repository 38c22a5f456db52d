"""diary under faults: S3 endpoints that are down, refuse keys, lack the bucket or fail
requests; read-only roots, altered files and file-size limits on disk; databases that are
truncated, newer than this diary or not diary databases at all.

Each fault gives a clear one-line error (within the configured timeout), leaves the rows as
they were, and the next run, with the fault gone, recovers.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import sqlite3
import stat
import time
from pathlib import Path
from typing import Any
from uuid import UUID

import duckdb
import pytest
from diary_support import (
    WITHOUT_ROOT_BYPASS,
    DiarySandbox,
    FaultProxy,
    row_counts,
    run_cli,
    sha256,
    start_child,
    tree_digest,
)

from diary.artifacts import migrate_artifacts, verify_artifacts
from diary.errors import (
    BackendUnavailable,
    ForeignDatabase,
    IntegrityError,
    SchemaTooNew,
    StorageError,
)
from storage_core.errors import PermissionDenied
from storage_core.testing import TEST_ACCESS_KEY

# A generous bound on "fails within the configured timeout": RETRIES=1 and CONNECT_TIMEOUT=1
# below, so a healthy failure takes about a second; the bound allows a loaded machine.
FAILS_WITHIN = 30.0


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _seed(box: DiarySandbox, count: int = 6) -> tuple[UUID, dict[UUID, str]]:
    """An experiment with ``count`` inline artifacts; returns it and id -> sha256."""
    expected: dict[UUID, str] = {}
    with box.open(DEARDIARY_ARTIFACT_BACKEND="inline") as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        for i in range(count):
            data = os.urandom(1000 + i * 5000)
            expected[store.put_artifact(experiment, data, name=f"a{i}").id] = sha256(data)
    return experiment, expected


def _check(box: DiarySandbox, expected: dict[UUID, str], backend: str) -> None:
    with box.open() as store:
        for rid, digest in expected.items():
            assert store.get_resource(rid).backend == backend
            assert sha256(store.read_resource_data(rid)) == digest


def _fails(box: DiarySandbox, error: type[StorageError], call: Any, **settings: str) -> str:
    """Run ``call(store)`` with extra settings; it must raise ``error`` in time, rows untouched."""
    counts = row_counts(box.db)
    started = time.monotonic()
    with box.open(**settings) as store, pytest.raises(error) as caught:
        call(store)
    assert time.monotonic() - started < FAILS_WITHIN
    assert row_counts(box.db) == counts
    message = str(caught.value)
    assert "\n" not in message
    return message


# -- S3 ---------------------------------------------------------------------------------------

FAST = {"DEARDIARY_ARTIFACT_S3_RETRIES": "1", "DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT": "1"}


def test_diary_s3_stopped_endpoint(diary_s3_sandbox: DiarySandbox) -> None:
    box = diary_s3_sandbox
    experiment, expected = _seed(box)
    dead = f"http://127.0.0.1:{_closed_port()}"
    unreachable = f"s3 backend unavailable: cannot reach {dead}: connection failed"
    settings = {**FAST, "DEARDIARY_ARTIFACT_S3_ENDPOINT": dead, "DEARDIARY_ARTIFACT_BACKEND": "s3"}
    put = _fails(
        box, BackendUnavailable, lambda s: s.put_artifact(experiment, b"x", name="x"), **settings
    )
    assert put == unreachable
    moved = _fails(box, BackendUnavailable, lambda s: migrate_artifacts(s, to="s3"), **settings)
    assert moved == unreachable
    result = run_cli(box, "artifact", "migrate", "--to", "s3", **settings)
    assert (result.returncode, result.stderr) == (1, f"Error: {unreachable}\n")
    _check(box, expected, "inline")
    # The next run, with the endpoint back, moves everything; then reads fail cleanly while it
    # is down again.
    with box.open() as store:
        assert migrate_artifacts(store, to="s3").ok
    _check(box, expected, "s3")
    read = _fails(
        box, BackendUnavailable, lambda s: s.read_resource_data(next(iter(expected))), **settings
    )
    assert read == unreachable


def test_diary_s3_wrong_credentials(
    diary_s3_sandbox: DiarySandbox, diary_fault_proxy: FaultProxy
) -> None:
    box = diary_s3_sandbox
    experiment, expected = _seed(box)
    proxy = diary_fault_proxy
    proxy.mode, proxy.allowed_key = "auth", TEST_ACCESS_KEY
    bucket = box.settings["DEARDIARY_ARTIFACT_S3_BUCKET"]
    wrong = {
        **FAST,
        "DEARDIARY_ARTIFACT_S3_ENDPOINT": proxy.url,
        "DEARDIARY_ARTIFACT_S3_ACCESS_KEY": "AKIAWRONGWRONGWRONG1",
        "DEARDIARY_ARTIFACT_BACKEND": "s3",
    }
    refused = f"access denied by {proxy.url} (check the access key and secret key): s3://{bucket}"
    message = _fails(box, PermissionDenied, lambda s: migrate_artifacts(s, to="s3"), **wrong)
    assert message == refused
    message = _fails(
        box, PermissionDenied, lambda s: s.put_artifact(experiment, b"x", name="x"), **wrong
    )
    assert message == refused
    result = run_cli(box, "artifact", "migrate", "--to", "s3", **wrong)
    assert (result.returncode, result.stderr) == (1, f"Error: {refused}\n")
    assert proxy.faults >= 3
    _check(box, expected, "inline")
    # The right key through the same checking endpoint: the next run recovers.
    right = {**FAST, "DEARDIARY_ARTIFACT_S3_ENDPOINT": proxy.url}
    with box.open(**right) as store:
        assert migrate_artifacts(store, to="s3").ok
    _check(box, expected, "s3")


def test_diary_s3_missing_bucket(diary_s3_sandbox: DiarySandbox) -> None:
    box = diary_s3_sandbox
    experiment, expected = _seed(box)
    missing = {**FAST, "DEARDIARY_ARTIFACT_S3_BUCKET": "no-such-bucket"}
    text = "s3 backend unavailable: bucket 'no-such-bucket' does not exist"
    assert (
        _fails(box, BackendUnavailable, lambda s: migrate_artifacts(s, to="s3"), **missing) == text
    )
    assert (
        _fails(
            box,
            BackendUnavailable,
            lambda s: s.put_artifact(experiment, b"x", name="x"),
            DEARDIARY_ARTIFACT_BACKEND="s3",
            **missing,
        )
        == text
    )
    _check(box, expected, "inline")
    with box.open() as store:
        assert migrate_artifacts(store, to="s3").ok
    _check(box, expected, "s3")


@pytest.mark.parametrize(
    ("mode", "status"), [("fail", 503), ("fail", 500), ("drop", 0)], ids=["503", "500", "drop"]
)
def test_diary_s3_server_failing_requests(
    diary_s3_sandbox: DiarySandbox, diary_fault_proxy: FaultProxy, mode: str, status: int
) -> None:
    box = diary_s3_sandbox
    experiment, expected = _seed(box, count=6)
    bucket = box.settings["DEARDIARY_ARTIFACT_S3_BUCKET"]
    proxy = diary_fault_proxy
    proxy.mode, proxy.status = mode, status
    through = {"DEARDIARY_ARTIFACT_S3_ENDPOINT": proxy.url}
    # Every 4th request fails: with retries the migration goes through.
    proxy.every = 4
    with box.open(**through, DEARDIARY_ARTIFACT_S3_RETRIES="4") as store:
        report = migrate_artifacts(store, to="s3", workers=2)
        assert report.ok, report.summary()
        assert migrate_artifacts(store, to="inline", from_backend="s3", workers=2).ok
    assert proxy.faults > 0
    _check(box, expected, "inline")
    # Every request fails: a clear error within the timeout, every row as it was.
    proxy.every = 1
    refused = {
        503: f"cannot stat s3://{bucket}: Service Unavailable",
        500: f"cannot stat s3://{bucket}: Internal Server Error",
        0: f"s3 backend unavailable: cannot reach {proxy.url}: connection failed",
    }[status]
    moved = _fails(box, StorageError, lambda s: migrate_artifacts(s, to="s3"), **through, **FAST)
    assert moved == refused
    put = _fails(
        box,
        StorageError,
        lambda s: s.put_artifact(experiment, b"x", name="x"),
        DEARDIARY_ARTIFACT_BACKEND="s3",
        **through,
        **FAST,
    )
    assert put == refused
    _check(box, expected, "inline")
    # Every 2nd request fails, nothing retried: rows that fail are reported and left as they
    # were; the others moved.
    proxy.every = 2
    started = time.monotonic()
    done = 0
    with box.open(**through, **FAST) as store:
        report = None
        with contextlib.suppress(StorageError):  # the bucket check itself may fail: no rows
            report = migrate_artifacts(store, to="s3", workers=2)
        if report is not None:
            done = report.done
            for failure in report.failed:
                assert re.fullmatch(
                    r"(StorageIOError: cannot (write|stat|read) s3://\S+: "
                    r"(Service Unavailable|Internal Server Error|Please reduce your request rate\.)"
                    r"|BackendUnavailable: s3 backend unavailable: cannot reach "
                    + re.escape(proxy.url)
                    + r": connection failed)",
                    failure.error,
                ), failure.error
        assert sum(r.backend == "s3" for r in store.list_resources(experiment)) == done
    assert time.monotonic() - started < FAILS_WITHIN
    # The next run, the server healthy again, finishes the job; every artifact reads back.
    proxy.mode = "pass"
    with box.open(**through) as store:
        assert migrate_artifacts(store, to="s3", workers=2).ok
    _check(box, expected, "s3")


# -- filesystem -------------------------------------------------------------------------------


def _cli_child(
    box: DiarySandbox, *args: str, options: tuple[str, ...] = (), prefix: tuple[str, ...] = ()
) -> tuple[int, str, str]:
    process = start_child(box, "cli", *options, "--", *args, prefix=prefix)
    out, err = process.communicate(timeout=120)
    return process.returncode, out.removeprefix("ready\n"), err


def test_diary_read_only_artifact_root(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    box.settings["DEARDIARY_ARTIFACT_BACKEND"] = "filesystem"
    as_user = WITHOUT_ROOT_BYPASS
    code, out, err = _cli_child(box, "project", "create", "p", prefix=as_user)
    assert code == 0, err
    code, experiment, err = _cli_child(box, "experiment", "create", "p", "e", prefix=as_user)
    assert code == 0, err
    source = box.root / "model.bin"
    source.write_bytes(os.urandom(50_000))
    source.chmod(0o644)
    code, out, err = _cli_child(
        box, "artifact", "put", experiment.strip(), str(source), prefix=as_user
    )
    assert code == 0, err
    for path in [box.artifacts, *box.artifacts.rglob("*")]:
        if path.is_dir():
            path.chmod(0o555)
    before = (tree_digest(box.db, box.artifacts), row_counts(box.db))
    code, out, err = _cli_child(
        box, "artifact", "put", experiment.strip(), str(source), prefix=as_user
    )
    assert (code, out) == (1, "")
    root_uri = f"file://{box.artifacts}"
    assert re.fullmatch(
        # <root>/<the database's identity>/<aa>/<uuid>: the first folder that cannot be made
        rf"Error: permission denied: {re.escape(root_uri)}(/[0-9a-f-]{{36}})?(/[0-9a-f]{{2}})?"
        rf"(/[0-9a-f-]{{36}})?\n",
        err,
    ), err
    assert (tree_digest(box.db, box.artifacts), row_counts(box.db)) == before
    for path in [box.artifacts, *box.artifacts.rglob("*")]:
        if path.is_dir():
            path.chmod(0o755)
    code, out, err = _cli_child(
        box, "artifact", "put", experiment.strip(), str(source), prefix=as_user
    )
    assert code == 0, err
    assert row_counts(box.db)["resource"] == before[1]["resource"] + 1


def test_diary_altered_files_are_detected(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    box.settings["DEARDIARY_ARTIFACT_BACKEND"] = "filesystem"
    with box.open() as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        truncated = store.put_artifact(experiment, b"a" * 1000, name="t")
        altered = store.put_artifact(experiment, b"b" * 1000, name="a")
        intact = store.put_artifact(experiment, b"c" * 1000, name="i")
    t_path = Path(truncated.uri.removeprefix("file://"))
    a_path = Path(altered.uri.removeprefix("file://"))
    with open(t_path, "r+b") as handle:
        handle.truncate(400)
    data = bytearray(a_path.read_bytes())
    data[500] ^= 0xFF
    a_path.write_bytes(bytes(data))
    before = (tree_digest(box.db, box.artifacts), row_counts(box.db))
    with box.open() as store:
        with pytest.raises(IntegrityError) as caught:
            store.read_resource_data(truncated.id)
        assert str(caught.value) == (
            f"size mismatch for artifact {truncated.id} at {truncated.uri}: "
            "expected 1000, found 400"
        )
        with pytest.raises(IntegrityError) as caught:
            store.read_resource_data(altered.id)
        assert str(caught.value) == (
            f"sha256 mismatch for artifact {altered.id} at {altered.uri}: "
            f"expected {sha256(b'b' * 1000)}, found {sha256(bytes(data))}"
        )
        assert store.read_resource_data(intact.id) == b"c" * 1000
        report = verify_artifacts(store)
    assert sorted((p.problem, str(p.id)) for p in report.problems) == sorted(
        [("corrupt", str(truncated.id)), ("corrupt", str(altered.id))]
    )
    result = run_cli(box, "artifact", "get", str(altered.id), "-o", "copy.bin")
    assert result.returncode == 1
    assert result.stderr.startswith(f"Error: sha256 mismatch for artifact {altered.id}")
    assert result.stderr.count("\n") == 1
    assert not (box.root / "copy.bin").exists()
    verify = run_cli(box, "artifact", "verify")
    assert verify.returncode == 1
    assert f"corrupt: {truncated.id} 't' {truncated.uri}" in verify.stdout
    assert f"corrupt: {altered.id} 'a' {altered.uri}" in verify.stdout
    assert (tree_digest(box.db, box.artifacts), row_counts(box.db)) == before


@pytest.mark.parametrize("backend", ["filesystem", "inline"])
def test_diary_write_past_the_file_size_limit(diary_sandbox: DiarySandbox, backend: str) -> None:
    box = diary_sandbox
    box.settings["DEARDIARY_ARTIFACT_BACKEND"] = backend
    with box.open() as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        small = store.put_artifact(experiment, b"small", name="small")
    big = box.root / "big.bin"
    big.write_bytes(os.urandom(6 * 1024 * 1024))
    limit = max(4 * 1024 * 1024, box.db.stat().st_size + 1024 * 1024)
    before = (tree_digest(box.db, box.artifacts), row_counts(box.db))
    code, out, err = _cli_child(
        box, "artifact", "put", str(experiment), str(big), options=("--fsize", str(limit))
    )
    assert (code, out) == (1, "")
    assert err.count("\n") == 1, err
    assert err.startswith("Error: "), err
    assert "File too large" in err, err
    assert "Traceback" not in err
    after = (tree_digest(box.db, box.artifacts), row_counts(box.db))
    assert after[1] == before[1]
    if backend == "filesystem":
        assert after[0] == before[0]  # no partial file, no temporary file left behind
    with box.open() as store:  # the database opens, the old artifact reads back
        assert store.read_resource_data(small.id) == b"small"
        record = store.put_artifact(experiment, big)  # the next run, without the limit
        assert sha256(store.read_resource_data(record.id)) == sha256(big.read_bytes())


# -- databases --------------------------------------------------------------------------------


def _diary_db(box: DiarySandbox) -> None:
    with box.open() as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        iteration = store.create_iteration(experiment, snapshot=False).id
        for step in range(2000):
            store.log_metric(iteration, "x", float(step), step)


def _refused(box: DiarySandbox, path: Path, message: str, *, pattern: bool = False) -> None:
    """The CLI and the library refuse ``path`` with ``message`` (a regex when ``pattern``),
    writing nothing to it."""
    import diary

    digest = tree_digest(path)
    expected = message if pattern else re.escape(message)
    result = run_cli(box, "project", "list", DEARDIARY_DB_FILE=str(path))
    assert (result.returncode, result.stdout) == (1, ""), result.stderr
    assert re.fullmatch(f"Error: {expected}\n", result.stderr), result.stderr

    def use() -> None:
        with diary.open(path) as store:
            store.list_projects()

    with pytest.raises(StorageError) as caught:
        use()
    assert re.fullmatch(expected, str(caught.value)), str(caught.value)
    assert tree_digest(path) == digest
    assert not Path(f"{path}.wal").exists()


def test_diary_truncated_database(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    _diary_db(box)
    size = box.db.stat().st_size
    for keep in (size // 2, 4096, 100):
        broken = box.root / f"truncated-{keep}.db"
        with open(box.db, "rb") as src:
            broken.write_bytes(src.read(keep))
        _refused(
            box,
            broken,
            f"database {re.escape(str(broken))} is damaged or truncated \\(IO Error: Could not "
            r"read enough bytes: attempted to read \d+ bytes from location \d+\); nothing was "
            "written to it; restore it from a backup",
            pattern=True,
        )


def test_diary_database_from_a_newer_schema(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    _diary_db(box)
    from diary.schema import HEAD_REVISION

    conn = duckdb.connect(str(box.db))
    conn.execute("UPDATE diary_alembic_version SET version_num = '9999_from_the_future'")
    conn.close()
    _refused(
        box,
        box.db,
        f"database {box.db} is at schema revision 9999_from_the_future, which this version "
        f"does not know (newest known: {HEAD_REVISION}); upgrade the software",
    )
    import diary

    with pytest.raises(SchemaTooNew):
        diary.open(box.db)


def test_diary_foreign_files(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    sqlite_file = box.root / "old.db"
    conn = sqlite3.connect(sqlite_file)
    conn.execute("CREATE TABLE projects (id INTEGER PRIMARY KEY, name TEXT)")
    conn.commit()
    conn.close()
    _refused(
        box,
        sqlite_file,
        f"{sqlite_file} is a SQLite database (DearDiary.jl before v0.9 used SQLite), not a diary "
        "DuckDB database; nothing was written to it; use a new file, or "
        "DEARDIARY_DB_URL=sqlite:///... for a diary database kept in SQLite",
    )
    text = box.root / "notes.db"
    text.write_text("hello\n")
    _refused(
        box,
        text,
        f"{text} is a file that is not a database, not a diary database; nothing was written to it",
    )
    julia = box.root / "deardiary.jl.db"
    conn = duckdb.connect(str(julia))
    conn.execute("CREATE TABLE schema_migrations (version INTEGER)")
    conn.execute("INSERT INTO schema_migrations VALUES (1), (2)")
    conn.execute("CREATE TABLE projects (id INTEGER, name VARCHAR)")
    conn.close()
    _refused(
        box,
        julia,
        f"{julia} is a DearDiary.jl database (schema_migrations version 2), not a diary "
        "database; nothing was written to it",
    )
    other = box.root / "other-app.duckdb"
    conn = duckdb.connect(str(other))
    conn.execute("CREATE TABLE sales (id INTEGER, amount DOUBLE)")
    conn.close()
    _refused(
        box,
        other,
        f"{other} is a database with other tables (sales) and no diary_alembic_version table, "
        "not a diary database; use a new database file, or adopt this one if a command offers to",
    )
    folder = box.root / "a-folder.db"
    folder.mkdir()
    _refused(box, folder, f"{folder} is a directory, not a diary DuckDB database file")
    assert ForeignDatabase
    assert stat
