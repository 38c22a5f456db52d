"""One :class:`BlobStore` implementation for every fsspec protocol.

A store is rooted at a URI and addresses objects by *key*, a relative ``/``-separated name
checked with :func:`storage_core.uri.join` (so ``../x``, absolute keys and NUL are refused).
Every write streams through a SHA-256 and is atomic: readers see the whole object or nothing.

* ``file:`` - temp file in the destination directory, fsync, rename, fsync of the directory
  (see :mod:`storage_core.blobs.localfs`).
* ``s3`` - one PUT up to ``multipart_threshold`` bytes, a multipart upload above it; S3 makes
  the object visible only when the PUT or the upload completes, and a failed upload is aborted.
* ``memory`` and other fsspec protocols - the input is spooled (memory, then a temp file past
  the threshold) before the first byte is written, so a failing source never leaves a partial
  object.

:func:`open_blob_store` finds the backend through the lazy registry in
:mod:`storage_core.blobs.registry`: s3fs is imported only when an ``s3://`` store is opened,
and a missing optional package is reported with the command that installs it.
"""

from __future__ import annotations

import builtins
import logging
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from storage_core.blobs import localfs, uploads
from storage_core.blobs.protocol import BlobInfo, BlobStore, Source
from storage_core.blobs.s3options import DEFAULT_MULTIPART_THRESHOLD, S3Options
from storage_core.blobs.translate import ErrorContext, translate_error
from storage_core.errors import BackendUnavailable, InvalidURI, NotFound, StorageError
from storage_core.hashing import CHUNK_SIZE, Digest, hash_stream, iter_chunks
from storage_core.uri import URI, URILike, join, parse, relative_key

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["FsspecBlobStore", "open_blob_store"]

logger = logging.getLogger(__name__)

# Protocols whose writable files upload in parts and publish only on close (discard aborts).
_STREAMING_PROTOCOLS = frozenset({"s3", "s3a"})


