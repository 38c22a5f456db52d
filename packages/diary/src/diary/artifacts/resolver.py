"""Which store: the configured one for new bytes, and the one holding each row's bytes.

:class:`ArtifactStores` resolves stores for one configuration: :attr:`ArtifactStores.current`
is where new bytes go, :meth:`ArtifactStores.for_row` the store that holds a given row's
bytes, chosen by the row's own ``backend`` and ``uri``, never by the configuration (so rows
written under another ``DEARDIARY_ARTIFACT_BACKEND`` keep reading back). Rows outside the
configured roots (a root that was moved, another bucket) get a store rooted where their URI
says, with the configured S3 endpoint and credentials.
"""

from __future__ import annotations

import logging
import threading
from typing import TYPE_CHECKING, Any

from diary.artifacts.stores import (
    AbstractArtifactStore,
    FilesystemStore,
    InlineStore,
    S3Store,
    _BlobArtifactStore,
    normalise_backend,
)
from diary.errors import InvalidValue, StorageError
from storage_core.blobs import S3Options
from storage_core.uri import URI, parse

if TYPE_CHECKING:
    from uuid import UUID

    from diary.config import Settings

__all__ = ["ArtifactStores", "current_artifact_store"]

logger = logging.getLogger(__name__)

_SCHEMES = {"filesystem": "file", "s3": "s3"}


def _layout_root(uri: URI) -> URI:
    """The root a ``<root>/<aa>/<uuid>`` URI was written under (else its parent folder)."""
    segments = uri.segments
    two_level = len(segments) >= 2 and len(segments[-2]) == 2 and segments[-1][:2] == segments[-2]
    return uri.parent.parent if two_level else uri.parent


class ArtifactStores:
    """The artifact stores of one configuration: where new bytes go, and where rows' bytes are.

    Thread-safe: migration workers resolve stores concurrently. One s3fs client is shared by
    every S3 store, whatever the bucket.

    Args:
        settings: the validated settings.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.RLock()
        self._stores: dict[tuple[str, str], AbstractArtifactStore] = {}
        self._inline = InlineStore(settings.artifact_inline_max_bytes)
        self._s3fs: Any = None
        # The database's identity once known: new objects go under it.
        self.owner: UUID | None = None

    def __repr__(self) -> str:
        return f"ArtifactStores(backend={self.settings.artifact_backend!r})"

    @property
    def current(self) -> AbstractArtifactStore:
        """The configured store (``DEARDIARY_ARTIFACT_BACKEND``), where new bytes go."""
        return self.configured(self.settings.artifact_backend)

    def configured(self, backend: str) -> AbstractArtifactStore:
        """The store of ``backend`` as configured (its root, bucket and prefix from settings).

        Raises:
            StorageError: an unknown backend, or S3 without a bucket.
        """
        backend = normalise_backend(backend)
        if backend == "inline":
            return self._inline
        if backend == "filesystem":
            return self._cached("filesystem", str(parse(self.settings.artifact_fs_root)))
        if not self.settings.artifact_s3_bucket:
            raise StorageError(
                "s3 artifact backend needs a bucket: set DEARDIARY_ARTIFACT_S3_BUCKET"
            )
        prefix = self.settings.artifact_s3_prefix.strip("/")
        return self._cached("s3", f"s3://{self.settings.artifact_s3_bucket}/{prefix}".rstrip("/"))

    def configured_roots(self) -> list[AbstractArtifactStore]:
        """The external stores whose roots are configured (for orphan scans): the
        filesystem root always, the S3 bucket when one is set."""
        stores = [self.configured("filesystem")]
        if self.settings.artifact_s3_bucket:
            stores.append(self.configured("s3"))
        return stores

    def for_row(self, backend: str, uri: str) -> AbstractArtifactStore:
        """The store holding a row's bytes, by the row's ``backend`` and ``uri`` alone.

        Raises:
            StorageError: an unknown backend, or a URI that does not fit the backend.
        """
        backend = normalise_backend(backend)
        if backend == "inline":
            return self._inline
        parsed = parse(uri)
        if parsed.scheme != _SCHEMES[backend]:
            raise StorageError(f"{backend} artifact has a URI of another kind: {uri}")
        with self._lock:
            for (kind, _), store in self._stores.items():
                if kind == backend and store.owns(uri):
                    return store
        return self._cached(backend, str(_layout_root(parsed)))

    def store_for_uri(self, uri: str) -> AbstractArtifactStore:
        """The store of any ``file:`` or ``s3:`` URI (relocation targets)."""
        scheme = parse(uri).scheme
        backend = {"file": "filesystem", "s3": "s3"}.get(scheme)
        if backend is None:
            raise InvalidValue("artifact location", uri, "expected a local path or an s3:// URI")
        return self.for_row(backend, uri)

    def set_owner(self, identity: UUID) -> None:
        """Write new objects under ``identity`` (the database's, see ``ownership``)."""
        with self._lock:
            self.owner = identity
            for store in self._stores.values():
                if isinstance(store, _BlobArtifactStore):
                    store.prefix = str(identity)

    def _cached(self, backend: str, root: str) -> AbstractArtifactStore:
        with self._lock:
            store = self._stores.get((backend, root))
            if store is None:
                store = self._build(backend, root)
                if self.owner is not None:
                    store.prefix = str(self.owner)
                self._stores[(backend, root)] = store
            return store

    def _build(self, backend: str, root: str) -> _BlobArtifactStore:
        if backend == "filesystem":
            return FilesystemStore(root)
        uri = parse(root)
        store = S3Store(uri.authority, uri.path, self.s3_options(), fs=self._s3fs)
        self._s3fs = store.fs
        return store

    def s3_options(self) -> S3Options:
        """The S3 connection settings (empty keys: the standard AWS credential chain)."""
        s = self.settings
        return S3Options(
            endpoint_url=s.artifact_s3_endpoint or None,
            region=s.artifact_s3_region,
            access_key=s.artifact_s3_access_key or None,
            secret_key=s.artifact_s3_secret_key or None,
            retries=s.artifact_s3_retries,
            connect_timeout=s.artifact_s3_connect_timeout,
        )

    def close(self) -> None:
        """Close every store opened so far."""
        with self._lock:
            stores = list(self._stores.values())
            self._stores.clear()
            self._s3fs = None
        for store in stores:
            try:
                store.close()
            except Exception as err:  # closing must not mask the caller's outcome
                logger.debug("closing %r failed: %s", store, err)


def current_artifact_store(settings: Settings | None = None) -> AbstractArtifactStore:
    """The configured artifact store (``DEARDIARY_ARTIFACT_BACKEND``).

    Args:
        settings: the settings to use (default: read from the environment).

    Raises:
        ConfigError: an invalid setting.
        StorageError: the s3 backend is chosen without a bucket.
    """
    if settings is None:
        from diary.config import load_settings

        settings = load_settings()
    return ArtifactStores(settings).current
