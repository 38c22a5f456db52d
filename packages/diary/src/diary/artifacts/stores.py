"""Artifact stores: where an artifact's bytes live, and how a row's bytes are found again.

Three stores, one interface (:class:`AbstractArtifactStore`):

* :class:`InlineStore` keeps the bytes in the ``resource.data`` column. Its writes do no I/O:
  the service puts the bytes into the same INSERT or UPDATE that records them. An inline
  artifact is held in memory whole, so its size is capped (``DEARDIARY_ARTIFACT_INLINE_MAX_BYTES``).
* :class:`FilesystemStore` keeps them under a root folder, ``<root>/<aa>/<uuid>``.
* :class:`S3Store` keeps them in a bucket, ``s3://<bucket>/[<prefix>/]<aa>/<uuid>``.

The last two are storage_core's fsspec :class:`~storage_core.blobs.BlobStore` underneath:
streaming, hashed, atomic writes and translated errors. Every write goes to a fresh key (a new
uuid4, unrelated to the row's id, DearDiary.jl's layout), so bytes are never overwritten and a
name given by a user never becomes a path segment.

:mod:`diary.artifacts.resolver` picks the store for the configuration and for each row. s3fs
is imported only when an S3 store is first used.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import logging
import os
import threading
import uuid
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, ClassVar

from diary.errors import ArtifactTooLarge, BackendUnavailable, InvalidValue, StorageError
from storage_core.blobs import BlobStore, FsspecBlobStore, S3Options
from storage_core.blobs.localfs import TEMP_PREFIX
from storage_core.blobs.protocol import Source
from storage_core.hashing import CHUNK_SIZE, Digest, iter_chunks
from storage_core.uri import URI, is_under, parse

if TYPE_CHECKING:
    pass

__all__ = [
    "BACKENDS",
    "AbstractArtifactStore",
    "FilesystemStore",
    "InlineStore",
    "S3Store",
    "StoredBytes",
    "StoredObject",
    "new_key",
    "normalise_backend",
]

logger = logging.getLogger(__name__)

BACKENDS = ("inline", "filesystem", "s3")
# DearDiary.jl v0.7-v0.8 called the inline store "sqlite"; rows from then may still say so.
_ALIASES = {"sqlite": "inline"}
_SCHEMES = {"filesystem": "file", "s3": "s3"}


def normalise_backend(name: str) -> str:
    """The backend a row's ``backend`` value means (``sqlite`` is the old name of inline).

    Raises:
        StorageError: the value names no known backend.
    """
    value = _ALIASES.get(name, name)
    if value not in BACKENDS:
        raise StorageError(
            f"unknown artifact backend {name!r} (expected one of inline, filesystem, s3)"
        )
    return value


def new_key() -> str:
    """A fresh ``<aa>/<uuid>`` key: a new lower-case uuid4 and its first two characters."""
    name = str(uuid.uuid4())
    return f"{name[:2]}/{name}"


@dataclass(frozen=True)
class StoredBytes:
    """What a store wrote: everything the row needs to point at the bytes.

    Attributes:
        backend: ``inline``, ``filesystem`` or ``s3``.
        uri: the canonical URI, ``""`` for inline.
        size: bytes written.
        sha256: lower-case hex SHA-256 of the bytes.
        data: the bytes themselves for inline (they go into the row), else None.
    """

    backend: str
    uri: str
    size: int
    sha256: str
    data: bytes | None = None


@dataclass(frozen=True)
class StoredObject:
    """An object found by listing a store (for orphan detection).

    Attributes:
        uri: its canonical URI.
        modified: its last modification time (UTC), when the store knows it.
        temporary: True for the leftover of an interrupted local write (never referenced).
    """

    uri: str
    modified: datetime | None
    temporary: bool = False


class AbstractArtifactStore(ABC):
    """Where artifact bytes go. Service code uses this interface only.

    Attributes:
        backend: the value recorded in ``resource.backend``.
        keeps_bytes_in_row: True when the bytes live in ``resource.data`` (inline).
        local: True when bytes written for an owner that turns out to be missing cost little
            to remove (inline, filesystem): the owner is then checked only as the row is
            written, not also before the bytes are.
    """

    backend: ClassVar[str]
    keeps_bytes_in_row: ClassVar[bool] = False
    local: ClassVar[bool] = False

    @abstractmethod
    def write(self, source: Source) -> StoredBytes:
        """Store bytes (a bytes-like object or a binary file, streamed) under a fresh key.

        Returns:
            Where they went, their size and SHA-256.
        """

    @abstractmethod
    def open(self, uri: str, data: bytes | None = None) -> BinaryIO:
        """Open stored bytes for a streaming read (inline: ``data`` is the row's column)."""

    def read(self, uri: str, data: bytes | None = None, *, max_bytes: int | None = None) -> bytes:
        """Stored bytes, whole: at most ``max_bytes`` of them when given (unchecked; see
        :func:`diary.artifacts.streams.read_verified`).

        Raises:
            NotFound: nothing is stored at ``uri``.
        """
        with self.open(uri, data) as stream:
            return stream.read(-1 if max_bytes is None else max_bytes)

    @abstractmethod
    def delete(self, uri: str) -> None:
        """Remove stored bytes; already missing bytes are not an error."""

    @abstractmethod
    def size(self, uri: str) -> int:
        """The size of stored bytes.

        Raises:
            NotFound: nothing is stored at ``uri``.
        """

    def owns(self, uri: str) -> bool:
        """Tell whether ``uri`` lies under this store's root."""
        return False

    def list_objects(self) -> Iterator[StoredObject]:
        """Yield every object under the store's root (nothing for inline)."""
        return iter(())

    def delete_object(self, obj: StoredObject) -> None:
        """Remove a listed object (orphan clean-up); a missing object is not an error."""
        self.delete(obj.uri)

    def check(self) -> None:  # noqa: B027 - optional hook, most stores need no check
        """Check that the store can be used (the S3 bucket exists); cheap after the first call."""

    def describe(self) -> str:
        """Where the store keeps bytes, for messages."""
        return self.backend

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release clients and connections."""


class InlineStore(AbstractArtifactStore):
    """Bytes in the ``resource.data`` column, capped at ``max_bytes`` per artifact.

    Args:
        max_bytes: the largest artifact accepted (``DEARDIARY_ARTIFACT_INLINE_MAX_BYTES``).
    """

    backend = "inline"
    keeps_bytes_in_row = True
    local = True

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes

    def __repr__(self) -> str:
        return f"InlineStore(max_bytes={self.max_bytes})"

    def write(self, source: Source) -> StoredBytes:
        """Read the bytes into memory (they go into the row), refusing more than the limit.

        Raises:
            ArtifactTooLarge: the source holds more than ``max_bytes`` bytes.
        """
        if isinstance(source, bytes):
            # Kept as given: a copy of every inline byte costs memory and time.
            if len(source) > self.max_bytes:
                raise ArtifactTooLarge(len(source), self.max_bytes)
            sha256 = hashlib.sha256(source).hexdigest()
            return StoredBytes("inline", "", len(source), sha256, source)
        digest = Digest()
        chunks: list[bytes] = []
        for chunk in iter_chunks(source, CHUNK_SIZE):
            digest.update(chunk)
            if digest.size > self.max_bytes:
                raise ArtifactTooLarge(digest.size, self.max_bytes)
            chunks.append(chunk)
        # One chunk (a file up to CHUNK_SIZE) is kept as read; more are joined in one copy.
        data = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return StoredBytes("inline", "", digest.size, digest.hexdigest, data)

    def open(self, uri: str, data: bytes | None = None) -> BinaryIO:
        """A stream over the row's bytes (a NULL column reads as no bytes)."""
        return io.BytesIO(data or b"")

    def read(self, uri: str, data: bytes | None = None, *, max_bytes: int | None = None) -> bytes:
        """The row's bytes themselves (a NULL column reads as no bytes)."""
        content = data or b""
        return content if max_bytes is None else content[:max_bytes]

    def delete(self, uri: str) -> None:
        """Nothing to do: the bytes go with the row."""

    def size(self, uri: str) -> int:
        """Not used for inline rows: their size is the column's length."""
        raise StorageError("inline artifacts have no URI to measure")


class _BlobArtifactStore(AbstractArtifactStore):
    """An artifact store over a storage_core BlobStore, keys ``<identity>/<aa>/<uuid>`` under
    its root (``<aa>/<uuid>`` for objects of databases from before identities)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self.root: URI = blobs.root
        # The writing database's identity: new objects go under it (diary.artifacts.ownership).
        self.prefix = ""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    def describe(self) -> str:
        """The store's root URI."""
        return str(self.root)

    def write(self, source: Source) -> StoredBytes:
        """Stream ``source`` to a new ``[<prefix>/]<aa>/<uuid>`` object (never overwriting)."""
        self.check()
        key = f"{self.prefix}/{new_key()}" if self.prefix else new_key()
        info = self.blobs.put(key, source, overwrite=False)
        assert info.sha256 is not None  # put always hashes
        return StoredBytes(self.backend, info.uri, info.size, info.sha256)

    def _key(self, uri: str) -> str:
        return self.blobs.key_for(uri)

    def open(self, uri: str, data: bytes | None = None) -> BinaryIO:
        """Open the object at ``uri`` for a streaming read.

        Raises:
            NotFound: no object at ``uri``.
        """
        return self.blobs.open(self._key(uri))

    def read(self, uri: str, data: bytes | None = None, *, max_bytes: int | None = None) -> bytes:
        """The object's bytes in one request (at most ``max_bytes``).

        Raises:
            NotFound: no object at ``uri``.
        """
        return self.blobs.get(self._key(uri), max_bytes=max_bytes)

    def delete(self, uri: str) -> None:
        """Remove the object at ``uri`` if it is there."""
        self.blobs.delete(self._key(uri), missing_ok=True)

    def size(self, uri: str) -> int:
        """The object's size.

        Raises:
            NotFound: no object at ``uri``.
        """
        return self.blobs.info(self._key(uri)).size

    def owns(self, uri: str) -> bool:
        """Tell whether ``uri`` lies under the root."""
        try:
            return is_under(uri, self.root) and parse(uri) != self.root
        except StorageError:
            return False

    def close(self) -> None:
        """Close the underlying blob store."""
        self.blobs.close()


class FilesystemStore(_BlobArtifactStore):
    """Bytes in files under a root folder: ``<root>/<aa>/<uuid>`` (``file:///...`` URIs).

    The root is created on the first write. Files are written to a temporary name, fsynced
    and renamed, so a crash leaves a whole file or a temporary one (which :meth:`list_objects`
    reports, so garbage collection can remove it).

    Args:
        root: the root folder (a path or a ``file:`` URI); made absolute.
    """

    backend = "filesystem"
    local = True

    def __init__(self, root: str | os.PathLike[str]) -> None:
        uri = parse(root)
        if uri.scheme != "file":
            raise InvalidValue("filesystem artifact root", str(root), "expected a local path")
        super().__init__(FsspecBlobStore(uri))

    @property
    def path(self) -> Path:
        """The root folder."""
        return Path(self.root.path)

    def list_objects(self) -> Iterator[StoredObject]:
        """Every file under the root, leftovers of interrupted writes included."""
        for directory, dirs, files in os.walk(self.path):
            dirs.sort()
            for name in sorted(files):
                full = Path(directory, name)
                try:
                    modified = datetime.fromtimestamp(full.stat().st_mtime, UTC)
                except FileNotFoundError:
                    continue  # removed while we walked
                yield StoredObject(
                    str(parse(full)), modified, temporary=name.startswith(TEMP_PREFIX)
                )

    def delete_object(self, obj: StoredObject) -> None:
        """Remove a listed file, temporary leftovers included (the blob store refuses those)."""
        if obj.temporary:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(parse(obj.uri).path)
            return
        self.delete(obj.uri)


class S3Store(_BlobArtifactStore):
    """Bytes in an S3 bucket: ``s3://<bucket>/[<prefix>/]<aa>/<uuid>``.

    The bucket must exist; the first write checks it and a missing bucket is a
    :class:`~storage_core.errors.BackendUnavailable` error, not a traceback. Credentials
    never appear in reprs or messages.

    Args:
        bucket: the bucket name.
        prefix: an optional key prefix (``team/artifacts``).
        options: endpoint, region, credentials, retries and timeouts.
        fs: an ``s3fs.S3FileSystem`` to share (one client for every S3 store of a
            configuration); created from ``options`` when None.
    """

    backend = "s3"

    def __init__(
        self, bucket: str, prefix: str = "", options: S3Options | None = None, fs: Any = None
    ) -> None:
        if not bucket:
            raise StorageError(
                "s3 artifact backend needs a bucket: set DEARDIARY_ARTIFACT_S3_BUCKET"
            )
        self.bucket = bucket
        self.options = options or S3Options()
        root = f"s3://{bucket}/{prefix.strip('/')}".rstrip("/")
        super().__init__(FsspecBlobStore.for_s3(root, self.options, fs=fs))
        self._checked = threading.Event()
        self._check_lock = threading.Lock()

    @property
    def fs(self) -> Any:
        """The s3fs filesystem (shareable with other S3 stores of the same endpoint)."""
        blobs = self.blobs
        assert isinstance(blobs, FsspecBlobStore)
        return blobs.fs

    def check(self) -> None:
        """Check once that the bucket exists and the endpoint answers.

        Raises:
            BackendUnavailable: the bucket does not exist or the endpoint cannot be reached.
            PermissionDenied: the credentials are refused.
        """
        if self._checked.is_set():
            return
        with self._check_lock:
            if self._checked.is_set():
                return
            from storage_core.blobs.translate import ErrorContext, translate_error

            try:
                self.fs.info(self.bucket)
            except FileNotFoundError as err:
                raise BackendUnavailable("s3", f"bucket {self.bucket!r} does not exist") from err
            except Exception as err:
                context = ErrorContext(
                    "s3", self.options.endpoint, self.bucket, self.options.secrets
                )
                raise translate_error(err, f"s3://{self.bucket}", "stat", context) from err
            self._checked.set()

    def list_objects(self) -> Iterator[StoredObject]:
        """Every object under the root, with its modification time."""
        for key in self.blobs.list():
            uri = self.blobs.uri_for(key)
            modified: datetime | None = None
            with contextlib.suppress(Exception):
                stamp = self.fs.info(parse(uri).fs_path).get("LastModified")
                if isinstance(stamp, datetime):
                    modified = stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)
            yield StoredObject(uri, modified)
