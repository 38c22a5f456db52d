"""The store's artifact API: log/put/read/open/replace/delete, per-row dispatch after switching
backends, integrity checks on read, limits, and the crash-safe order of writes and deletes."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
import sqlalchemy as sa

from diary import models as m
from diary.errors import (
    ArtifactTooLarge,
    IntegrityError,
    InvalidValue,
    NotFound,
    ReferencedError,
)
from diary.store import Store

StoreFactory = Callable[..., Store]
Owner = Callable[[Store], tuple[UUID, UUID]]


def _after_each_write(store: Store, then: Callable[[], object]) -> Any:
    """Make the store's artifact writes call ``then`` after writing; the original write."""
    original = store.artifact_stores.current.write

    def write_then(source: object) -> object:
        stored = original(source)  # type: ignore[arg-type]
        then()
        return stored

    store.artifact_stores.current.write = write_then  # type: ignore[method-assign,assignment]
    return original


def _files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


@pytest.mark.parametrize("backend", ["inline", "filesystem", "s3"])
def test_log_read_list_delete(
    backend: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
    tmp_path: Path,
) -> None:
    store = make_store(backend, url=catalog, **s3_settings)
    experiment, iteration = experiment_of(store)
    source = tmp_path / "weights.bin"
    source.write_bytes(b"hello")
    record = store.log_artifact(iteration, source, description="first")
    assert (record.name, record.backend, record.size_bytes, record.content_hash) == (
        "weights.bin",
        backend,
        5,
        "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    )
    assert (record.experiment_id, record.iteration_id, record.media_type) == (
        experiment,
        iteration,
        "application/octet-stream",
    )
    assert store.get_resource(record.id) == record
    assert store.read_resource_data(record.id) == b"hello"
    with store.open_artifact(record.id) as stream:
        assert stream.read(2) + stream.read() == b"hello"
    other = store.put_artifact(experiment, b"{}", name="metrics.json")
    assert other.media_type == "application/json"
    assert [r.id for r in store.list_resources(experiment)] == [record.id, other.id]
    assert [r.id for r in store.list_resources(experiment, iteration_id=iteration)] == [record.id]
    assert store.delete_resource(record.id) == record
    with pytest.raises(NotFound) as caught:
        store.get_resource(record.id)
    assert str(caught.value) == f"artifact not found: {record.id}"
    if backend == "filesystem":
        assert len(_files(tmp_path / "artifacts")) == 1  # only the other artifact's file


def test_active_iteration_logs_artifacts(make_store: StoreFactory, experiment_of: Owner) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    with store.iteration(experiment, snapshot=False) as it:
        record = it.log_artifact(b"abc", name="a.txt")
    assert record.iteration_id == it.id
    assert store.read_resource_data(record.id) == b"abc"


def test_every_old_row_reads_back_after_switching_backends(
    make_store: StoreFactory, experiment_of: Owner, s3_settings: dict[str, str], catalog: str | None
) -> None:
    written = {}
    for backend in ("inline", "filesystem", "s3"):
        store = make_store(backend, url=catalog, **s3_settings)
        if not written:
            experiment, _ = experiment_of(store)
        data = os.urandom(1000)
        written[store.put_artifact(experiment, data, name=backend).id] = (backend, data)
        store.close()
    for backend in ("inline", "filesystem", "s3"):
        store = make_store(backend, url=catalog, **s3_settings)
        for resource_id, (stored_on, data) in written.items():
            assert store.get_resource(resource_id).backend == stored_on
            assert store.read_resource_data(resource_id) == data
        store.close()
    # Deletes dispatch on the row too: the s3 object goes away under an inline configuration.
    store = make_store("inline", url=catalog, **s3_settings)
    s3_row = next(k for k, (b, _) in written.items() if b == "s3")
    uri = store.get_resource(s3_row).uri
    store.delete_resource(s3_row)
    assert not store.artifact_stores.for_row("s3", uri).blobs.exists(uri.split("/", 3)[3])


def test_names_are_metadata_never_paths(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, b"x", name="../../etc/passwd")
    assert record.name == "../../etc/passwd"
    assert record.uri.startswith(f"file://{(tmp_path / 'artifacts').resolve()}/")
    assert not (tmp_path / "etc").exists()


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_a_flipped_byte_is_detected_on_read(
    backend: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
    s3_filesystem: object,
) -> None:
    store = make_store(backend, url=catalog, **s3_settings)
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, b"hello world", name="a")
    blobs = store.artifact_stores.for_row(backend, record.uri)
    key = blobs.blobs.key_for(record.uri)  # type: ignore[attr-defined]
    blobs.blobs.put(key, b"hellO world")  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError) as caught:
        store.read_resource_data(record.id)
    assert str(caught.value) == (
        f"sha256 mismatch for artifact {record.id} at {record.uri}: expected "
        f"{record.content_hash}, found {__import__('hashlib').sha256(b'hellO world').hexdigest()}"
    )
    blobs.blobs.put(key, b"hello")  # type: ignore[attr-defined]
    with pytest.raises(IntegrityError, match=r"^size mismatch for .*: expected 11, found 5$"):
        store.read_resource_data(record.id)


