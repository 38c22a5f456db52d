"""The lazy protocol -> blob store registry behind :func:`storage_core.blobs.open_blob_store`.

Modelled on fsspec's ``known_implementations``: each protocol maps to a small builder that
imports its optional package only when a store is opened, and reports a missing package with
the command that installs it. Protocols without an entry fall back to fsspec's own registry,
so any installed fsspec implementation works. Tests can build a fresh
:class:`BlobStoreRegistry` instead of mutating :data:`default_registry`.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from storage_core.blobs.protocol import BlobStore
from storage_core.blobs.s3options import S3Options
from storage_core.blobs.store import FsspecBlobStore
from storage_core.errors import BackendUnavailable
from storage_core.uri import URI, URILike, parse

__all__ = ["BlobStoreRegistry", "StoreBackend", "default_registry"]


@dataclass(frozen=True)
class StoreBackend:
    """How to build a store for one protocol.

    Attributes:
        protocol: the URI scheme it serves.
        build: ``build(root, s3_options, storage_options) -> BlobStore``; imports optional
            packages itself, so registering a backend costs nothing.
        description: a short human description for listings and errors.
    """

    protocol: str
    build: Callable[[URI, S3Options | None, dict[str, Any]], BlobStore]
    description: str = ""


def _build_file(root: URI, s3: S3Options | None, options: dict[str, Any]) -> BlobStore:
    return FsspecBlobStore(root, storage_options=options)


def _build_s3(root: URI, s3: S3Options | None, options: dict[str, Any]) -> BlobStore:
    return FsspecBlobStore.for_s3(root, s3, **options)


def _build_fsspec(root: URI, s3: S3Options | None, options: dict[str, Any]) -> BlobStore:
    from fsspec import get_filesystem_class

    try:
        cls = get_filesystem_class(root.scheme)
    except ValueError as err:
        raise BackendUnavailable(root.scheme, "unknown protocol") from err
    except ImportError as err:
        raise BackendUnavailable(root.scheme, str(err)) from err
    return FsspecBlobStore(root, cls(**options))


class BlobStoreRegistry:
    """Protocol -> backend table, in the spirit of fsspec's ``known_implementations``.

    Protocols without an entry fall back to fsspec's own registry, so any installed fsspec
    implementation works. Tests can build a fresh registry instead of mutating the default.
    """

    def __init__(self, backends: Mapping[str, StoreBackend] | None = None) -> None:
        self._backends: dict[str, StoreBackend] = dict(backends or {})

    def register(self, backend: StoreBackend, *, replace: bool = False) -> None:
        """Add a backend; refuses to shadow an existing one unless ``replace`` is True."""
        if backend.protocol in self._backends and not replace:
            raise ValueError(f"protocol {backend.protocol!r} is already registered")
        self._backends[backend.protocol] = backend

    @property
    def protocols(self) -> builtins.list[str]:
        """The explicitly registered protocols, sorted."""
        return sorted(self._backends)

    def open(
        self, root: URILike, *, s3: S3Options | None = None, **storage_options: Any
    ) -> BlobStore:
        """Open the store rooted at ``root`` (see :func:`open_blob_store`)."""
        uri = parse(root)
        backend = self._backends.get(uri.scheme)
        build = backend.build if backend else _build_fsspec
        return build(uri, s3, dict(storage_options))


default_registry = BlobStoreRegistry(
    {
        "file": StoreBackend("file", _build_file, "local files, atomic and fsynced"),
        "memory": StoreBackend("memory", _build_file, "fsspec's in-memory filesystem (tests)"),
        "s3": StoreBackend("s3", _build_s3, "Amazon S3 and compatible servers (needs s3fs)"),
    }
)
