"""The memory backend (fsspec's in-memory filesystem) against the BlobStore conformance suite."""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_core.blobs import BlobStore, FsspecBlobStore, open_blob_store
from storage_core.blobs.registry import BlobStoreRegistry, StoreBackend, default_registry
from storage_core.errors import BackendUnavailable, StorageError
from storage_core.testing import BlobStoreConformance, FailingReader
from storage_core.uri import parse


class TestMemoryStore(BlobStoreConformance):
    @pytest.fixture
    def store(self) -> Iterator[BlobStore]:
        # The memory filesystem is process-global: a fresh root per test keeps tests apart.
        with FsspecBlobStore(f"memory://conformance-{uuid.uuid4().hex}") as store:
            yield store


def test_open_blob_store_shares_the_global_memory_filesystem() -> None:
    root = f"memory://shared-{uuid.uuid4().hex}"
    open_blob_store(root).put("k", b"v")
    assert open_blob_store(root).get("k") == b"v"


def test_large_failed_put_spools_and_publishes_nothing() -> None:
    # Above the threshold the input goes through a temporary file before the first write.
    store = FsspecBlobStore(f"memory://spool-{uuid.uuid4().hex}", multipart_threshold=1024)
    with pytest.raises(RuntimeError):
        store.put("k", FailingReader(b"x" * 5000))
    assert not store.exists("k")
    assert store.put("k", b"y" * 5000).size == 5000
    assert store.get("k") == b"y" * 5000


def test_uri_form_is_what_fsspec_expects() -> None:
    store = FsspecBlobStore("memory://root")
    assert store.uri_for("a/b") == "memory://root/a/b"
    assert store.root.fs_path == "/root"


def test_a_closed_store_refuses_work() -> None:
    store = FsspecBlobStore(f"memory://closed-{uuid.uuid4().hex}")
    store.put("k", b"1")
    store.close()
    for call in (lambda: store.get("k"), lambda: list(store.list())):
        with pytest.raises(StorageError, match=r"^blob store memory://closed-\w+ is closed$"):
            call()


# -- the registry ------------------------------------------------------------------------------


def test_a_fresh_registry_knows_only_what_it_is_given(tmp_path: Path) -> None:
    registry = BlobStoreRegistry()
    assert registry.protocols == []
    registry.register(StoreBackend("file", lambda root, s3, options: FsspecBlobStore(root)))
    assert registry.protocols == ["file"]
    with pytest.raises(ValueError, match="already registered"):
        registry.register(StoreBackend("file", lambda root, s3, options: FsspecBlobStore(root)))
    store = registry.open(tmp_path)
    assert store.root == parse(tmp_path)
    assert default_registry.protocols == ["file", "memory", "s3"]


def test_unknown_protocols_are_backend_unavailable() -> None:
    with pytest.raises(BackendUnavailable) as caught:
        open_blob_store("nosuchproto://bucket/key")
    assert str(caught.value) == "nosuchproto backend unavailable: unknown protocol"


def test_other_fsspec_protocols_say_what_to_install() -> None:
    # gcsfs is not a dependency: fsspec's registry knows the protocol and the package.
    with pytest.raises(BackendUnavailable) as caught:
        open_blob_store("gcs://bucket/key")
    assert caught.value.backend == "gcs"
    assert "gcsfs" in str(caught.value)


def test_importing_the_modules_stays_cheap() -> None:
    # CLIs import storage_core.blobs at start-up: fsspec, s3fs, botocore and moto must wait.
    code = (
        "import sys, storage_core.blobs, storage_core.testing, storage_core.blobs.registry\n"
        "heavy = [m for m in ('fsspec', 's3fs', 'botocore', 'moto') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == ""
