"""What the artifact figures share: payloads, diary stores per backend, a moto S3 server, and
the raw baselines' building blocks (DuckDB BLOB tables, fsspec files, s3fs objects).

Every raw baseline gives the same guarantees the project gives, done by hand: it computes the
SHA-256 of what it writes (the project records it in the row) and checks it on read (the
project verifies every read). Without that, a baseline would measure a different job.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.harness import Context, Unit, subprocess_env

__all__ = [
    "ACCESS_KEY",
    "MIB_PER_SECOND",
    "RAW_DDL",
    "SECRET_KEY",
    "S3Server",
    "diary_store",
    "make_payloads",
    "new_key",
    "payload_count",
    "raw_duckdb_get_many",
    "raw_duckdb_put_one_transaction",
    "raw_file_put",
    "s3_server",
]

MIB = 1024 * 1024
MIB_PER_SECOND = Unit("MiB/s", higher_is_better=True, per_second=True)
#: Credentials for the local moto server, which accepts any. Never real ones.
ACCESS_KEY = "bench-access"
SECRET_KEY = "bench-secret"
#: The raw baseline's table: what a user would create to keep blobs in DuckDB.
RAW_DDL = "CREATE TABLE artifact (id UUID PRIMARY KEY, sha256 VARCHAR NOT NULL, data BLOB)"


def payload_count(ctx: Context) -> int:
    """Artifacts per run: the issue's 200 x 1 MiB at full size."""
    return ctx.size(full=200, quick=8, tiny=3)


def make_payloads(count: int) -> list[bytes]:
    """``count`` distinct 1 MiB payloads of random (incompressible) bytes."""
    return [os.urandom(MIB) for _ in range(count)]


def new_key() -> str:
    """A fresh ``<aa>/<uuid>`` key, the layout the project uses."""
    name = str(uuid.uuid4())
    return f"{name[:2]}/{name}"


@dataclasses.dataclass(frozen=True)
class S3Server:
    """A moto S3 server in a child process (a real S3 is another process too).

    Attributes:
        endpoint: its URL on 127.0.0.1.
        bucket: a bucket made for the figure.
    """

    endpoint: str
    bucket: str

    def s3fs(self) -> Any:
        """A new s3fs client for the server, configured as the project configures its own."""
        import s3fs

        return s3fs.S3FileSystem(**self.options().storage_options())

    def options(self) -> Any:
        """S3Options for the server (the same the project's settings produce)."""
        from storage_core.blobs import S3Options

        return S3Options(endpoint_url=self.endpoint, access_key=ACCESS_KEY, secret_key=SECRET_KEY)


@contextlib.contextmanager
def s3_server() -> Iterator[S3Server]:
    """Start ``python -m bench.child moto`` and make a bucket; stop the server afterwards."""
    os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")
    child = subprocess.Popen(
        [sys.executable, "-m", "bench.child", "moto"],
        env=subprocess_env(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        endpoint = child.stdout.readline().strip()
        if not endpoint.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"the moto server did not start: {endpoint!r}")
        server = S3Server(endpoint, f"bench-{uuid.uuid4().hex[:8]}")
        server.s3fs().mkdir(server.bucket)
        yield server
    finally:
        if child.stdin is not None:
            child.stdin.close()
        child.wait(timeout=30)


def diary_store(
    path: Path, backend: str, *, fs_root: Path | None = None, s3: S3Server | None = None
) -> Any:
    """``diary.Store`` on a DuckDB file writing new artifacts to ``backend``."""
    import diary
    from diary.config import load_settings

    settings = load_settings(db_file=path)
    changes: dict[str, Any] = {"artifact_backend": backend}
    if fs_root is not None:
        changes["artifact_fs_root"] = fs_root
    if s3 is not None:
        changes.update(
            artifact_s3_bucket=s3.bucket,
            artifact_s3_endpoint=s3.endpoint,
            artifact_s3_access_key=ACCESS_KEY,
            artifact_s3_secret_key=SECRET_KEY,
        )
    return diary.Store(dataclasses.replace(settings, **changes))


def new_iteration(store: Any) -> Any:
    """A project, experiment and iteration in a store (not timed); returns the iteration id."""
    project = store.get_or_create_project("bench")
    experiment = store.get_or_create_experiment(project.id, "bench")
    return store.create_iteration(experiment.id, snapshot=False).id


# -- raw DuckDB ---------------------------------------------------------------------------------


def raw_duckdb_put_one_transaction(path: Path, payloads: list[bytes]) -> float:
    """The same rows in one transaction (the fastest raw write; not what a per-call API can do)."""
    import time

    import duckdb

    conn = duckdb.connect(str(path))
    conn.execute(RAW_DDL)
    started = time.perf_counter()
    conn.begin()
    for data in payloads:
        conn.execute(
            "INSERT INTO artifact VALUES (?, ?, ?)",
            [uuid.uuid4(), hashlib.sha256(data).hexdigest(), data],
        )
    conn.commit()
    conn.close()
    return time.perf_counter() - started


def raw_duckdb_get_many(
    conn: Any,
    ids: list[Any],
    table: str = "artifact",
    sha_column: str = "sha256",
    id_column: str = "id",
) -> float:
    """One SELECT of every blob by id on an open connection, each checked."""
    import time

    started = time.perf_counter()
    rows = conn.execute(
        f"SELECT data, {sha_column} FROM {table} WHERE list_contains(?, {id_column})", [ids]
    ).fetchall()
    if len(rows) != len(ids):
        raise AssertionError("raw baseline missed blobs")
    for data, sha256 in rows:
        if hashlib.sha256(data).hexdigest() != sha256:
            raise AssertionError("raw baseline read corrupt bytes")
    return time.perf_counter() - started


# -- raw files and objects -----------------------------------------------------------------------


def raw_file_put(fs: Any, root: Path, payloads: list[bytes]) -> tuple[float, list[tuple[str, str]]]:
    """fsspec local writes, each flushed and fsynced, each hashed; returns (seconds, paths)."""
    import time

    written = []
    started = time.perf_counter()
    for data in payloads:
        key = new_key()
        fs.makedirs(str(root / key[:2]), exist_ok=True)
        path = str(root / key)
        with fs.open(path, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        written.append((path, hashlib.sha256(data).hexdigest()))
    return time.perf_counter() - started, written


def check_all(blobs: dict[str, bytes], expected: dict[str, str]) -> None:
    """Check every blob's SHA-256 (the raw side of a verified read)."""
    for path, data in blobs.items():
        if hashlib.sha256(data).hexdigest() != expected[path]:
            raise AssertionError(f"raw baseline read corrupt bytes at {path}")