class FsspecBlobStore:
    """A :class:`BlobStore` over any fsspec filesystem, with a durable fast path for files.

    Args:
        root: the root URI (or path) of the store.
        fs: the fsspec filesystem to use; by default one is created for the root's protocol
            with ``storage_options``. Not used for ``file:`` roots, which go through ``os``.
        multipart_threshold: objects larger than this are streamed in parts (S3) or spooled
            through a temporary file (other remote protocols).
        chunk_size: bytes per read and write.
        error_context: endpoint, bucket and secrets for error messages.
        storage_options: options for creating ``fs`` when it is not given.
    """

    def __init__(
        self,
        root: URILike,
        fs: AbstractFileSystem | None = None,
        *,
        multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD,
        chunk_size: int = CHUNK_SIZE,
        error_context: ErrorContext | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.root = parse(root)
        self._local = self.root.scheme == "file"
        self._fs = fs
        self._storage_options = dict(storage_options or {})
        self._threshold = multipart_threshold
        self._chunk_size = chunk_size
        self._errors = error_context or ErrorContext(self.root.scheme, bucket=self.root.authority)
        self._closed = False

    @classmethod
    def for_s3(
        cls,
        root: URILike,
        options: S3Options | None = None,
        *,
        fs: AbstractFileSystem | None = None,
        **storage_options: Any,
    ) -> FsspecBlobStore:
        """Build a store for an ``s3://bucket/prefix`` root.

        Args:
            root: the root URI.
            options: endpoint, credentials, retries, timeouts (default: AWS, credential chain).
            fs: an existing ``s3fs.S3FileSystem`` to share (its settings win over
                ``options``, except for the multipart threshold and error messages).
            **storage_options: extra ``s3fs.S3FileSystem`` arguments.

        Raises:
            BackendUnavailable: s3fs is not installed.
        """
        settings = options or S3Options()
        if fs is None:
            try:
                import s3fs
            except ImportError as err:
                raise BackendUnavailable(
                    "s3", "s3fs is not installed", hint="pip install 'storage-toolkit-core[s3]'"
                ) from err
            fs = s3fs.S3FileSystem(**{**settings.storage_options(), **storage_options})
            # s3fs retries throttling and broken reads itself, on top of botocore's retries;
            # it is a class attribute, not a constructor argument. Keep the total bounded.
            fs.retries = settings.retries
        uri = parse(root)
        context = ErrorContext("s3", settings.endpoint, uri.authority, settings.secrets)
        return cls(uri, fs, multipart_threshold=settings.multipart_threshold, error_context=context)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.root)!r})"

    def __enter__(self) -> FsspecBlobStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def fs(self) -> AbstractFileSystem:
        """The fsspec filesystem (created on first use)."""
        if self._fs is None:
            import fsspec

            self._fs = fsspec.filesystem(self.root.scheme, **self._storage_options)
        return self._fs

    # -- keys and URIs -------------------------------------------------------------------

    def _uri(self, key: str) -> URI:
        # Every operation passes through here first.
        if self._closed:
            raise StorageError(f"blob store {self.root} is closed")
        uri = join(self.root, key)
        if any(seg.startswith(localfs.TEMP_PREFIX) for seg in key.split("/")):
            raise InvalidURI(key, f"names starting with {localfs.TEMP_PREFIX!r} are reserved")
        return uri

    def uri_for(self, key: str) -> str:
        """Return the canonical URI of ``key``.

        Raises:
            InvalidURI: the key is empty, absolute, has ``..``/``.``/empty segments or NUL.
        """
        return str(self._uri(key))

    def key_for(self, uri: str) -> str:
        """Return the key of ``uri`` relative to the root.

        Raises:
            InvalidURI: ``uri`` is not under the root, or is the root itself.
        """
        key = relative_key(self.root, uri)
        if not key:
            raise InvalidURI(str(uri), "is the store root, not an object in it")
        self._uri(key)
        return key

    def _raise(self, err: Exception, uri: URI, operation: str) -> BaseException:
        return translate_error(err, str(uri), operation, self._errors)

    # -- writing -----------------------------------------------------------------------------

    def put(self, key: str, data: Source, *, overwrite: bool = True) -> BlobInfo:
        """Store ``data`` under ``key`` atomically, computing its size and SHA-256 on the way.

        Args:
            key: the relative key.
            data: bytes-like, or a binary file object read in chunks until ``b""``.
            overwrite: if False and the key exists, raise :class:`AlreadyExists`.

        Returns:
            The stored object's URI, key, size and SHA-256.

        Raises:
            InvalidURI: the key is malformed or would leave the root.
            AlreadyExists: ``overwrite`` is False and the key is taken.
            StorageError: the backend failed (translated; the cause is kept).
            Exception: whatever the data source raised, unchanged; nothing is stored.
        """
        uri = self._uri(key)
        digest = Digest()
        chunks = uploads.guarded_chunks(iter_chunks(data, self._chunk_size), digest)
        source_error: Exception | None = None
        try:
            if self._local:
                localfs.atomic_write(_local_path(uri), chunks, overwrite=overwrite)
            elif uri.scheme in _STREAMING_PROTOCOLS:
                uploads.upload_streaming(
                    self.fs, uri.fs_path, chunks, threshold=self._threshold, overwrite=overwrite
                )
            else:
                uploads.upload_spooled(
                    self.fs,
                    uri.fs_path,
                    chunks,
                    threshold=self._threshold,
                    chunk_size=self._chunk_size,
                    overwrite=overwrite,
                )
        except uploads.SourceError as err:
            source_error = err.original
        except Exception as err:
            raise self._raise(err, uri, "write") from err
        if source_error is not None:
            # Raised outside the handler so the caller's exception keeps its own context.
            raise source_error
        return BlobInfo(str(uri), key, digest.size, digest.hexdigest)

    # -- reading -----------------------------------------------------------------------------

    def open(self, key: str) -> BinaryIO:
        """Open the object for a streaming read; the caller closes it.

        Raises:
            NotFound: no object under ``key``.
        """
        uri = self._uri(key)
        try:
            if self._local:
                return builtins.open(_local_path(uri), "rb")
            if not self._is_file(uri):
                raise FileNotFoundError(uri.fs_path)
            handle: BinaryIO = self.fs.open(uri.fs_path, "rb", block_size=self._threshold)
            return handle
        except Exception as err:
            raise self._raise(err, uri, "read") from err

    def get(self, key: str, *, max_bytes: int | None = None) -> bytes:
        """Return the object's bytes (at most ``max_bytes`` of them when given).

        ``max_bytes`` bounds what a damaged object can cost: a caller expecting N bytes asks
        for N + 1 and learns of a longer object without loading it.

        Raises:
            NotFound: no object under ``key``.
        """
        if max_bytes == 0:
            self.info(key)  # NotFound when missing (a ranged GET of nothing is no request)
            return b""
        uri = self._uri(key)
        try:
            if self._local:
                with builtins.open(_local_path(uri), "rb") as handle:
                    return handle.read(-1 if max_bytes is None else max_bytes)
            # One request (a ranged GET when bounded): a missing key or a "directory" raises
            # FileNotFoundError itself.
            if max_bytes is None:
                return bytes(self.fs.cat_file(uri.fs_path))
            return bytes(self.fs.cat_file(uri.fs_path, start=0, end=max_bytes))
        except OSError as err:
            # S3 answers a range over an empty object with 416 InvalidRange.
            if max_bytes is not None and "range is not satisfiable" in str(err):
                return self.get(key)
            raise self._raise(err, uri, "read") from err
        except Exception as err:
            raise self._raise(err, uri, "read") from err

    def _is_file(self, uri: URI) -> bool:
        # fsspec's isfile() answers False for any error (a dead endpoint included): use info().
        try:
            details = self.fs.info(uri.fs_path)
        except FileNotFoundError as err:
            if isinstance(translate_error(err, str(uri), "stat", self._errors), NotFound):
                return False
            raise
        return bool(details.get("type") == "file")

    def exists(self, key: str) -> bool:
        """Return True when an object (not a directory or prefix) is stored under ``key``."""
        uri = self._uri(key)
        try:
            return localfs.is_file(_local_path(uri)) if self._local else self._is_file(uri)
        except Exception as err:
            raise self._raise(err, uri, "stat") from err

    def info(self, key: str, *, checksum: bool = False) -> BlobInfo:
        """Return the object's size, and its SHA-256 when ``checksum`` is True (reads it all).

        Raises:
            NotFound: no object under ``key``.
        """
        uri = self._uri(key)
        try:
            if self._local:
                path = _local_path(uri)
                if not localfs.is_file(path):
                    raise FileNotFoundError(str(path))
                size = path.stat().st_size
            else:
                details = self.fs.info(uri.fs_path)
                if details.get("type") != "file":
                    raise FileNotFoundError(uri.fs_path)
                size = int(details["size"])
        except Exception as err:
            raise self._raise(err, uri, "stat") from err
        sha = None
        if checksum:
            with self.open(key) as stream:
                sha = hash_stream(stream, self._chunk_size).hexdigest
        return BlobInfo(str(uri), key, size, sha)

    def list(self, prefix: str = "") -> Iterator[str]:
        """Yield the keys starting with ``prefix`` (a plain string prefix), sorted.

        Raises:
            InvalidURI: the directory part of ``prefix`` is not a valid key.
        """
        directory, _, _ = prefix.rpartition("/")
        if self._closed:
            raise StorageError(f"blob store {self.root} is closed")
        base = self._uri(directory) if directory else self.root
        if "\x00" in prefix or prefix.startswith("/"):
            raise InvalidURI(prefix, "a prefix is a relative key")
        try:
            if self._local:
                above = base.segments[len(self.root.segments) :]
                walked = localfs.walk_files(_local_path(base))
                keys = ["/".join((*above, *segs)) for segs in walked]
            else:
                keys = self._remote_keys(base)
        except Exception as err:
            raise self._raise(err, base, "list") from err
        return iter(sorted(k for k in keys if k.startswith(prefix) and self._listable(k)))

    def _remote_keys(self, base: URI) -> builtins.list[str]:
        try:
            paths = self.fs.find(base.fs_path, withdirs=False)
        except FileNotFoundError as err:
            if isinstance(translate_error(err, str(base), "list", self._errors), NotFound):
                return []
            raise
        root = self.root.fs_path.rstrip("/") + "/"
        return [p[len(root) :] for p in paths if p.startswith(root)]

    def _listable(self, key: str) -> bool:
        try:
            self._uri(key)
        except InvalidURI:
            logger.debug("skipping unaddressable object %r under %s", key, self.root)
            return False
        return True

    # -- deleting and closing ------------------------------------------------------------------

    def delete(self, key: str, *, missing_ok: bool = False) -> None:
        """Remove the object under ``key``.

        Raises:
            NotFound: no object under ``key`` and ``missing_ok`` is False.
        """
        uri = self._uri(key)
        try:
            if self._local:
                _local_path(uri).unlink()
            else:
                # S3 deletes of missing keys succeed silently: look first to report NotFound.
                if not self._is_file(uri):
                    raise FileNotFoundError(uri.fs_path)
                self.fs.rm_file(uri.fs_path)
        except Exception as err:
            translated = self._raise(err, uri, "delete")
            if missing_ok and isinstance(translated, NotFound):
                return
            raise translated from err

    def close(self) -> None:
        """Close the store; later calls raise :class:`StorageError`.

        The filesystem is dropped, not closed: it may be shared (``for_s3(fs=...)``), and
        s3fs closes its connection pool itself when the filesystem is garbage collected.
        """
        self._closed = True
        self._fs = None


def _local_path(uri: URI) -> Path:
    return Path(uri.path)


def open_blob_store(
    root: URILike, *, s3: S3Options | None = None, **storage_options: Any
) -> BlobStore:
    """Open a blob store rooted at a URI or local path, through the default registry.

    Args:
        root: ``file:`` URI or path, ``s3://bucket/prefix``, ``memory://...``, or a URI of any
            installed fsspec protocol.
        s3: connection settings for ``s3://`` roots (default: AWS with the credential chain).
        **storage_options: extra fsspec options for the filesystem.

    Raises:
        InvalidURI: ``root`` cannot be parsed.
        BackendUnavailable: the protocol is unknown or its package is not installed.
    """
    # Imported here: the registry module imports this one.
    from storage_core.blobs.registry import default_registry

    return default_registry.open(root, s3=s3, **storage_options)
