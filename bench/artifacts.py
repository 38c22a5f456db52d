"""diary's artifact paths against raw DuckDB, raw files and raw S3: 200 x 1 MiB put and get.

The project side is what a user writes: one ``log_artifact(iteration, data, name=...)`` per
artifact, and one ``read_resource_data(id)`` per read (verified against size and SHA-256).
There is no batch put in the API, so the DuckDB baseline is what raw DuckDB does for 200
separately committed INSERTs (the one-transaction number is kept as an extra). Every raw
baseline hashes what it writes and checks what it reads (see :mod:`bench.artifact_support`).
"""

from __future__ import annotations

import shutil
import time
from typing import Any

from bench.artifact_support import (
    MIB_PER_SECOND,
    S3Server,
    check_all,
    diary_store,
    make_payloads,
    new_iteration,
    new_key,
    payload_count,
    raw_duckdb_get,
    raw_duckdb_put_each,
    raw_duckdb_put_one_transaction,
    raw_file_put,
    s3_server,
)
from bench.harness import Context, Measurement, Target, figure

PUT_TARGET = Target(">= 0.8", min_ratio=0.8)
GET_TARGET = Target(">= 0.8", min_ratio=0.8)


def _log_all(ctx: Context, backend: str, payloads: list[bytes], **where: Any) -> float:
    """Time ``log_artifact`` of every payload into a new store, up to its ``close()``."""
    store = diary_store(ctx.path("diary.duckdb"), backend, **where)
    iteration = new_iteration(store)
    started = time.perf_counter()
    for index, data in enumerate(payloads):
        store.log_artifact(iteration, data, name=f"a{index}.bin")
    # The close is timed: it checkpoints what the commits left in DuckDB's write-ahead log.
    store.close()
    return time.perf_counter() - started


def _logged_store(ctx: Context, backend: str, payloads: list[bytes], **where: Any) -> Any:
    """A store holding the payloads as artifacts (written, closed and reopened; not timed)."""
    path = ctx.path("diary.duckdb")
    store = diary_store(path, backend, **where)
    iteration = new_iteration(store)
    ids = [
        store.log_artifact(iteration, data, name=f"a{i}.bin").id for i, data in enumerate(payloads)
    ]
    store.close()
    return diary_store(path, backend, **where), ids, path


def _read_all(store: Any, ids: list[Any]) -> float:
    started = time.perf_counter()
    for ident in ids:
        store.read_resource_data(ident)
    return time.perf_counter() - started


@figure(
    "artifacts_inline_put",
    "artifacts inline: 200 x 1 MiB log_artifact, one call each",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=PUT_TARGET,
)
def artifacts_inline_put(ctx: Context) -> Measurement:
    n = payload_count(ctx)
    payloads = make_payloads(n)
    measured = ctx.compare(
        lambda: _log_all(ctx, "inline", payloads),
        lambda: raw_duckdb_put_each(ctx.path("raw.duckdb"), payloads)[0],
        baseline_name="raw DuckDB: sha256 + one committed INSERT per blob, then close",
        work=n,
        size={"artifacts": n, "bytes_each": len(payloads[0])},
    )
    one = [raw_duckdb_put_one_transaction(ctx.path("raw1.duckdb"), payloads) for _ in range(3)]
    measured.extra["raw_one_transaction_s"] = one
    measured.notes.append(
        f"raw DuckDB writing the same blobs in ONE transaction: {min(one):.2f} s "
        "(a per-call API commits each artifact)"
    )
    return measured


@figure(
    "artifacts_inline_get",
    "artifacts inline: 200 x 1 MiB read_resource_data (verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=GET_TARGET,
)
def artifacts_inline_get(ctx: Context) -> Measurement:
    import duckdb

    n = payload_count(ctx)
    payloads = make_payloads(n)
    store, ids, path = _logged_store(ctx, "inline", payloads)
    raw_path = ctx.path("raw.duckdb")
    _, raw_ids = raw_duckdb_put_each(raw_path, payloads)
    raw = duckdb.connect(str(raw_path))
    try:
        measured = ctx.compare(
            lambda: _read_all(store, ids),
            lambda: raw_duckdb_get(raw, raw_ids),
            baseline_name="raw DuckDB point SELECT by id + sha256 check, open connection",
            work=n,
            size={"artifacts": n},
        )
    finally:
        store.close()
        raw.close()
    # The same raw reads on a copy of the project's own file: the layout is then equal and
    # the difference is the API alone.
    copy = ctx.path("copy.duckdb")
    shutil.copyfile(path, copy)
    with duckdb.connect(str(copy)) as conn:
        table = _inline_table(conn)
        same = [raw_duckdb_get(conn, ids, table, "content_hash") for _ in range(3)]
    measured.extra["raw_get_on_project_file_s"] = same
    measured.notes.append(
        f"baseline reads the file raw DuckDB wrote; the same raw reads on a copy of the "
        f"project's file take {min(same):.2f} s"
    )
    return measured


