"""``migrate_artifacts`` of 200 x 1 MiB inline artifacts to the filesystem and to S3, against a
raw copy of the same bytes.

The project side is the library call a user makes, ``migrate_artifacts(store, to=...)``
(verifying size and SHA-256 of every copy, switching each row in its own guarded transaction,
removing the inline bytes), up to ``store.close()``. The baseline reads the same bytes from a
copy of the same database file with raw DuckDB, checks each against its recorded SHA-256 and
writes it out (a file with fsync, or s3fs ``pipe`` of all objects at once); it changes no row.
Each run starts from a fresh copy of one database of inline artifacts (copying is not timed).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
from pathlib import Path
from typing import Any

from bench.artifact_support import (
    MIB_PER_SECOND,
    S3Server,
    diary_store,
    make_payloads,
    new_iteration,
    new_key,
    payload_count,
    s3_server,
)
from bench.harness import Context, Measurement, Target, figure

MIGRATE_TARGET = Target(">= 0.7", min_ratio=0.7)
_ROWS_SQL = (
    "SELECT b.data, r.content_hash FROM resource_blob b JOIN resource r ON r.id = b.resource_id"
)


def _inline_database(ctx: Context, count: int) -> Path:
    """A diary file holding ``count`` inline artifacts of 1 MiB (written once, not timed)."""
    path = ctx.path("template.duckdb")
    store = diary_store(path, "inline")
    iteration = new_iteration(store)
    for index, data in enumerate(make_payloads(count)):
        store.log_artifact(iteration, data, name=f"a{index}.bin")
    store.close()
    return path


def _fresh_copy(ctx: Context, template: Path) -> Path:
    path = ctx.path("run.duckdb")
    shutil.copyfile(template, path)
    return path


def _migrate(ctx: Context, template: Path, target: str, count: int, **where: Any) -> float:
    from diary.artifacts import migrate_artifacts

    store = diary_store(_fresh_copy(ctx, template), target, **where)
    try:
        started = time.perf_counter()
        report = migrate_artifacts(store, to=target)
        store.close()
        elapsed = time.perf_counter() - started
    finally:
        store.close()
    if report.done != count or report.failed:
        raise AssertionError(f"migration moved {report.done} of {count}: {report.failed}")
    return elapsed


def _raw_rows(path: Path) -> Any:
    """A raw DuckDB cursor over every inline blob and its recorded hash (timed by callers)."""
    import duckdb

    conn = duckdb.connect(str(path))
    return conn, conn.execute(_ROWS_SQL)


def _checked(data: bytes, expected: str) -> bytes:
    if hashlib.sha256(data).hexdigest() != expected:
        raise AssertionError("raw baseline read corrupt bytes")
    return data


def _raw_to_files(ctx: Context, template: Path) -> float:
    copy = _fresh_copy(ctx, template)
    root = ctx.path("raw-root")
    started = time.perf_counter()
    conn, cursor = _raw_rows(copy)
    try:
        while rows := cursor.fetchmany(16):
            for data, expected in rows:
                key = new_key()
                (root / key[:2]).mkdir(parents=True, exist_ok=True)
                with open(root / key, "wb") as out:
                    out.write(_checked(data, expected))
                    out.flush()
                    os.fsync(out.fileno())
    finally:
        conn.close()
    return time.perf_counter() - started


def _raw_to_s3(ctx: Context, template: Path, server: S3Server, fs: Any) -> float:
    copy = _fresh_copy(ctx, template)
    started = time.perf_counter()
    conn, cursor = _raw_rows(copy)
    try:
        while rows := cursor.fetchmany(16):
            fs.pipe(
                {f"{server.bucket}/raw/{new_key()}": _checked(data, hash_) for data, hash_ in rows}
            )
    finally:
        conn.close()
    return time.perf_counter() - started


@figure(
    "migrate_inline_to_filesystem",
    "migrate_artifacts: 200 x 1 MiB inline -> filesystem (verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=MIGRATE_TARGET,
)
def migrate_inline_to_filesystem(ctx: Context) -> Measurement:
    n = payload_count(ctx)
    template = _inline_database(ctx, n)
    return ctx.compare(
        lambda: _migrate(ctx, template, "filesystem", n, fs_root=ctx.path("root")),
        lambda: _raw_to_files(ctx, template),
        baseline_name="raw DuckDB scan + sha256 check + file write with fsync",
        work=n,
        size={"artifacts": n},
    )


@figure(
    "migrate_inline_to_s3",
    "migrate_artifacts: 200 x 1 MiB inline -> s3 (moto server, verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=MIGRATE_TARGET,
)
def migrate_inline_to_s3(ctx: Context) -> Measurement:
    n = payload_count(ctx)
    template = _inline_database(ctx, n)
    with s3_server() as server:
        fs = server.s3fs()
        measured = ctx.compare(
            lambda: _migrate(ctx, template, "s3", n, s3=server),
            lambda: _raw_to_s3(ctx, template, server, fs),
            baseline_name="raw DuckDB scan + sha256 check + s3fs pipe, 16 objects at a time",
            work=n,
            size={"artifacts": n},
        )
    measured.notes.append("moto server in its own process on 127.0.0.1")
    return measured