def test_a_flipped_byte_on_disk_fails_save_without_leaving_a_file(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, os.urandom(3 * 1024 * 1024), name="big")
    path = Path(record.uri.removeprefix("file://"))
    data = bytearray(path.read_bytes())
    data[2 * 1024 * 1024] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match=r"^sha256 mismatch for artifact "):
        store.save_artifact(record.id, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()


def test_inline_corruption_is_detected(make_store: StoreFactory, experiment_of: Owner) -> None:
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, b"hello", name="a")
    with store.transaction() as conn:
        conn.execute(sa.update(m.resource_blob).values(data=b"jello"))
    with pytest.raises(IntegrityError) as caught:
        store.read_resource_data(record.id)
    assert str(caught.value).startswith(f"sha256 mismatch for artifact {record.id} (inline):")


def test_missing_bytes_are_not_found(make_store: StoreFactory, experiment_of: Owner) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, b"hello", name="a")
    os.unlink(record.uri.removeprefix("file://"))
    with pytest.raises(NotFound) as caught:
        store.read_resource_data(record.id)
    assert str(caught.value) == f"blob not found: {record.uri}"


def test_inline_size_limit(make_store: StoreFactory, experiment_of: Owner) -> None:
    store = make_store("inline", DEARDIARY_ARTIFACT_INLINE_MAX_BYTES="4")
    experiment, _ = experiment_of(store)
    with pytest.raises(ArtifactTooLarge):
        store.put_artifact(experiment, b"hello", name="a")
    assert store.list_resources(experiment) == []
    assert store.put_artifact(experiment, b"hell", name="b").size_bytes == 4


def test_put_needs_a_name_an_existing_file_and_a_matching_iteration(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    _, other_iteration = experiment_of(store)
    with pytest.raises(InvalidValue, match=r"^invalid artifact name '': must not be empty$"):
        store.put_artifact(experiment, b"x")
    with pytest.raises(InvalidValue, match="no such file"):
        store.put_artifact(experiment, tmp_path / "missing.bin")
    with pytest.raises(InvalidValue, match="belongs to another experiment"):
        store.put_artifact(experiment, b"x", name="a", iteration_id=other_iteration)
    assert _files(tmp_path / "artifacts") == []


def test_a_failed_insert_leaves_no_bytes_behind(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    # The experiment vanishes while the bytes upload: the insert's own check refuses.
    _after_each_write(store, lambda: store.delete_experiment(experiment))
    with pytest.raises(NotFound):
        store.put_artifact(experiment, b"x", name="a")
    assert _files(tmp_path / "artifacts") == []


@pytest.mark.parametrize("backend", ["inline", "filesystem"])
def test_an_iteration_missing_or_deleted_while_writing_keeps_no_bytes(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path, backend: str
) -> None:
    """On local stores the iteration is looked up as the row is written: bytes written for one
    that is missing, or deleted meanwhile, are removed and nothing is recorded."""
    store = make_store(backend)
    experiment, iteration = experiment_of(store)
    missing = "00000000-0000-4000-8000-000000000000"
    with pytest.raises(NotFound) as caught:
        store.log_artifact(missing, b"x", name="a")
    assert str(caught.value) == f"iteration not found: {missing}"
    original = _after_each_write(store, lambda: store.delete_iteration(iteration))
    with pytest.raises(NotFound):
        store.log_artifact(iteration, b"y", name="b")
    assert store.list_resources(experiment) == []
    assert _files(tmp_path / "artifacts") == []
    kept = store.create_iteration(experiment, snapshot=False)
    store.artifact_stores.current.write = original  # type: ignore[method-assign]
    record = store.log_artifact(kept.id, b"z", name="c")
    assert (record.experiment_id, record.iteration_id) == (experiment, kept.id)
    assert store.get_resource(record.id) == record


def test_replace_moves_the_row_to_the_configured_backend_and_removes_old_bytes(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    record = store.put_artifact(experiment, b"old", name="a")
    store.close()
    store = make_store("inline")
    replaced = store.replace_artifact(record.id, b"new bytes")
    assert (replaced.backend, replaced.uri, replaced.size_bytes) == ("inline", "", 9)
    assert store.read_resource_data(record.id) == b"new bytes"
    assert _files(tmp_path / "artifacts") == []
    renamed = store.update_resource(record.id, name="b", description="d")
    assert (renamed.name, renamed.description, renamed.content_hash) == (
        "b",
        "d",
        replaced.content_hash,
    )


def test_an_artifact_of_a_model_version_is_not_deleted(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, iteration = experiment_of(store)
    record = store.put_artifact(experiment, b"w", name="model.bin", iteration_id=iteration)
    project = store.get_experiment(experiment).project_id
    model = store.create_model(project, "m")
    store.create_model_version(model.id, iteration, resource_id=record.id)
    with pytest.raises(ReferencedError) as caught:
        store.delete_resource(record.id)
    assert str(caught.value) == (
        f"cannot delete artifact {record.id}: version 1 of model 'm' refers to it; "
        "delete that model version first"
    )
    assert store.read_resource_data(record.id) == b"w"
