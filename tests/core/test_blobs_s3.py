"""The S3 backend against a real moto server: conformance, multipart, failures, secrets."""

from __future__ import annotations

import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from storage_core.blobs import BlobStore, FsspecBlobStore, open_blob_store
from storage_core.blobs.s3options import S3Options
from storage_core.blobs.translate import ErrorContext, translate_error
from storage_core.errors import (
    BackendUnavailable,
    ConfigError,
    NotFound,
    PermissionDenied,
    StorageError,
)
from storage_core.testing import TEST_SECRET_KEY, BlobStoreConformance, FailingReader

MiB = 1024 * 1024


class TestS3Store(BlobStoreConformance):
    @pytest.fixture
    def store(self, make_s3_store: Callable[..., FsspecBlobStore]) -> Iterator[BlobStore]:
        with make_s3_store("conformance/root") as store:
            yield store


class TestS3StoreAtBucketRoot(BlobStoreConformance):
    @pytest.fixture
    def store(self, make_s3_store: Callable[..., FsspecBlobStore]) -> Iterator[BlobStore]:
        with make_s3_store() as store:
            yield store


def _uploads(fs: Any, bucket: str) -> list[Any]:
    """Multipart uploads still open in the bucket (an aborted one must not linger)."""
    return list(fs.list_multipart_uploads(bucket))


def test_large_objects_go_up_as_a_multipart_upload(
    make_s3_store: Callable[..., FsspecBlobStore], s3_bucket: str, s3_filesystem: Any
) -> None:
    store = make_s3_store("mp", multipart_threshold=5 * MiB)
    data = os.urandom(11 * MiB)
    info = store.put("big.bin", data)
    assert (info.size, info.uri) == (11 * MiB, f"s3://{s3_bucket}/mp/big.bin")
    # A multipart ETag is "<md5 of the part md5s>-<number of parts>" (s3fs folds the last
    # short piece into the previous part: 5 + 6 MiB).
    etag = s3_filesystem.info(f"{s3_bucket}/mp/big.bin")["ETag"].strip('"')
    assert int(etag.rpartition("-")[2]) >= 2
    assert store.get("big.bin") == data
    assert store.info("big.bin", checksum=True).sha256 == info.sha256


def test_small_objects_go_up_in_one_put(
    make_s3_store: Callable[..., FsspecBlobStore], s3_bucket: str, s3_filesystem: Any
) -> None:
    store = make_s3_store("one", multipart_threshold=5 * MiB)
    store.put("small.bin", os.urandom(5 * MiB))
    assert "-" not in s3_filesystem.info(f"{s3_bucket}/one/small.bin")["ETag"]


def test_a_failed_multipart_upload_is_aborted_and_invisible(
    make_s3_store: Callable[..., FsspecBlobStore], s3_bucket: str, s3_filesystem: Any
) -> None:
    store = make_s3_store("mp", multipart_threshold=5 * MiB)
    store.put("k", b"old")
    with pytest.raises(RuntimeError, match="source failed"):
        store.put("k", FailingReader(os.urandom(12 * MiB)))
    assert store.get("k") == b"old"
    assert list(store.list()) == ["k"]
    assert _uploads(s3_filesystem, s3_bucket) == []


def test_multipart_overwrite_false_is_refused(
    make_s3_store: Callable[..., FsspecBlobStore],
) -> None:
    store = make_s3_store("mp", multipart_threshold=5 * MiB)
    store.put("k", b"old")
    with pytest.raises(StorageError, match="already exists"):
        store.put("k", os.urandom(6 * MiB), overwrite=False)
    assert store.get("k") == b"old"


def test_listing_sees_writes_of_other_clients(
    make_s3_store: Callable[..., FsspecBlobStore],
) -> None:
    mine = make_s3_store("shared", retries=1)
    theirs = make_s3_store("shared", retries=2)
    assert list(mine.list()) == []
    theirs.put("x", b"1")
    assert list(mine.list()) == ["x"]
    assert mine.get("x") == b"1"


def test_open_blob_store_builds_an_s3_store(s3_bucket: str, s3_options: S3Options) -> None:
    store = open_blob_store(f"s3://{s3_bucket}/via/registry", s3=s3_options)
    store.put("k", b"v")
    assert store.uri_for("k") == f"s3://{s3_bucket}/via/registry/k"
    assert open_blob_store(f"s3://{s3_bucket}/via", s3=s3_options).get("registry/k") == b"v"
    store.close()


def test_a_missing_bucket_is_reported_clearly(
    s3_bucket: str, s3_options: S3Options, s3_filesystem: Any
) -> None:
    store = FsspecBlobStore.for_s3("s3://no-such-bucket/p", s3_options, fs=s3_filesystem)
    for call in (
        lambda: store.put("k", b"1"),
        lambda: store.get("k"),
        lambda: list(store.list()),
        lambda: store.exists("k"),
        lambda: store.delete("k"),
    ):
        with pytest.raises(BackendUnavailable) as caught:
            call()
        assert str(caught.value) == (
            "s3 backend unavailable: bucket 'no-such-bucket' does not exist"
        )
        assert caught.value.__cause__ is not None


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_stopped_endpoint_fails_within_seconds(s3_env: None) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    options = S3Options(
        endpoint_url=endpoint,
        access_key="AKIDEXAMPLE",
        secret_key=TEST_SECRET_KEY,
        retries=1,
        connect_timeout=2,
    )
    store = open_blob_store("s3://bucket/prefix", s3=options)
    started = time.monotonic()
    with pytest.raises(BackendUnavailable) as caught:
        store.put("k", b"data")
    assert time.monotonic() - started < 10
    assert (
        str(caught.value) == f"s3 backend unavailable: cannot reach {endpoint}: connection failed"
    )
    with pytest.raises(BackendUnavailable):
        store.exists("k")


