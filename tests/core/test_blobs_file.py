"""The local file backend: conformance suite plus atomicity, permissions and odd names."""

from __future__ import annotations

import io
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from storage_core.blobs import BlobStore, FsspecBlobStore, open_blob_store
from storage_core.blobs.localfs import TEMP_PREFIX
from storage_core.errors import InvalidURI, NotFound, StorageIOError
from storage_core.testing import BlobStoreConformance, FailingReader
from storage_core.uri import parse, to_local_path


class TestFileStore(BlobStoreConformance):
    @pytest.fixture
    def store(self, tmp_path: Path) -> Iterator[BlobStore]:
        with FsspecBlobStore(tmp_path / "store") as store:
            yield store


def _all_files(root: Path) -> list[str]:
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


def test_write_goes_through_a_temp_file_in_the_same_directory(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    seen: list[list[str]] = []

    class Watching(io.RawIOBase):
        """Looks at the directory while the store is half-way through the write."""

        def __init__(self) -> None:
            self.calls = 0

        def readable(self) -> bool:
            return True

        def read(self, size: int = -1, /) -> bytes:
            self.calls += 1
            if self.calls == 2:
                seen.append(sorted(os.listdir(tmp_path / "d")))
                assert list(store.list()) == []
                return b""
            return b"first chunk"

    store.put("d/obj", Watching())
    assert len(seen) == 1
    assert len(seen[0]) == 1
    assert seen[0][0].startswith(TEMP_PREFIX)
    assert os.listdir(tmp_path / "d") == ["obj"]
    assert (tmp_path / "d" / "obj").read_bytes() == b"first chunk"


def test_a_write_killed_midway_leaves_no_partial_object_or_temp_file(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    store.put("k", b"previous")
    with pytest.raises(RuntimeError, match="source failed"):
        store.put("k", FailingReader(os.urandom(3 * 1024 * 1024)))
    with pytest.raises(RuntimeError):
        store.put("new/k", FailingReader(b"partial"))
    assert _all_files(tmp_path) == ["k"]
    assert store.get("k") == b"previous"


def test_leftover_temp_files_of_a_crash_are_not_listed(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    store.put("a/real", b"1")
    (tmp_path / "a" / f"{TEMP_PREFIX}deadbeef").write_bytes(b"half")
    assert list(store.list()) == ["a/real"]


def test_keys_cannot_use_the_temp_prefix(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    with pytest.raises(InvalidURI, match="reserved"):
        store.put(f"a/{TEMP_PREFIX}x", b"")


def test_created_directories_are_never_group_or_world_writable(tmp_path: Path) -> None:
    old = os.umask(0o002)
    try:
        FsspecBlobStore(tmp_path / "root").put("a/b/c", b"x")
    finally:
        os.umask(old)
    for directory in (tmp_path / "root", tmp_path / "root/a", tmp_path / "root/a/b"):
        assert stat.S_IMODE(directory.stat().st_mode) == 0o755, directory
    assert stat.S_IMODE((tmp_path / "root/a/b/c").stat().st_mode) == 0o644


def test_umask_narrows_directory_modes(tmp_path: Path) -> None:
    old = os.umask(0o077)
    try:
        FsspecBlobStore(tmp_path / "root").put("a/b", b"x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "root/a").stat().st_mode) == 0o700


def test_odd_file_names_round_trip_through_percent_encoding(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    key = "100% sure/a b#c?d=é.txt"
    info = store.put(key, b"odd")
    assert info.uri == f"{parse(tmp_path)}/100%25%20sure/a%20b%23c%3Fd=%C3%A9.txt"
    assert (tmp_path / "100% sure" / "a b#c?d=é.txt").read_bytes() == b"odd"
    assert to_local_path(info.uri) == tmp_path / "100% sure" / "a b#c?d=é.txt"
    assert store.key_for(info.uri) == key


def test_percent_encoded_traversal_in_a_key_stays_a_literal_name(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path / "root")
    store.put("%2e%2e/x", b"1")
    assert (tmp_path / "root" / "%2e%2e" / "x").is_file()
    assert not (tmp_path / "x").exists()


def test_a_missing_root_lists_nothing_and_is_created_on_put(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path / "not" / "yet")
    assert list(store.list()) == []
    store.put("k", b"1")
    assert (tmp_path / "not" / "yet" / "k").read_bytes() == b"1"


def test_a_key_through_an_existing_blob(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    store.put("a", b"file")
    with pytest.raises(StorageIOError, match=r"^cannot write file://.*/a/b: "):
        store.put("a/b", b"x")
    with pytest.raises(NotFound):
        store.get("a/b")
    assert not store.exists("a/b")
    assert _all_files(tmp_path) == ["a"]


def test_a_directory_is_not_a_blob(tmp_path: Path) -> None:
    store = FsspecBlobStore(tmp_path)
    store.put("dir/x", b"1")
    for call in (store.get, store.open, store.info, store.delete):
        with pytest.raises(NotFound):
            call("dir")


def test_open_blob_store_accepts_paths_and_does_not_resolve_symlinks(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    store = open_blob_store(tmp_path / "link")
    assert store.uri_for("k") == f"{parse(tmp_path)}/link/k"
    store.put("k", b"1")
    assert (tmp_path / "real" / "k").read_bytes() == b"1"
    assert open_blob_store(str(tmp_path / "link")).root == store.root


def test_relative_roots_are_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_blob_store("./data/../store")
    assert str(store.root) == f"{parse(tmp_path)}/store"


def test_overwrite_false_keeps_a_concurrently_published_file(tmp_path: Path) -> None:
    # The no-overwrite publication is a hard link: it can never replace an existing file.
    store = FsspecBlobStore(tmp_path)
    (tmp_path / "k").write_bytes(b"written by someone else")
    with pytest.raises(Exception, match="already exists"):
        store.put("k", b"mine", overwrite=False)
    assert (tmp_path / "k").read_bytes() == b"written by someone else"
    assert _all_files(tmp_path) == ["k"]
