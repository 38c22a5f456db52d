"""The artifact stores: the storage-core conformance suite, an artifact-level suite for each
store (inline, filesystem, S3 on the moto server), layout, configuration and secrets."""

from __future__ import annotations

import hashlib
import io
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from diary.artifacts import (
    AbstractArtifactStore,
    ArtifactStores,
    FilesystemStore,
    InlineStore,
    S3Store,
    current_artifact_store,
)
from diary.config import load_settings
from diary.errors import ArtifactTooLarge, BackendUnavailable, NotFound
from storage_core.blobs import BlobStore
from storage_core.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY, BlobStoreConformance

# DearDiary.jl's test vectors (reference model, section 12.1).
VECTORS = [
    (b"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    (b"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    (
        b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
    ),
    (b"hello", "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824"),
    (b"hello world", "b94d27b9934d3e08a52e52d7da7dabfac484efe37a5380ee9088f7ace2efcde9"),
    (bytes.fromhex("01020304"), "9f64a747e1b97f131fabb6b447296c9b6f0201e79fb3c5356e6c77e89b6a806a"),
    (bytes.fromhex("aabbcc"), "fa22dfe1da9013b3c1145040acae9089e0c08bc1c1a0719614f4b73add6f6ef5"),
    (
        bytes.fromhex("cafebabe010203"),
        "046fb3d777dcc17147a07ec3b13e68b06776f22c561a5640c62cb5c4524da107",
    ),
    (
        bytes.fromhex("1020304050"),
        "fbcb89ad6e6b6c69d2ec9623ed1fad1529bd39c1b766519d6dbaa3b9d1a3d527",
    ),
    (bytes.fromhex("deadbeef"), "5f78c33274e43fa9de5659265c1d917e25c03722dcb0b8d27db8d5feaa813953"),
    (bytes.fromhex("01"), "4bf5122f344554c53bde2ebb8cd2b7e3d1600ad631c385a5d7cce23c7785459a"),
    (bytes.fromhex("00"), "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
]
KEY = re.compile(r"([0-9a-f]{2})/(\1[0-9a-f-]{34})$")


def _stores(tmp_path: Path, backend: str, extra: dict[str, str] | None = None) -> ArtifactStores:
    environ = {
        "DEARDIARY_ARTIFACT_BACKEND": backend,
        "DEARDIARY_ARTIFACT_FS_ROOT": str(tmp_path / "root"),
        **(extra or {}),
    }
    return ArtifactStores(load_settings(environ=environ))


# -- storage-core's BlobStore conformance suite, on the blob stores under diary's stores -----


class TestFilesystemStoreBlobs(BlobStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BlobStore]:
        stores = _stores(tmp_path, "filesystem")
        current = stores.current
        assert isinstance(current, FilesystemStore)
        yield current.blobs
        stores.close()


class TestS3StoreBlobs(BlobStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path, s3_settings: dict[str, str]) -> Iterator[BlobStore]:
        stores = _stores(tmp_path, "s3", {**s3_settings, "DEARDIARY_ARTIFACT_S3_PREFIX": "team/a"})
        current = stores.current
        assert isinstance(current, S3Store)
        yield current.blobs
        stores.close()


# -- the artifact-level suite every store passes --------------------------------------------


class ArtifactStoreConformance:
    """What every AbstractArtifactStore does; subclasses provide ``artifact_store``."""

    @pytest.fixture
    def artifact_store(self) -> AbstractArtifactStore:
        raise NotImplementedError

    @pytest.mark.parametrize(("data", "digest"), VECTORS)
    def test_write_hashes_and_reads_back(
        self, artifact_store: AbstractArtifactStore, data: bytes, digest: str
    ) -> None:
        stored = artifact_store.write(data)
        assert (stored.backend, stored.size, stored.sha256) == (
            artifact_store.backend,
            len(data),
            digest,
        )
        with artifact_store.open(stored.uri, stored.data) as stream:
            assert stream.read() == data

    def test_streams_a_file_larger_than_a_chunk(
        self, artifact_store: AbstractArtifactStore
    ) -> None:
        data = os.urandom(3 * 1024 * 1024 + 17)
        stored = artifact_store.write(io.BytesIO(data))
        assert stored.sha256 == hashlib.sha256(data).hexdigest()
        with artifact_store.open(stored.uri, stored.data) as stream:
            assert stream.read() == data

    def test_delete_is_idempotent(self, artifact_store: AbstractArtifactStore) -> None:
        stored = artifact_store.write(b"x")
        artifact_store.delete(stored.uri)
        artifact_store.delete(stored.uri)
        if stored.uri:
            with pytest.raises(NotFound):
                artifact_store.open(stored.uri)


class TestInlineStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self) -> AbstractArtifactStore:
        return InlineStore(16 * 1024 * 1024)

    def test_keeps_bytes_for_the_row(self) -> None:
        stored = InlineStore(10).write(b"hello")
        assert (stored.uri, stored.data) == ("", b"hello")

    def test_size_limit(self) -> None:
        with pytest.raises(ArtifactTooLarge) as caught:
            InlineStore(4).write(io.BytesIO(b"hello"))
        assert str(caught.value) == (
            "artifact is larger than the inline limit of 4 bytes "
            "(DEARDIARY_ARTIFACT_INLINE_MAX_BYTES); raise the limit or use the filesystem or "
            "s3 artifact backend"
        )
        assert InlineStore(5).write(b"hello").size == 5


class TestFilesystemStore(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(self, tmp_path: Path) -> AbstractArtifactStore:
        return _stores(tmp_path, "filesystem").current

    def test_layout_and_fresh_keys(self, tmp_path: Path) -> None:
        store = _stores(tmp_path, "filesystem").current
        assert not (tmp_path / "root").exists()  # created on first write
        first, second = store.write(b"same"), store.write(b"same")
        assert first.uri != second.uri
        root = (tmp_path / "root").resolve()
        for stored in (first, second):
            assert stored.uri.startswith(f"file://{root}/")
            assert KEY.search(stored.uri)


class TestS3Store(ArtifactStoreConformance):
    @pytest.fixture
    def artifact_store(
        self, tmp_path: Path, s3_settings: dict[str, str]
    ) -> Iterator[AbstractArtifactStore]:
        stores = _stores(tmp_path, "s3", s3_settings)
        yield stores.current
        stores.close()

    def test_layout_with_prefix(self, tmp_path: Path, s3_settings: dict[str, str]) -> None:
        extra = {**s3_settings, "DEARDIARY_ARTIFACT_S3_PREFIX": "/team/runs/"}
        stored = _stores(tmp_path, "s3", extra).current.write(b"x")
        bucket = s3_settings["DEARDIARY_ARTIFACT_S3_BUCKET"]
        assert stored.uri.startswith(f"s3://{bucket}/team/runs/")
        assert KEY.search(stored.uri)

    def test_missing_bucket_is_a_clear_error_at_first_use(
        self, tmp_path: Path, s3_settings: dict[str, str]
    ) -> None:
        extra = {**s3_settings, "DEARDIARY_ARTIFACT_S3_BUCKET": "no-such-bucket"}
        store = _stores(tmp_path, "s3", extra).current  # building it is not using it
        with pytest.raises(BackendUnavailable) as caught:
            store.write(b"x")
        assert str(caught.value) == "s3 backend unavailable: bucket 'no-such-bucket' does not exist"

    def test_secrets_never_in_reprs(self, tmp_path: Path, s3_settings: dict[str, str]) -> None:
        stores = _stores(tmp_path, "s3", s3_settings)
        shown = " ".join(
            repr(x) for x in (stores, stores.current, stores.s3_options(), stores.settings)
        )
        assert TEST_SECRET_KEY not in shown
        assert TEST_ACCESS_KEY not in shown


def test_current_artifact_store_follows_the_setting(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(current_artifact_store(), InlineStore)
    monkeypatch.setenv("DEARDIARY_ARTIFACT_BACKEND", "filesystem")
    monkeypatch.setenv("DEARDIARY_ARTIFACT_FS_ROOT", "relative/root")
    store = current_artifact_store()
    assert isinstance(store, FilesystemStore)
    assert store.describe() == f"file://{tmp_path.resolve()}/relative/root"


def test_s3_without_a_bucket_is_refused(tmp_path: Path) -> None:
    from diary.errors import StorageError

    with pytest.raises(StorageError) as caught:
        _stores(tmp_path, "s3").current  # noqa: B018
    assert str(caught.value) == (
        "s3 artifact backend needs a bucket: set DEARDIARY_ARTIFACT_S3_BUCKET"
    )


def test_s3fs_is_imported_only_for_s3(tmp_path: Path) -> None:
    code = (
        "import sys\n"
        "from diary.artifacts import current_artifact_store\n"
        "from diary.config import load_settings\n"
        "for b in ('inline', 'filesystem'):\n"
        "    current_artifact_store(load_settings(environ={'DEARDIARY_ARTIFACT_BACKEND': b}))\n"
        "import diary.cli, diary.store\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('s3fs', 'botocore')))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    )
    assert result.stdout == "[]\n"


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DEARDIARY_ARTIFACT_INLINE_MAX_BYTES",
            "-1",
            "invalid DEARDIARY_ARTIFACT_INLINE_MAX_BYTES='-1': expected a whole number >= 0",
        ),
        (
            "DEARDIARY_ARTIFACT_S3_RETRIES",
            "0",
            "invalid DEARDIARY_ARTIFACT_S3_RETRIES='0': expected a whole number >= 1",
        ),
        (
            "DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT",
            "0",
            "invalid DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT='0': expected a finite number > 0",
        ),
        (
            "DEARDIARY_ARTIFACT_S3_PREFIX",
            "a/../b",
            "invalid DEARDIARY_ARTIFACT_S3_PREFIX='a/../b': expected a key prefix such as "
            "'team/artifacts'",
        ),
    ],
)
def test_artifact_settings_are_validated(name: str, value: str, message: str) -> None:
    from diary.errors import ConfigError

    with pytest.raises(ConfigError) as caught:
        load_settings(environ={name: value})
    assert str(caught.value) == message


def test_artifact_setting_defaults(tmp_path: Path) -> None:
    settings = load_settings(environ={})
    assert (
        settings.artifact_inline_max_bytes,
        settings.artifact_s3_retries,
        settings.artifact_s3_connect_timeout,
        settings.artifact_s3_prefix,
        settings.artifact_s3_region,
    ) == (256 * 1024 * 1024, 3, 5.0, "", "us-east-1")
