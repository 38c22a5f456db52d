"""Artifact bytes for the diary store: inline, filesystem and S3 stores, and moving between them.

* :mod:`~diary.artifacts.stores`: :class:`AbstractArtifactStore`, :class:`InlineStore`,
  :class:`FilesystemStore`, :class:`S3Store`.
* :mod:`~diary.artifacts.resolver`: :func:`current_artifact_store` and the per-row resolver
  :class:`ArtifactStores`.
* :mod:`~diary.store.artifacts`: the store's artifact API (``log_artifact``,
  ``put_artifact``, ``open_artifact``, ``read_resource_data``, ``get_resource``,
  ``delete_resource``, ...), in a crash-safe order.
* :mod:`~diary.artifacts.migrate`: :func:`migrate_artifacts` between any two stores.
* :mod:`~diary.artifacts.verify`: :func:`verify_artifacts` (missing, corrupt, orphans, gc)
  and :func:`relocate_artifacts`.
* :mod:`~diary.artifacts.compact`: :func:`compact_database`.

Importing this package is cheap: s3fs loads when an S3 store is first used, SQLAlchemy when
the service, migration or verification modules are.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from diary.artifacts.resolver import ArtifactStores, current_artifact_store
from diary.artifacts.stores import (
    AbstractArtifactStore,
    FilesystemStore,
    InlineStore,
    S3Store,
    StoredBytes,
)
from storage_core.lazy import lazy_exports

if TYPE_CHECKING:
    from diary.artifacts.compact import CompactReport, compact_database
    from diary.artifacts.migrate import migrate_artifacts
    from diary.artifacts.verify import (
        RelocateReport,
        VerifyReport,
        relocate_artifacts,
        verify_artifacts,
    )

__all__ = [
    "AbstractArtifactStore",
    "ArtifactStores",
    "CompactReport",
    "FilesystemStore",
    "InlineStore",
    "RelocateReport",
    "S3Store",
    "StoredBytes",
    "VerifyReport",
    "compact_database",
    "current_artifact_store",
    "migrate_artifacts",
    "relocate_artifacts",
    "verify_artifacts",
]

__getattr__ = lazy_exports(
    __name__,
    {
        "CompactReport": "compact",
        "compact_database": "compact",
        "migrate_artifacts": "migrate",
        "RelocateReport": "verify",
        "VerifyReport": "verify",
        "relocate_artifacts": "verify",
        "verify_artifacts": "verify",
    },
)
