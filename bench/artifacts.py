"""diary's artifact paths against raw DuckDB, raw files and raw S3: 200 x 1 MiB put and get.

The project side is what a user writes to store or fetch 200 artifacts: one
``log_artifacts(iteration, {name: bytes})`` (transfers overlap, one transaction records the
rows, all or nothing) and one ``read_resources_data(ids)`` (every read verified against size
and SHA-256). The baselines are the issue's: raw DuckDB BLOB inserts in one transaction and
one select; raw fsspec local writes with fsync, one after another, and reads; raw s3fs
``pipe``/``cat`` of all objects at once. Every raw baseline hashes what it writes and checks
what it reads (see :mod:`bench.artifact_support`).

The same transfers one call each (``log_artifact``, ``read_resource_data`` in a loop) are
measured once per figure and reported in its notes.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
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
    raw_duckdb_get_many,
    raw_duckdb_put_one_transaction,
    raw_file_put,
    s3_server,
)
from bench.harness import Context, Measurement, Target, figure

PUT_TARGET = Target(">= 0.8", min_ratio=0.8)
GET_TARGET = Target(">= 0.8", min_ratio=0.8)


def _named(payloads: list[bytes]) -> dict[str, bytes]:
    return {f"a{index}.bin": data for index, data in enumerate(payloads)}


def _log_batch(ctx: Context, backend: str, payloads: list[bytes], **where: Any) -> float:
    """Time one ``log_artifacts`` of every payload into a new store, up to its ``close()``."""
    store = diary_store(ctx.path("diary.duckdb"), backend, **where)
    iteration = new_iteration(store)
    started = time.perf_counter()
    store.log_artifacts(iteration, _named(payloads))
    # The close is timed: it checkpoints what the commit left in DuckDB's write-ahead log.
    store.close()
    return time.perf_counter() - started


def _log_each(ctx: Context, backend: str, payloads: list[bytes], **where: Any) -> float:
    """Time ``log_artifact`` of every payload, one call each, up to ``close()``."""
    store = diary_store(ctx.path("each.duckdb"), backend, **where)
    iteration = new_iteration(store)
    started = time.perf_counter()
    for name, data in _named(payloads).items():
        store.log_artifact(iteration, data, name=name)
    store.close()
    return time.perf_counter() - started


def _logged_store(ctx: Context, backend: str, payloads: list[bytes], **where: Any) -> Any:
    """A store holding the payloads as artifacts (written, closed and reopened; not timed)."""
    path = ctx.path("diary.duckdb")
    store = diary_store(path, backend, **where)
    iteration = new_iteration(store)
    ids = [record.id for record in store.log_artifacts(iteration, _named(payloads))]
    store.close()
    return diary_store(path, backend, **where), ids, path


def _read_batch(store: Any, ids: list[Any]) -> float:
    started = time.perf_counter()
    store.read_resources_data(ids)
    return time.perf_counter() - started


def _read_each(store: Any, ids: list[Any]) -> float:
    started = time.perf_counter()
    for ident in ids:
        store.read_resource_data(ident)
    return time.perf_counter() - started


def _note_one_call_each(measured: Measurement, seconds: float, call: str) -> Measurement:
    """Report the same transfers made one ``call`` at a time (measured once)."""
    mib = (measured.work or 0) / seconds if seconds > 0 else float("inf")
    measured.extra["one_call_each_s"] = seconds
    measured.notes.append(f"one {call} per artifact instead: {seconds:.2f} s ({mib:.0f} MiB/s)")
    return measured


def _compare_puts(
    ctx: Context,
    backend: str,
    payloads: list[bytes],
    baseline: Callable[[], float],
    baseline_name: str,
    where: Callable[[], dict[str, Any]] = dict,
) -> Measurement:
    """One ``log_artifacts`` against ``baseline``, then one call each once, for the notes.

    ``where`` gives each run its store's location (a fresh filesystem root, the S3 server).
    """
    n = len(payloads)
    measured = ctx.compare(
        lambda: _log_batch(ctx, backend, payloads, **where()),
        baseline,
        baseline_name=baseline_name,
        work=n,
        size={"artifacts": n, "bytes_each": len(payloads[0])},
    )
    seconds = _log_each(ctx, backend, payloads, **where())
    return _note_one_call_each(measured, seconds, "log_artifact")


def _compare_reads(
    ctx: Context, store: Any, ids: list[Any], baseline: Callable[[], float], baseline_name: str
) -> Measurement:
    """One ``read_resources_data`` against ``baseline``, then one call each once; closes
    ``store``."""
    try:
        measured = ctx.compare(
            lambda: _read_batch(store, ids),
            baseline,
            baseline_name=baseline_name,
            work=len(ids),
            size={"artifacts": len(ids)},
        )
        return _note_one_call_each(measured, _read_each(store, ids), "read_resource_data")
    finally:
        store.close()


@figure(
    "artifacts_inline_put",
    "artifacts inline: 200 x 1 MiB in one log_artifacts",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=PUT_TARGET,
)
def artifacts_inline_put(ctx: Context) -> Measurement:
    payloads = make_payloads(payload_count(ctx))
    return _compare_puts(
        ctx,
        "inline",
        payloads,
        lambda: raw_duckdb_put_one_transaction(ctx.path("raw.duckdb"), payloads),
        "raw DuckDB: sha256 + INSERT per blob in one transaction, then close",
    )


@figure(
    "artifacts_inline_get",
    "artifacts inline: 200 x 1 MiB in one read_resources_data (verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=GET_TARGET,
)
def artifacts_inline_get(ctx: Context) -> Measurement:
    import duckdb

    payloads = make_payloads(payload_count(ctx))
    store, ids, path = _logged_store(ctx, "inline", payloads)
    raw_path = ctx.path("raw.duckdb")
    raw_duckdb_put_one_transaction(raw_path, payloads)
    raw = duckdb.connect(str(raw_path))
    raw_ids = [row[0] for row in raw.execute("SELECT id FROM artifact").fetchall()]
    try:
        measured = _compare_reads(
            ctx,
            store,
            ids,
            lambda: raw_duckdb_get_many(raw, raw_ids),
            "raw DuckDB: one SELECT of the blobs by id + sha256 check, open connection",
        )
    finally:
        raw.close()
    # The same raw reads on a copy of the project's own file: the layout is then equal and
    # the difference is the API alone.
    copy = ctx.path("copy.duckdb")
    shutil.copyfile(path, copy)
    with duckdb.connect(str(copy)) as conn:
        table = _inline_table(conn)
        same = [raw_duckdb_get_many(conn, ids, table, "content_hash") for _ in range(3)]
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
    "artifacts filesystem: 200 x 1 MiB in one log_artifacts",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=PUT_TARGET,
)
def artifacts_fs_put(ctx: Context) -> Measurement:
    import fsspec

    payloads = make_payloads(payload_count(ctx))
    fs = fsspec.filesystem("file")
    return _compare_puts(
        ctx,
        "filesystem",
        payloads,
        lambda: raw_file_put(fs, ctx.path("raw"), payloads)[0],
        "raw fsspec local write + flush + fsync per file, sha256",
        lambda: {"fs_root": ctx.path("root")},
    )


@figure(
    "artifacts_fs_get",
    "artifacts filesystem: 200 x 1 MiB in one read_resources_data (verified)",
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

    return _compare_reads(ctx, store, ids, baseline, "raw fsspec cat_file per file + sha256 check")


def _raw_s3_put(server: S3Server, fs: Any, payloads: list[bytes]) -> float:
    started = time.perf_counter()
    batch = {f"{server.bucket}/raw/{new_key()}": data for data in payloads}
    for data in payloads:
        hashlib.sha256(data).hexdigest()
    fs.pipe(batch)
    return time.perf_counter() - started


@figure(
    "artifacts_s3_put",
    "artifacts s3 (moto server): 200 x 1 MiB in one log_artifacts",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=PUT_TARGET,
)
def artifacts_s3_put(ctx: Context) -> Measurement:
    payloads = make_payloads(payload_count(ctx))
    with s3_server() as server:
        fs = server.s3fs()
        measured = _compare_puts(
            ctx,
            "s3",
            payloads,
            lambda: _raw_s3_put(server, fs, payloads),
            "raw s3fs pipe of all blobs (concurrent), sha256",
            lambda: {"s3": server},
        )
    measured.notes.append("moto server in its own process on 127.0.0.1")
    return measured


@figure(
    "artifacts_s3_get",
    "artifacts s3 (moto server): 200 x 1 MiB in one read_resources_data (verified)",
    area="artifacts",
    unit=MIB_PER_SECOND,
    target=GET_TARGET,
)
def artifacts_s3_get(ctx: Context) -> Measurement:
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

        return _compare_reads(
            ctx, store, ids, baseline, "raw s3fs cat of all blobs (concurrent) + sha256 check"
        )
