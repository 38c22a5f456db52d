"""Many artifacts per call: ``log_artifacts``/``put_artifacts`` (all or nothing, bytes before
rows, transfers that overlap) and ``read_resources_data`` (ordered, each read verified)."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from diary.errors import ArtifactTooLarge, IntegrityError, InvalidValue, NotFound
from diary.store import Store

StoreFactory = Callable[..., Store]
Owner = Callable[[Store], tuple[UUID, UUID]]
BACKENDS = ["inline", "filesystem", "s3"]


def _objects(store: Store) -> list[str]:
    """Every object under the configured external roots (inline keeps none)."""
    stores = store.artifact_stores.configured_roots()
    return sorted(obj.uri for root in stores for obj in root.list_objects())


class FailingReader(io.RawIOBase):
    """A source that breaks after its first bytes (a disk error, a closed pipe)."""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        raise OSError("the source broke")


class MeetingReader(io.RawIOBase):
    """A source whose first read waits until ``parties`` sources are being read at once.

    Only transfers that overlap get past the barrier; one at a time, the first read times out
    with BrokenBarrierError.
    """

    def __init__(self, data: bytes, barrier: threading.Barrier, timeout: float = 10) -> None:
        self._data = io.BytesIO(data)
        self._barrier = barrier
        self._timeout = timeout
        self._met = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        if not self._met:
            self._barrier.wait(timeout=self._timeout)
            self._met = True
        return self._data.readinto(buffer)


@pytest.mark.parametrize("backend", BACKENDS)
def test_log_and_read_many_in_order(
    backend: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
) -> None:
    store = make_store(backend, url=catalog, **s3_settings)
    experiment, iteration = experiment_of(store)
    payloads = {f"part-{i:02d}.json": os.urandom(i * 1000) for i in range(12)}
    records = store.log_artifacts(iteration, payloads)
    assert [r.name for r in records] == list(payloads)
    assert [r.size_bytes for r in records] == [len(data) for data in payloads.values()]
    assert {r.backend for r in records} == {backend}
    assert {(r.experiment_id, r.iteration_id, r.media_type) for r in records} == {
        (experiment, iteration, "application/json")
    }
    assert [r.id for r in store.list_resources(experiment)] == [r.id for r in records]
    ids = [r.id for r in records]
    wanted = [*reversed(ids), ids[3], str(ids[5])]
    expected = [*reversed(payloads.values()), payloads["part-03.json"], payloads["part-05.json"]]
    assert store.read_resources_data(wanted) == expected
    assert store.read_resources_data(wanted, workers=1) == expected
    assert store.read_resources_data([]) == []
    if backend != "inline":
        assert _objects(store) == sorted(r.uri for r in records)


def test_put_paths_with_an_iteration(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, iteration = experiment_of(store)
    paths = []
    for name in ("model.bin", "notes.txt"):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(name.encode())
    records = store.put_artifacts(experiment, paths, iteration_id=iteration, workers=2)
    assert [(r.name, r.media_type, r.iteration_id) for r in records] == [
        ("model.bin", "application/octet-stream", iteration),
        ("notes.txt", "text/plain", iteration),
    ]
    assert store.read_resources_data([r.id for r in records]) == [b"model.bin", b"notes.txt"]


def test_active_iteration_logs_many(make_store: StoreFactory, experiment_of: Owner) -> None:
    store = make_store("inline")
    experiment, _ = experiment_of(store)
    with store.iteration(experiment, snapshot=False) as it:
        records = it.log_artifacts({"a": b"1", "b": io.BytesIO(b"22")})
    assert [(r.name, r.iteration_id) for r in records] == [("a", it.id), ("b", it.id)]


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_transfers_overlap(
    backend: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
) -> None:
    store = make_store(backend, url=catalog, **s3_settings)
    _, iteration = experiment_of(store)
    barrier = threading.Barrier(4)
    sources = {f"s{i}": MeetingReader(bytes([i]) * 100, barrier) for i in range(4)}
    records = store.log_artifacts(iteration, sources, workers=4)
    assert store.read_resources_data([r.id for r in records]) == [
        bytes([i]) * 100 for i in range(4)
    ]


def test_one_at_a_time_with_one_worker(make_store: StoreFactory, experiment_of: Owner) -> None:
    """The overlap test above is not vacuous: one worker never gets past the barrier."""
    store = make_store("filesystem")
    _, iteration = experiment_of(store)
    barrier = threading.Barrier(2)
    sources = {f"s{i}": MeetingReader(b"x", barrier, timeout=0.5) for i in range(2)}
    with pytest.raises(threading.BrokenBarrierError):
        store.log_artifacts(iteration, sources, workers=1)
    assert _objects(store) == []


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_failing_source_stores_nothing(
    backend: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
) -> None:
    store = make_store(backend, url=catalog, **s3_settings)
    experiment, iteration = experiment_of(store)
    sources: dict[str, object] = {f"ok-{i}": os.urandom(5000) for i in range(6)}
    sources["broken"] = FailingReader()
    with pytest.raises(OSError, match=r"^the source broke$"):
        store.log_artifacts(iteration, sources)  # type: ignore[arg-type]
    assert store.list_resources(experiment) == []
    assert _objects(store) == []


@pytest.mark.parametrize("backend", ["filesystem", "s3"])
def test_an_experiment_deleted_during_the_transfers_stores_nothing(
    backend: str,
    make_store: StoreFactory,
    experiment_of: Owner,
    s3_settings: dict[str, str],
    catalog: str | None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import diary.store.artifact_batches as batches

    store = make_store(backend, url=catalog, **s3_settings)
    experiment, _ = experiment_of(store)
    written = []
    write_all = batches.write_all

    def write_all_then_delete(*args: Any) -> Any:
        written.extend(write_all(*args))
        store.delete_experiment(experiment)
        return written

    monkeypatch.setattr(batches, "write_all", write_all_then_delete)
    with pytest.raises(NotFound, match=f"^experiment not found: {experiment}$"):
        store.put_artifacts(experiment, {f"a{i}": b"x" * i for i in range(5)})
    assert len(written) == 5
    assert _objects(store) == []


def test_inline_limit_applies_to_each_artifact(
    make_store: StoreFactory, experiment_of: Owner
) -> None:
    store = make_store("inline", DEARDIARY_ARTIFACT_INLINE_MAX_BYTES="4")
    experiment, _ = experiment_of(store)
    with pytest.raises(ArtifactTooLarge):
        store.put_artifacts(experiment, {"a": b"1234", "b": b"12345"})
    assert store.list_resources(experiment) == []


def test_bad_arguments_are_refused_before_any_transfer(
    make_store: StoreFactory, experiment_of: Owner, tmp_path: Path
) -> None:
    store = make_store("filesystem")
    experiment, iteration = experiment_of(store)
    with pytest.raises(InvalidValue, match=r"^invalid workers '0': must be a whole number"):
        store.put_artifacts(experiment, {"a": b"1"}, workers=0)
    with pytest.raises(InvalidValue, match="expected a mapping of names to sources or a list"):
        store.put_artifacts(experiment, "model.bin")  # type: ignore[arg-type]
    with pytest.raises(InvalidValue, match=r"^invalid artifact name '': must not be empty$"):
        store.put_artifacts(experiment, {"a": b"1", "": b"2"})
    with pytest.raises(InvalidValue, match="no such file"):
        store.put_artifacts(experiment, [tmp_path / "missing.bin"])
    with pytest.raises(NotFound, match=r"^iteration not found: "):
        store.log_artifacts(uuid4(), {"a": b"1"})
    with pytest.raises(NotFound, match=r"^experiment not found: "):
        store.put_artifacts(uuid4(), {"a": b"1"})
    assert store.list_resources(experiment, iteration_id=iteration) == []
    assert _objects(store) == []


def test_reads_check_every_artifact_and_name_the_bad_one(
    make_store: StoreFactory, experiment_of: Owner
) -> None:
    store = make_store("filesystem")
    experiment, _ = experiment_of(store)
    records = store.put_artifacts(experiment, {f"a{i}": b"hello" for i in range(4)})
    ids = [r.id for r in records]
    unknown = uuid4()
    with pytest.raises(NotFound, match=f"^artifact not found: {unknown}$"):
        store.read_resources_data([*ids, unknown])
    with pytest.raises(NotFound, match=r"^artifact not found: nonsense$"):
        store.read_resources_data(["nonsense"])
    grown = Path(records[2].uri.removeprefix("file://"))
    grown.write_bytes(b"hello" * 1000)
    with pytest.raises(IntegrityError) as caught:
        store.read_resources_data(ids)
    assert str(caught.value) == (
        f"size mismatch for artifact {ids[2]} at {records[2].uri}: expected 5, found more than 5"
    )
    grown.write_bytes(b"jello")
    with pytest.raises(IntegrityError, match=f"^sha256 mismatch for artifact {ids[2]} "):
        store.read_resources_data(ids)
    grown.unlink()
    with pytest.raises(NotFound, match=f"^blob not found: {records[2].uri}$"):
        store.read_resources_data(ids)
    assert store.read_resources_data([ids[0], ids[3]]) == [b"hello", b"hello"]


def test_batches_on_both_engines(any_store: Store) -> None:
    """The portable path (SQLAlchemy Core on SQLite) and DuckDB's fast path agree."""
    project = any_store.create_project("p")
    experiment = any_store.create_experiment(project.id, "e")
    iteration = any_store.create_iteration(experiment.id, snapshot=False)
    payloads = {"a.txt": b"alpha", "b.bin": bytearray(b"beta"), "c": io.BytesIO(b"gamma")}
    records = any_store.log_artifacts(iteration.id, payloads)
    assert [(r.name, r.size_bytes, r.backend) for r in records] == [
        ("a.txt", 5, "inline"), ("b.bin", 4, "inline"), ("c", 5, "inline"),
    ]  # fmt: skip
    assert [any_store.get_resource(r.id) for r in records] == records
    ids = [r.id for r in records]
    assert any_store.read_resources_data(ids[::-1]) == [b"gamma", b"beta", b"alpha"]
    other = any_store.create_experiment(project.id, "other")
    with pytest.raises(InvalidValue, match="belongs to another experiment"):
        any_store.put_artifacts(other.id, {"x": b"x"}, iteration_id=iteration.id)
    assert any_store.list_resources(other.id) == []


def test_many_ids_are_fetched_in_groups(make_store: StoreFactory, experiment_of: Owner) -> None:
    """More ids than one query takes (500 a query): every group is read, order kept."""
    store = make_store("inline")
    _, iteration = experiment_of(store)
    payloads = {f"p{i}": i.to_bytes(2, "big") for i in range(1203)}
    records = store.log_artifacts(iteration, payloads)
    ids = [r.id for r in records]
    wanted = ids[::-1] + ids[:3]
    assert store.read_resources_data(wanted) == [
        *reversed(payloads.values()),
        b"\0\0",
        b"\0\1",
        b"\0\2",
    ]
