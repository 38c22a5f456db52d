"""Reading artifact bytes while checking them against what their row records."""

from __future__ import annotations

import io
from typing import BinaryIO

from diary.errors import IntegrityError
from storage_core.hashing import Digest

__all__ = ["VerifiedStream"]


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

    def read_all_checked(self) -> bytes:
        """Read everything, checked (the usual ``read()`` on a buffered wrapper does the same)."""
        parts = []
        while chunk := self.read(1 << 20):
            parts.append(chunk)
        return b"".join(parts)

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
