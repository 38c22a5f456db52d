"""verify (missing, corrupt, orphans), gc with its grace period, relocate, and compaction."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest

from diary.artifacts import (
    compact_database,
    migrate_artifacts,
    relocate_artifacts,
    verify_artifacts,
)
from diary.errors import StorageError
from diary.store import Store
from storage_core.blobs.localfs import TEMP_PREFIX
from storage_core.database import open_duckdb

StoreFactory = Callable[..., Store]
Owner = Callable[[Store], tuple[UUID, UUID]]
MiB = 1024 * 1024


def _path(uri: str) -> Path:
    return Path(uri.removeprefix("file://"))


def test_verify_finds_missing_corrupt_and_orphans_and_gc_removes_old_orphans(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    ok, missing, corrupt = (store.put_artifact(experiment, b"abc", name=n) for n in "xyz")
    _path(missing.uri).unlink()
    _path(corrupt.uri).write_bytes(b"abd")
    # Objects go under the database's own identity: <root>/<identity>/<aa>/<uuid>.
    own = _path(ok.uri).parent.parent
    assert own.parent == (tmp_path / "artifacts").resolve()
    orphan = own / "ab" / "ab000000-0000-4000-8000-000000000000"
    orphan.parent.mkdir(exist_ok=True)
    orphan.write_bytes(b"left by a crash")
    temp = orphan.parent / f"{TEMP_PREFIX}partial"
    temp.write_bytes(b"half")
    # An object of another database, or of a version from before identities: borrowed.
    foreign = tmp_path / "artifacts" / "cd" / "cd000000-0000-4000-8000-000000000000"
    foreign.parent.mkdir()
    foreign.write_bytes(b"someone else's")
    report = verify_artifacts(store)
    assert not report.ok
    assert [(p.problem, p.id) for p in report.problems] == [
        ("corrupt", str(corrupt.id)),
        ("missing", str(missing.id)),
    ]
    assert sorted((o.uri, o.borrowed) for o in report.orphans) == sorted(
        [(f"file://{p.resolve()}", False) for p in (orphan, temp)]
        + [(f"file://{foreign.resolve()}", True)]
    )
    quick = verify_artifacts(store, quick=True)  # same size: the flip is invisible to --quick
    assert [(p.problem, p.id) for p in quick.problems] == [("missing", str(missing.id))]
    young = verify_artifacts(store, gc=True)  # default grace: 15 minutes
    assert not any(o.deleted for o in young.orphans)
    assert orphan.exists()
    old = verify_artifacts(store, gc=True, grace=timedelta(0))
    assert sorted((o.deleted, o.borrowed) for o in old.orphans) == [
        (False, True), (True, False), (True, False)
    ]  # fmt: skip
    assert not orphan.exists()
    assert not temp.exists()
    assert foreign.exists()
    every = verify_artifacts(store, gc=True, grace=timedelta(0), include_borrowed=True)
    assert [(o.deleted, o.borrowed) for o in every.orphans] == [(True, True)]
    assert not foreign.exists()
    assert store.read_resource_data(ok.id) == b"abc"


def test_verify_scans_the_bucket_for_orphans(
    make_store: StoreFactory, experiment_of: Owner, s3_settings: dict[str, str], catalog: str | None
) -> None:
    store = make_store("s3", url=catalog, **s3_settings)
    experiment, _ = experiment_of(store)
    kept = store.put_artifact(experiment, b"kept", name="a")
    stray = store.artifact_stores.current.write(b"stray")
    report = verify_artifacts(store, gc=True, grace=timedelta(0))
    assert [(o.uri, o.deleted) for o in report.orphans] == [(stray.uri, True)]
    assert verify_artifacts(store).ok
    assert store.read_resource_data(kept.id) == b"kept"


def test_relocate_rewrites_uris_only_where_the_bytes_are(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    records = [store.put_artifact(experiment, os.urandom(10), name=str(i)) for i in range(3)]
    old, new = tmp_path / "artifacts", tmp_path / "moved"
    shutil.move(old, new)
    lost = new / Path(records[0].uri).relative_to(f"file:{old}").as_posix()
    lost.unlink()
    report = relocate_artifacts(store, str(old), str(new))
    assert (report.rewritten, [p.id for p in report.missing]) == (2, [str(records[0].id)])
    for record in records[1:]:
        moved = store.get_resource(record.id)
        assert moved.uri.startswith(f"file://{new.resolve()}/")
        assert store.read_resource_data(record.id)
    assert store.get_resource(records[0].id).uri == records[0].uri


def test_migrating_200_mib_out_of_inline_and_compacting_shrinks_the_file(
    make_store: StoreFactory, experiment_of: Owner, db_path: Path
) -> None:
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    payloads = [os.urandom(MiB) for _ in range(200)]
    for i, data in enumerate(payloads[:4]):
        store.put_artifact(experiment, data, name=f"small{i}")
    _bulk_inline(store, experiment, payloads[4:])
    store.close()
    before = db_path.stat().st_size
    assert before > 200 * MiB
    store = make_store("filesystem")
    report = migrate_artifacts(store)
    assert report.done == 200
    store.close()
    assert db_path.stat().st_size >= before  # NULLing BLOBs does not shrink a DuckDB file
    compacted = compact_database(db_path)
    assert compacted.size_before >= before
    assert compacted.size_after == db_path.stat().st_size
    assert compacted.size_after < 20 * MiB
    assert compacted.tables["resource"] == 200
    store = make_store("filesystem")
    check = verify_artifacts(store, quick=True)
    assert (check.checked, check.problems) == (200, [])
    assert store.list_resources(experiment)[0].backend == "filesystem"
    store.close()
    with open_duckdb(db_path) as con:
        assert con.execute("SELECT version_num FROM diary_alembic_version").fetchall() == [
            ("0005_metric_summary",)
        ]


def _bulk_inline(store: Store, experiment: UUID, payloads: list[bytes]) -> None:
    """Many inline artifacts in one transaction (one commit per BLOB would double the file)."""
    import hashlib
    from uuid import uuid4

    import sqlalchemy as sa

    from diary import models as m

    with store.transaction() as conn:
        for i, data in enumerate(payloads):
            resource_id = uuid4()
            conn.execute(
                sa.insert(m.resource).values(
                    id=resource_id, experiment_id=experiment, name=f"blob{i}",
                    size_bytes=len(data), content_hash=hashlib.sha256(data).hexdigest(),
                    created_at=store.clock.now(),
                )
            )  # fmt: skip
            conn.execute(sa.insert(m.resource_blob).values(resource_id=resource_id, data=data))


def test_compaction_refuses_while_this_process_has_the_file_open(db_path: Path) -> None:
    import diary

    diary.open(db_path).close()
    with open_duckdb(db_path), pytest.raises(StorageError) as caught:
        compact_database(db_path)
    assert (
        str(caught.value) == f"cannot compact {db_path}: this process has it open; close it first"
    )


def test_a_leftover_temporary_file_does_not_stop_compaction(db_path: Path) -> None:
    import diary

    diary.open(db_path).close()
    leftover = db_path.with_name(f".{db_path.name}.compact-tmp")
    leftover.write_bytes(b"half a file from a crashed compaction")
    report = compact_database(db_path)
    assert not leftover.exists()
    assert report.tables["project"] == 0
