"""The byte-store contract: :class:`BlobInfo` and the :class:`BlobStore` protocol.

A store is rooted at a URI and addresses objects by *key*, a relative ``/``-separated name
checked with :func:`storage_core.uri.join`. Every implementation passes the conformance suite
in :mod:`storage_core.testing`.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

from storage_core.hashing import Readable
from storage_core.uri import URI

__all__ = ["BlobInfo", "BlobStore", "Source"]

# What ``put`` accepts: bytes-like objects or a binary file (read in chunks).
Source = bytes | bytearray | memoryview | BinaryIO | Readable


@dataclass(frozen=True)
class BlobInfo:
    """What a store knows about one object.

    Attributes:
        uri: the canonical URI of the object.
        key: its key relative to the store root.
        size: its size in bytes.
        sha256: lower-case hex SHA-256; None when not computed (``info(key)`` without
            ``checksum=True``).
    """

    uri: str
    key: str
    size: int
    sha256: str | None


@runtime_checkable
class BlobStore(Protocol):
    """A flat key -> bytes store rooted at a URI, with atomic, hashed writes."""

    root: URI

    def put(self, key: str, data: Source, *, overwrite: bool = True) -> BlobInfo:
        """Store ``data`` (bytes or a binary file object, streamed) under ``key``."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Open the object for a streaming read."""
        ...

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """Return the object's bytes (at most ``max_bytes`` of them when given)."""
        ...

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Remove the object."""
        ...

    def exists(self, key: str) -> bool:
        """Return True when an object is stored under ``key``."""
        ...

    def info(self, key: str, *, checksum: bool = False) -> BlobInfo:
        """Return size (and, with ``checksum=True``, SHA-256) of the object."""
        ...

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield every key starting with ``prefix``, sorted."""
        ...

    def uri_for(self, key: str) -> str:
        """Return the canonical URI of ``key``."""
        ...

    def key_for(self, uri: str) -> str:
        """Return the key of a URI under the root (inverse of :meth:`uri_for`)."""
        ...

    def close(self) -> None:
        """Release connections; the store must not be used afterwards."""
        ...
