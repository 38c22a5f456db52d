"""Byte stores: the :class:`BlobStore` protocol and one fsspec-backed implementation.

* :mod:`~storage_core.blobs.protocol`: the contract (``put``/``open``/``get``/``delete``/
  ``exists``/``info``/``list``) and :class:`BlobInfo`.
* :mod:`~storage_core.blobs.store`: :class:`FsspecBlobStore`, for ``file``, ``s3``, ``memory``
  and any other fsspec protocol; streaming puts with SHA-256, atomic writes.
* :mod:`~storage_core.blobs.registry`: the lazy protocol -> backend table behind
  :func:`open_blob_store`; s3fs is imported only when an ``s3://`` store is opened.
* :mod:`~storage_core.blobs.s3options`: :class:`S3Options` (endpoint, region, keys, retries,
  timeouts), kept apart so configuration code need not import s3fs.
* :mod:`~storage_core.blobs.translate`: vendor errors -> :mod:`storage_core.errors`.
* :mod:`~storage_core.blobs.localfs`, :mod:`~storage_core.blobs.uploads`: how writes are
  made atomic on a local disk and on object stores.
"""

from storage_core.blobs.protocol import BlobInfo, BlobStore
from storage_core.blobs.s3options import S3Options
from storage_core.blobs.store import FsspecBlobStore, open_blob_store

__all__ = ["BlobInfo", "BlobStore", "FsspecBlobStore", "S3Options", "open_blob_store"]
