"""Reusable tests and fixtures for blob stores (a pytest plugin).

Load it with ``pytest_plugins = ["storage_core.testing"]`` in a ``conftest.py``. It provides:

* :class:`BlobStoreConformance` - the behaviour every :class:`~storage_core.blobs.BlobStore`
  must have. A backend's test module subclasses it and supplies a ``store`` fixture.
* S3 fixtures around a real moto server on 127.0.0.1: ``moto_server`` (session),
  ``s3_env``, ``s3_options``, ``s3_filesystem`` (one s3fs client per session),
  ``s3_bucket`` (a fresh, empty server per test), ``make_s3_store`` (a factory) and
  ``s3_store`` (a ready store under ``s3://<bucket>/store``).

moto, s3fs and pytest are imported inside the fixtures, so importing this module is cheap.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storage_core.blobs import BlobInfo, BlobStore, FsspecBlobStore
from storage_core.blobs.s3options import S3Options
from storage_core.errors import AlreadyExists, InvalidURI, NotFound
from storage_core.hashing import CHUNK_SIZE

__all__ = [
    "TEST_ACCESS_KEY",
    "TEST_SECRET_KEY",
    "BlobStoreConformance",
    "FailingReader",
    "ShortReader",
    "make_s3_store",
    "moto_server",
    "reset_moto",
    "s3_bucket",
    "s3_env",
    "s3_filesystem",
    "s3_options",
    "s3_store",
]

#: Credentials the fixtures give moto, which accepts any. Never real ones.
TEST_ACCESS_KEY = "storage-core-test-access"
TEST_SECRET_KEY = "storage-core-test-secret-DO-NOT-LEAK"


class FailingReader(io.RawIOBase):
    """A binary reader that yields ``good`` bytes, then raises ``error`` (a broken upload)."""

    def __init__(self, good: bytes, error: Exception | None = None) -> None:
        self._good = io.BytesIO(good)
        self._error = error or RuntimeError("source failed mid-read")

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        chunk = self._good.read(size)
        if not chunk:
            raise self._error
        return chunk


class ShortReader(io.RawIOBase):
    """A binary reader that returns at most ``step`` bytes per read (like a socket)."""

    def __init__(self, data: bytes, step: int = 1000) -> None:
        self._data = io.BytesIO(data)
        self._step = step

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1, /) -> bytes:
        return self._data.read(self._step if size < 0 else min(size, self._step))


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


BAD_KEYS = ["../x", "a/../../x", "/abs", "a//b", "", "a/", "./a", "a\x00b", "a\\b", "C:x"]


class BlobStoreConformance:
    """Behaviour every BlobStore must have. Subclasses provide a ``store`` fixture.

    The store must be empty at the start of each test.
    """

    @pytest.fixture
    def store(self) -> Iterator[BlobStore]:
        raise NotImplementedError("subclasses provide a 'store' fixture")

    def test_implements_protocol(self, store: BlobStore) -> None:
        assert isinstance(store, BlobStore)

    def test_put_bytes_returns_size_and_sha256(self, store: BlobStore) -> None:
        info = store.put("a/b.bin", b"hello")
        assert info == BlobInfo(store.uri_for("a/b.bin"), "a/b.bin", 5, _sha(b"hello"))

    def test_put_file_object_larger_than_a_chunk(self, store: BlobStore) -> None:
        data = os.urandom(2 * CHUNK_SIZE + 12345)
        info = store.put("big", ShortReader(data, step=256 * 1024))
        assert (info.size, info.sha256) == (len(data), _sha(data))
        assert store.get("big") == data

    def test_get_reads_at_most_max_bytes(self, store: BlobStore) -> None:
        data = os.urandom(CHUNK_SIZE + 7)
        store.put("m", data)
        assert store.get("m", max_bytes=10) == data[:10]
        assert store.get("m", max_bytes=len(data) + 1) == data
        assert store.get("m", max_bytes=0) == b""
        store.put("empty", b"")
        assert store.get("empty", max_bytes=1) == b""

    def test_open_streams_the_bytes(self, store: BlobStore) -> None:
        data = os.urandom(CHUNK_SIZE + 7)
        store.put("s", io.BytesIO(data))
        with store.open("s") as stream:
            parts = [stream.read(100_000)]
            while part := stream.read(100_000):
                parts.append(part)
        assert b"".join(parts) == data

    def test_empty_blob(self, store: BlobStore) -> None:
        info = store.put("empty", b"")
        assert (info.size, info.sha256) == (0, _sha(b""))
        assert store.get("empty") == b""
        assert store.exists("empty")
        assert list(store.list()) == ["empty"]

    def test_overwrite_replaces_by_default(self, store: BlobStore) -> None:
        store.put("k", b"old")
        store.put("k", b"new")
        assert store.get("k") == b"new"

    def test_overwrite_false_refuses_and_keeps_the_object(self, store: BlobStore) -> None:
        store.put("k", b"old")
        uri = store.uri_for("k")
        with pytest.raises(AlreadyExists) as caught:
            store.put("k", b"new", overwrite=False)
        assert str(caught.value) == f"blob already exists: {uri}"
        assert store.get("k") == b"old"

    def test_overwrite_false_writes_a_new_key(self, store: BlobStore) -> None:
        assert store.put("fresh", b"x", overwrite=False).size == 1

    def test_missing_key_raises_not_found(self, store: BlobStore) -> None:
        uri = store.uri_for("nope")
        for call in (store.get, store.open, store.info, store.delete):
            with pytest.raises(NotFound) as caught:
                call("nope")
            assert str(caught.value) == f"blob not found: {uri}"
            assert caught.value.key == uri

    def test_delete(self, store: BlobStore) -> None:
        store.put("d/x", b"1")
        store.delete("d/x")
        assert not store.exists("d/x")
        assert list(store.list()) == []
        store.delete("d/x", missing_ok=True)

    def test_exists_is_for_objects_not_prefixes(self, store: BlobStore) -> None:
        store.put("dir/obj", b"1")
        assert store.exists("dir/obj")
        assert not store.exists("dir")
        assert not store.exists("dir/other")
        for call in (store.get, store.open, store.info):
            with pytest.raises(NotFound):
                call("dir")

    def test_info(self, store: BlobStore) -> None:
        store.put("i", b"12345")
        assert store.info("i") == BlobInfo(store.uri_for("i"), "i", 5, None)
        assert store.info("i", checksum=True).sha256 == _sha(b"12345")

    def test_list_nested_keys_and_prefixes(self, store: BlobStore) -> None:
        for key in ["a/b/c", "a/b/d", "a/e", "ab", "f"]:
            store.put(key, key.encode())
        assert list(store.list()) == ["a/b/c", "a/b/d", "a/e", "ab", "f"]
        assert list(store.list("a/")) == ["a/b/c", "a/b/d", "a/e"]
        assert list(store.list("a")) == ["a/b/c", "a/b/d", "a/e", "ab"]
        assert list(store.list("a/b/d")) == ["a/b/d"]
        assert list(store.list("zz/")) == []

    @pytest.mark.parametrize("key", BAD_KEYS)
    def test_bad_keys_are_refused(self, store: BlobStore, key: str) -> None:
        for call in (store.get, store.exists, store.uri_for, store.delete, store.open):
            with pytest.raises(InvalidURI):
                call(key)
        with pytest.raises(InvalidURI):
            store.put(key, b"x")
        assert list(store.list()) == []

    def test_bad_key_messages(self, store: BlobStore) -> None:
        with pytest.raises(InvalidURI, match=r"^invalid URI '\.\./x': '\.\.' segments are not"):
            store.put("../x", b"")
        with pytest.raises(InvalidURI, match=r"^invalid URI '/abs': absolute parts are not"):
            store.put("/abs", b"")

    def test_odd_characters_in_keys(self, store: BlobStore) -> None:
        key = "odd dir/na me %2e%2e #?&é€.txt"
        store.put(key, b"odd")
        assert store.get(key) == b"odd"
        assert list(store.list()) == [key]
        assert store.key_for(store.uri_for(key)) == key

    def test_uri_for_and_key_for_are_inverse(self, store: BlobStore) -> None:
        uri = store.uri_for("x/y")
        assert uri.startswith(str(store.root))
        assert store.key_for(uri) == "x/y"
        assert store.put("x/y", b"1").uri == uri

    def test_key_for_refuses_uris_outside_the_root(self, store: BlobStore) -> None:
        with pytest.raises(InvalidURI, match="not under"):
            store.key_for("memory://elsewhere/x" if store.root.scheme != "memory" else "/tmp/x")
        with pytest.raises(InvalidURI, match="is the store root"):
            store.key_for(str(store.root))

    def test_failed_put_leaves_nothing(self, store: BlobStore) -> None:
        reader = FailingReader(os.urandom(CHUNK_SIZE + 10), ValueError("disk on fire"))
        with pytest.raises(ValueError, match="disk on fire"):
            store.put("broken", reader)
        assert not store.exists("broken")
        assert list(store.list()) == []

    def test_failed_overwrite_keeps_the_old_object(self, store: BlobStore) -> None:
        store.put("k", b"old")
        with pytest.raises(RuntimeError):
            store.put("k", FailingReader(b"new bytes"))
        assert store.get("k") == b"old"
        assert list(store.list()) == ["k"]

    def test_text_file_is_refused(self, store: BlobStore) -> None:
        with pytest.raises(TypeError, match="binary file object"):
            store.put("t", io.StringIO("text"))  # type: ignore[arg-type]
        assert not store.exists("t")


# -- S3 fixtures against a moto server ------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """A moto S3 server on 127.0.0.1 and a free port for the whole session; yields its URL."""
    from moto.server import ThreadedMotoServer

    werkzeug = logging.getLogger("werkzeug")
    level = werkzeug.level
    werkzeug.setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()
        werkzeug.setLevel(level)


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Dummy AWS credentials and no instance-metadata lookups, for this test only."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", TEST_ACCESS_KEY)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", TEST_SECRET_KEY)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def s3_options(moto_server: str) -> S3Options:
    """S3Options for the moto server, with the test credentials and short timeouts."""
    return S3Options(
        endpoint_url=moto_server,
        access_key=TEST_ACCESS_KEY,
        secret_key=TEST_SECRET_KEY,
        retries=2,
        connect_timeout=2,
        read_timeout=30,
    )


@pytest.fixture(scope="session")
def s3_filesystem(s3_options: S3Options) -> Any:
    """One s3fs filesystem for the session (creating a client costs ~0.2 s)."""
    import s3fs

    return s3fs.S3FileSystem(**s3_options.storage_options())


def reset_moto(endpoint: str) -> None:
    """Drop every bucket and object on the moto server."""
    request = urllib.request.Request(f"{endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=10) as response:
        response.read()


@pytest.fixture
def s3_bucket(moto_server: str, s3_filesystem: Any, s3_env: None) -> str:
    """A fresh, empty moto server with one new bucket; returns the bucket name."""
    reset_moto(moto_server)
    name = f"test-{uuid.uuid4().hex[:12]}"
    s3_filesystem.mkdir(name)
    return name


@pytest.fixture
def make_s3_store(
    s3_bucket: str, s3_options: S3Options, s3_filesystem: Any
) -> Callable[..., FsspecBlobStore]:
    """A factory ``make_s3_store(prefix="", **option_overrides)`` of stores in ``s3_bucket``.

    Without overrides the stores share the session's s3fs client; with overrides (say
    ``multipart_threshold=...``) they get their own.
    """

    def make(prefix: str = "", **overrides: Any) -> FsspecBlobStore:
        root = f"s3://{s3_bucket}/{prefix}".rstrip("/")
        if not overrides:
            return FsspecBlobStore.for_s3(root, s3_options, fs=s3_filesystem)
        options = S3Options(**{**_fields(s3_options), **overrides})
        return FsspecBlobStore.for_s3(root, options)

    return make


def _fields(options: S3Options) -> dict[str, Any]:
    from dataclasses import fields

    return {f.name: getattr(options, f.name) for f in fields(options)}


@pytest.fixture
def s3_store(make_s3_store: Callable[..., FsspecBlobStore]) -> Iterator[FsspecBlobStore]:
    """An empty store at ``s3://<s3_bucket>/store`` on the moto server."""
    with make_s3_store("store") as store:
        yield store
