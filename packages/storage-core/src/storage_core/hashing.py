"""Chunked reading with a running size and SHA-256, shared by every blob store.

Stores hash bytes while they stream through them, so a put never needs a second pass over the
data and never holds a whole large object in memory.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import BinaryIO, Protocol

__all__ = ["CHUNK_SIZE", "Digest", "Readable", "hash_stream", "iter_chunks", "sha256_hex"]

#: Default read/write chunk: large enough for throughput, small enough to stream.
CHUNK_SIZE = 1024 * 1024


class Readable(Protocol):
    """Anything with a binary ``read(n)``: files, sockets, ``io.BytesIO``, fsspec files."""

    def read(self, size: int = -1, /) -> bytes:
        """Read up to ``size`` bytes; ``b""`` at the end."""
        ...


class Digest:
    """Running size and SHA-256 of the bytes fed to it.

    Attributes:
        size: the number of bytes fed so far.
    """

    def __init__(self) -> None:
        self._hash = hashlib.sha256()
        self.size = 0

    def update(self, chunk: bytes) -> None:
        """Account for one more chunk."""
        self._hash.update(chunk)
        self.size += len(chunk)

    @property
    def hexdigest(self) -> str:
        """The SHA-256 of everything fed so far, as lower-case hex."""
        return self._hash.hexdigest()


def iter_chunks(
    data: bytes | bytearray | memoryview | BinaryIO | Readable, chunk_size: int = CHUNK_SIZE
) -> Iterator[bytes]:
    """Yield ``data`` in chunks of at most ``chunk_size`` bytes.

    Args:
        data: bytes-like, or a binary file object read until it returns ``b""``.
        chunk_size: the largest chunk to yield.

    Raises:
        TypeError: the file object returned something other than bytes (a text file).
    """
    if isinstance(data, bytes | bytearray | memoryview):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), chunk_size):
            yield bytes(view[start : start + chunk_size])
        return
    while True:
        # Typed as object: a text file passed by mistake returns str, which is checked below.
        chunk: object = data.read(chunk_size)
        if not chunk:
            return
        if not isinstance(chunk, bytes | bytearray):
            kind = type(chunk).__name__
            raise TypeError(f"expected a binary file object, read() returned {kind}")
        yield bytes(chunk)


def hash_stream(source: BinaryIO | Readable, chunk_size: int = CHUNK_SIZE) -> Digest:
    """Read ``source`` to the end and return its size and SHA-256."""
    digest = Digest()
    for chunk in iter_chunks(source, chunk_size):
        digest.update(chunk)
    return digest


def sha256_hex(data: bytes | bytearray | memoryview) -> str:
    """Return the lower-case hex SHA-256 of in-memory bytes."""
    return hashlib.sha256(data).hexdigest()