def _inline_table(conn: Any) -> str:
    """Where the project keeps inline bytes, as a table of (id, data, content_hash)."""
    tables = {row[0] for row in conn.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
    if "resource_blob" in tables:
        return (
            "(SELECT r.id, b.data, r.content_hash FROM resource_blob b "
            "JOIN resource r ON r.id = b.resource_id)"
        )
    return "resource"


@figure(
    "artifacts_fs_put",
    "artifacts filesystem: 200 x 1 MiB log_artifact, one call each",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=PUT_TARGET,
)
def artifacts_fs_put(ctx: Context) -> Measurement:
    import fsspec

    n = payload_count(ctx)
    payloads = make_payloads(n)
    fs = fsspec.filesystem("file")
    return ctx.compare(
        lambda: _log_all(ctx, "filesystem", payloads, fs_root=ctx.path("root")),
        lambda: raw_file_put(fs, ctx.path("raw"), payloads)[0],
        baseline_name="raw fsspec local write + flush + fsync per file, sha256",
        work=n,
        size={"artifacts": n},
    )


@figure(
    "artifacts_fs_get",
    "artifacts filesystem: 200 x 1 MiB read_resource_data (verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=GET_TARGET,
)
def artifacts_fs_get(ctx: Context) -> Measurement:
    import fsspec

    n = payload_count(ctx)
    payloads = make_payloads(n)
    fs = fsspec.filesystem("file")
    store, ids, _ = _logged_store(ctx, "filesystem", payloads, fs_root=ctx.path("root"))
    _, written = raw_file_put(fs, ctx.path("raw"), payloads)
    expected = dict(written)

    def baseline() -> float:
        started = time.perf_counter()
        check_all({path: fs.cat_file(path) for path in expected}, expected)
        return time.perf_counter() - started

    try:
        return ctx.compare(
            lambda: _read_all(store, ids),
            baseline,
            baseline_name="raw fsspec cat_file per file + sha256 check",
            work=n,
            size={"artifacts": n},
        )
    finally:
        store.close()


def _raw_s3_put(server: S3Server, fs: Any, payloads: list[bytes]) -> float:
    import hashlib

    started = time.perf_counter()
    batch = {f"{server.bucket}/raw/{new_key()}": data for data in payloads}
    for data in payloads:
        hashlib.sha256(data).hexdigest()
    fs.pipe(batch)
    return time.perf_counter() - started


@figure(
    "artifacts_s3_put",
    "artifacts s3 (moto server): 200 x 1 MiB log_artifact, one call each",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=PUT_TARGET,
)
def artifacts_s3_put(ctx: Context) -> Measurement:
    n = payload_count(ctx)
    payloads = make_payloads(n)
    with s3_server() as server:
        fs = server.s3fs()
        measured = ctx.compare(
            lambda: _log_all(ctx, "s3", payloads, s3=server),
            lambda: _raw_s3_put(server, fs, payloads),
            baseline_name="raw s3fs pipe of all blobs (concurrent), sha256",
            work=n,
            size={"artifacts": n},
        )
    measured.notes.append("moto server in its own process on 127.0.0.1")
    return measured


@figure(
    "artifacts_s3_get",
    "artifacts s3 (moto server): 200 x 1 MiB read_resource_data (verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=GET_TARGET,
)
def artifacts_s3_get(ctx: Context) -> Measurement:
    import hashlib

    n = payload_count(ctx)
    payloads = make_payloads(n)
    with s3_server() as server:
        fs = server.s3fs()
        store, ids, _ = _logged_store(ctx, "s3", payloads, s3=server)
        expected = {f"{server.bucket}/raw/{new_key()}": data for data in payloads}
        fs.pipe(expected)
        hashes = {path: hashlib.sha256(data).hexdigest() for path, data in expected.items()}

        def baseline() -> float:
            started = time.perf_counter()
            check_all(fs.cat(list(hashes)), hashes)
            return time.perf_counter() - started

        try:
            return ctx.compare(
                lambda: _read_all(store, ids),
                baseline,
                baseline_name="raw s3fs cat of all blobs (concurrent) + sha256 check",
                work=n,
                size={"artifacts": n},
            )
        finally:
            store.close()