def test_secrets_never_show(s3_bucket: str, s3_options: S3Options) -> None:
    assert TEST_SECRET_KEY not in repr(s3_options)
    assert TEST_SECRET_KEY not in str(s3_options)
    assert "secret_key='***'" in repr(s3_options)
    assert "access_key='***'" in repr(s3_options)
    assert "secret_key=None" in repr(S3Options())
    store = open_blob_store(f"s3://{s3_bucket}/p", s3=s3_options)
    messages = [repr(store)]
    for call in (lambda: store.get("missing"), lambda: store.put("../x", b"")):
        with pytest.raises(StorageError) as caught:
            call()
        messages.append(str(caught.value))
    dead = S3Options(
        endpoint_url=f"http://127.0.0.1:{_closed_port()}",
        access_key="AKIDEXAMPLE",
        secret_key=TEST_SECRET_KEY,
        retries=1,
    )
    with pytest.raises(BackendUnavailable) as unreachable:
        open_blob_store("s3://bucket", s3=dead).get("k")
    messages.append(str(unreachable.value))
    for message in messages:
        assert TEST_SECRET_KEY not in message
        assert "AKIDEXAMPLE" not in message


def test_access_denied_becomes_permission_denied() -> None:
    # moto accepts any credentials, so a real AccessDenied cannot be provoked here: build
    # the exact error s3fs raises (a PermissionError caused by botocore's ClientError).
    from botocore.exceptions import ClientError

    cause = ClientError(
        {"Error": {"Code": "InvalidAccessKeyId", "Message": "key s3cr3t is bad"}}, "GetObject"
    )
    err = PermissionError("key s3cr3t is bad")
    err.__cause__ = cause
    context = ErrorContext("s3", "http://x", "b", secrets=("s3cr3t",))
    translated = translate_error(err, "s3://b/k", "read", context)
    assert isinstance(translated, PermissionDenied)
    assert str(translated) == (
        "access denied by http://x (InvalidAccessKeyId; check the access key and secret key): "
        "s3://b/k"
    )


def test_missing_key_is_not_found_not_a_missing_bucket(
    make_s3_store: Callable[..., FsspecBlobStore], s3_bucket: str
) -> None:
    with pytest.raises(NotFound) as caught:
        make_s3_store("p").get("nope")
    assert str(caught.value) == f"blob not found: s3://{s3_bucket}/p/nope"


def test_missing_s3fs_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)
    with pytest.raises(BackendUnavailable) as caught:
        open_blob_store("s3://bucket/key")
    assert str(caught.value) == (
        "s3 backend unavailable: s3fs is not installed (pip install 'storage-toolkit-core[s3]')"
    )


def test_s3_options_become_s3fs_arguments() -> None:
    options = S3Options(
        endpoint_url="http://localhost:9000",
        region="eu-west-1",
        access_key="AK",
        secret_key="SK",
        retries=4,
        connect_timeout=1.5,
        read_timeout=9,
    )
    assert options.storage_options() == {
        "skip_instance_cache": True,
        "use_listings_cache": False,
        "endpoint_url": "http://localhost:9000",
        "key": "AK",
        "secret": "SK",
        # The region goes to botocore's Config: in client_kwargs s3fs would also use it as
        # a bucket location constraint, which us-east-1 refuses.
        "config_kwargs": {
            "region_name": "eu-west-1",
            "retries": {"max_attempts": 4, "mode": "standard"},
            "connect_timeout": 1.5,
            "read_timeout": 9,
        },
    }
    chain = S3Options().storage_options()
    assert "key" not in chain
    assert "secret" not in chain
    assert "endpoint_url" not in chain


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"access_key": "AK"}, "invalid s3 credentials='***': give both the access key and"),
        ({"secret_key": "SK"}, "invalid s3 credentials='***': give both the access key and"),
        ({"retries": 0}, "invalid retries=0: must be at least 1"),
        ({"connect_timeout": 0}, "invalid connect_timeout=0: must be a positive number"),
        ({"multipart_threshold": MiB}, "invalid multipart_threshold=1048576: must be at least"),
    ],
)
def test_s3_options_are_validated(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        S3Options(**kwargs)
    assert str(caught.value).startswith(message)
    assert "SK" not in str(caught.value)


def test_the_s3_store_fixture_is_ready_and_empty(s3_store: FsspecBlobStore, s3_bucket: str) -> None:
    assert str(s3_store.root) == f"s3://{s3_bucket}/store"
    assert list(s3_store.list()) == []
