"""Reading artifact bytes while checking them against what their row records."""

from __future__ import annotations

import hashlib
import io
from typing import TYPE_CHECKING, BinaryIO

from diary.artifacts.stores import normalise_backend
from diary.errors import IntegrityError
from storage_core.hashing import Digest

if TYPE_CHECKING:
    from diary.artifacts.resolver import ArtifactStores
    from diary.records import Resource

__all__ = ["VerifiedStream", "check_bytes", "location", "open_verified", "read_verified"]


def location(record: Resource) -> str:
    """How messages name an artifact's bytes."""
    if normalise_backend(record.backend) == "inline":
        return f"artifact {record.id} (inline)"
    return f"artifact {record.id} at {record.uri}"


def open_verified(stores: ArtifactStores, record: Resource, data: bytes | None) -> VerifiedStream:
    """Open a row's bytes from the store its own ``backend`` and ``uri`` name, checked while read.

    Args:
        stores: the resolver.
        record: the artifact's row.
        data: its inline bytes (None for external ones).

    Raises:
        NotFound: the bytes are missing.
    """
    inner = stores.for_row(record.backend, record.uri).open(record.uri, data)
    return VerifiedStream(inner, location(record), record.size_bytes, record.content_hash)


def read_verified(stores: ArtifactStores, record: Resource, data: bytes | None) -> bytes:
    """A row's bytes, whole, checked against the row's size and SHA-256.

    One request for an S3 object, one read for a file: cheaper than a stream when the caller
    wants every byte anyway. At most one byte more than the row records is read, so a
    damaged object that grew costs nothing more.

    Raises:
        NotFound: the bytes are missing.
        IntegrityError: the bytes do not match the row.
    """
    store = stores.for_row(record.backend, record.uri)
    content = store.read(record.uri, data, max_bytes=record.size_bytes + 1)
    check_bytes(record, content)
    return content


def check_bytes(record: Resource, content: bytes) -> None:
    """Compare bytes with the size and SHA-256 their row records (the size only when the row
    has no digest, as rows from before digests were kept).

    Raises:
        IntegrityError: they differ.
    """
    where, size = location(record), record.size_bytes
    if len(content) > size:
        raise IntegrityError(where, size, f"more than {size}", "size")
    if len(content) != size:
        raise IntegrityError(where, size, len(content), "size")
    if record.content_hash:
        actual = hashlib.sha256(content).hexdigest()
        if actual != record.content_hash:
            raise IntegrityError(where, record.content_hash, actual)


class VerifiedStream(io.RawIOBase):
    """A read-only stream that checks size and SHA-256 of the bytes passing through it.

    Reading past the recorded size fails at once; at the end of the bytes, a short read or a
    different digest raises :class:`~storage_core.errors.IntegrityError`. So a caller that
    reads to the end never silently receives corrupt bytes (a caller that stops early has
    checked nothing).

    Args:
        inner: the stream to read; closed with this one.
        location: names the bytes in error messages (``artifact <id> at <uri>``).
        size: the recorded size.
        sha256: the recorded digest; ``""`` (rows from before hashes were kept) checks the
            size only.
    """

    def __init__(self, inner: BinaryIO, location: str, size: int, sha256: str) -> None:
        super().__init__()
        self._inner = inner
        self.location = location
        self.expected_size = size
        self.expected_sha256 = sha256
        self._digest = Digest()
        self._checked = False

    def readable(self) -> bool:
        """Always True."""
        return True

    def readinto(self, buffer: memoryview | bytearray) -> int:  # type: ignore[override]
        """Read into ``buffer``, checking the bytes; 0 at the end (after the final check)."""
        view = memoryview(buffer).cast("B")
        if not len(view):
            return 0
        chunk = self._inner.read(len(view))
        if not chunk:
            self._finish()
            return 0
        self._digest.update(chunk)
        if self._digest.size > self.expected_size:
            raise IntegrityError(
                self.location, self.expected_size, f"more than {self.expected_size}", "size"
            )
        view[: len(chunk)] = chunk
        return len(chunk)

    def _finish(self) -> None:
        if self._checked:
            return
        if self._digest.size != self.expected_size:
            raise IntegrityError(self.location, self.expected_size, self._digest.size, "size")
        if self.expected_sha256 and self._digest.hexdigest != self.expected_sha256:
            raise IntegrityError(self.location, self.expected_sha256, self._digest.hexdigest)
        self._checked = True

    @property
    def sha256(self) -> str:
        """The digest of the bytes read so far."""
        return self._digest.hexdigest

    def close(self) -> None:
        """Close this stream and the one it wraps."""
        try:
            self._inner.close()
        finally:
            super().close()
