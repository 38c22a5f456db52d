"""migrate_artifacts between every pair of stores, idempotence, failures that leave rows
untouched, legacy rows, model-version references, and an unreachable S3 endpoint."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa

from diary import models as m
from diary.artifacts import migrate_artifacts, verify_artifacts
from diary.errors import BackendUnavailable, InvalidValue
from diary.records import Resource
from diary.store import Store
from storage_core.testing import TEST_SECRET_KEY

StoreFactory = Callable[..., Store]
Owner = Callable[[Store], tuple[UUID, UUID]]
BACKENDS = ["inline", "filesystem", "s3"]


def _fill(store: Store, experiment: UUID, count: int = 3) -> dict[UUID, bytes]:
    written = {}
    for i in range(count):
        data = os.urandom(1000 + i)
        written[store.put_artifact(experiment, data, name=f"a{i}").id] = data
    return written


def _rows(store: Store) -> dict[UUID, Resource]:
    with store.reading() as conn:
        from diary.store.artifacts import META_COLUMNS, resource_record

        return {r.id: r for r in map(resource_record, conn.execute(sa.select(*META_COLUMNS)).all())}


@pytest.mark.parametrize(
    ("source", "target"), [(s, t) for s in BACKENDS for t in BACKENDS if s != t]
)
def test_every_direction(
    source: str,
    target: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
    tmp_path: Path,
) -> None:
    store = make_store(source, url=catalog, **s3_settings)
    experiment, iteration = experiment_of(store)
    written = _fill(store, experiment)
    model = store.create_model(store.get_experiment(experiment).project_id, "m")
    referenced = next(iter(written))
    store.create_model_version(model.id, iteration, resource_id=referenced)
    store.close()
    store = make_store(target, url=catalog, **s3_settings)
    report = migrate_artifacts(store, from_backend=source, workers=2)
    assert (report.planned, report.done, report.skipped, report.failed) == (3, 3, 0, [])
    assert report.bytes == sum(len(d) for d in written.values())
    for resource_id, row in _rows(store).items():
        assert row.backend == target
        assert store.read_resource_data(resource_id) == written[resource_id]
    with store.reading() as conn:
        stale = conn.execute(
            sa.select(sa.func.count())
            .select_from(m.resource_blob.join(m.resource))
            .where(m.resource.c.backend != "inline")
        ).scalar_one()
    assert stale == 0
    verified = verify_artifacts(store, gc=True, grace=__import__("datetime").timedelta(0))
    assert verified.problems == []
    assert verified.orphans == []  # the source bytes were deleted
    again = migrate_artifacts(store, from_backend=source)
    assert (again.planned, again.done) == (0, 0)


def test_any_moves_every_row_not_on_the_target(
    make_store: StoreFactory, experiment_of: Owner, s3_settings: dict[str, str], catalog: str | None
) -> None:
    written: dict[UUID, bytes] = {}
    for backend in BACKENDS:
        store = make_store(backend, url=catalog, **s3_settings)
        if not written:
            experiment, _ = experiment_of(store)
        written.update(_fill(store, experiment, 2))
        store.close()
    store = make_store("filesystem", url=catalog, **s3_settings)
    report = migrate_artifacts(store, from_backend="any")
    assert (report.planned, report.done) == (4, 4)
    assert {row.backend for row in _rows(store).values()} == {"filesystem"}
    assert all(store.read_resource_data(k) == v for k, v in written.items())


def test_dry_run_touches_nothing(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    _fill(store, experiment)
    before = _rows(store)
    report = migrate_artifacts(store, to="filesystem", dry_run=True)
    assert (report.dry_run, report.planned, report.done) == (True, 3, 0)
    assert _rows(store) == before
    assert not (tmp_path / "artifacts").exists()


def test_legacy_sqlite_rows_without_hash_are_moved_and_hashed(
    make_store: StoreFactory, experiment_of: Owner
) -> None:
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, b"legacy", name="old")
    with store.transaction() as conn:
        conn.execute(sa.update(m.resource).values(backend="sqlite", content_hash=""))
    assert store.read_resource_data(record.id) == b"legacy"
    report = migrate_artifacts(store, to="filesystem", from_backend="sqlite")
    assert report.done == 1
    moved = store.get_resource(record.id)
    assert (moved.backend, moved.content_hash) == (
        "filesystem",
        hashlib.sha256(b"legacy").hexdigest(),
    )


def test_a_corrupt_row_fails_stays_untouched_and_the_rest_move(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    written = _fill(store, experiment)
    bad = next(iter(written))
    bad_uri = store.get_resource(bad).uri
    Path(bad_uri.removeprefix("file://")).write_bytes(b"x" * len(written[bad]))
    store.close()
    store = make_store("inline")
    report = migrate_artifacts(store, from_backend="filesystem")
    assert (report.done, len(report.failed)) == (2, 1)
    failure = report.failed[0]
    assert failure.item == f"{bad} 'a0' filesystem -> inline"
    assert failure.error.startswith(f"IntegrityError: sha256 mismatch for artifact {bad} at ")
    row = store.get_resource(bad)
    assert (row.backend, row.uri) == ("filesystem", bad_uri)


@contextlib.contextmanager
def _read_only(folder: Path) -> Iterator[None]:
    """Make ``folder`` read-only: permissions for a normal user, a read-only bind mount for
    root (whom permissions do not stop)."""
    if os.geteuid() != 0:
        folder.chmod(0o500)
        try:
            yield
        finally:
            folder.chmod(0o700)
        return
    mounted = subprocess.run(
        ["mount", "--bind", str(folder), str(folder)], capture_output=True, check=False
    )
    # Never skipped: a machine where root cannot bind-mount fails here, loudly.
    assert mounted.returncode == 0, f"cannot make a read-only folder: {mounted.stderr!r}"
    try:
        subprocess.run(
            ["mount", "-o", "remount,bind,ro", str(folder)], capture_output=True, check=True
        )
        yield
    finally:
        subprocess.run(["umount", str(folder)], capture_output=True, check=True)


def test_a_read_only_filesystem_root_fails_rows_and_leaves_them(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    root = tmp_path / "artifacts"
    root.mkdir()
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    _fill(store, experiment, 2)
    before = _rows(store)
    with _read_only(root):
        report = migrate_artifacts(store, to="filesystem")
    assert (report.done, len(report.failed)) == (0, 2)
    assert all(
        f.error.startswith(("PermissionDenied: permission denied: file://", "StorageIOError: "))
        for f in report.failed
    ), report.failed
    assert _rows(store) == before
    assert list(root.iterdir()) == []


def test_source_equal_to_target_is_refused(make_store: StoreFactory) -> None:
    with pytest.raises(InvalidValue) as caught:
        migrate_artifacts(make_store("inline"))
    assert str(caught.value) == (
        "invalid source backend 'inline': is the target; nothing moves from inline to itself"
    )


def test_a_missing_bucket_fails_before_touching_rows(
    make_store: StoreFactory, experiment_of: Owner, s3_settings: dict[str, str]
) -> None:
    store = make_store("inline", **{**s3_settings, "DEARDIARY_ARTIFACT_S3_BUCKET": "gone"})
    experiment, _ = experiment_of(store)
    _fill(store, experiment)
    before = _rows(store)
    with pytest.raises(BackendUnavailable, match=r"^s3 backend unavailable: bucket 'gone' does"):
        migrate_artifacts(store, to="s3")
    assert _rows(store) == before


def test_a_stopped_s3_server_fails_within_seconds_and_leaves_rows(
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    settings = {
        **s3_settings,
        "DEARDIARY_ARTIFACT_S3_ENDPOINT": f"http://{host}:{port}",
        "DEARDIARY_ARTIFACT_S3_RETRIES": "1",
    }
    store = make_store("s3", **settings)
    # moto's servers in one process share their state: the session bucket exists here too.
    experiment, _ = experiment_of(store)
    written = _fill(store, experiment, 2)
    server.stop()
    before = _rows(store)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as caught:
        store.read_resource_data(next(iter(written)))
    assert str(caught.value) == (
        f"s3 backend unavailable: cannot reach http://{host}:{port}: connection failed"
    )
    store.close()
    store = make_store("inline", **settings)
    report = migrate_artifacts(store, from_backend="s3")
    assert time.monotonic() - started < 20
    assert (report.done, len(report.failed)) == (0, 2)
    assert all("cannot reach" in f.error for f in report.failed)
    assert _rows(store) == before
    shown = " ".join(f.error for f in report.failed) + str(caught.value) + caplog.text
    assert TEST_SECRET_KEY not in shown


def test_store_method_defaults_to_the_configured_backend(
    make_store: StoreFactory, experiment_of: Owner
) -> None:
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    written = _fill(store, experiment)
    store.close()
    store = make_store("filesystem")
    report = store.migrate_artifacts(workers=2)
    assert (report.planned, report.done, report.failed) == (3, 3, [])
    assert {row.backend for row in _rows(store).values()} == {"filesystem"}
    assert store.migrate_artifacts().planned == 0
    for resource_id, data in written.items():
        assert store.read_resource_data(resource_id) == data
