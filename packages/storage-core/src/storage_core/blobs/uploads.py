"""Atomic uploads to fsspec filesystems, and keeping a caller's source errors apart.

Two strategies, chosen by what the filesystem's writable files do:

* :func:`upload_streaming` for object stores whose files upload in parts and publish only on
  close (S3): one PUT up to the threshold, a multipart upload above it, aborted on failure.
* :func:`upload_spooled` for filesystems whose files may publish on open (fsspec's memory
  filesystem does): the whole input is read into a spool (memory, then a temporary file past
  the threshold) before the first byte is written.
"""

from __future__ import annotations

import contextlib
import tempfile
from collections.abc import Iterator
from typing import TYPE_CHECKING

from storage_core.blobs.s3options import MIN_PART_SIZE
from storage_core.hashing import Digest, iter_chunks

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["SourceError", "guarded_chunks", "upload_spooled", "upload_streaming"]


class SourceError(Exception):
    """Carries an exception raised by the caller's data source past error translation.

    Attributes:
        original: the caller's exception, to be re-raised unchanged.
    """

    def __init__(self, original: Exception) -> None:
        super().__init__(str(original))
        self.original = original


def guarded_chunks(chunks: Iterator[bytes], digest: Digest) -> Iterator[bytes]:
    """Hash chunks as they pass, and wrap the source's own errors in :class:`SourceError`.

    A store translates backend errors into storage_core errors; an error raised while reading
    the caller's data is not the backend's and must reach the caller as it was.
    """
    while True:
        try:
            chunk = next(chunks)
        except StopIteration:
            return
        except Exception as err:
            raise SourceError(err) from None
        digest.update(chunk)
        yield chunk


def upload_streaming(
    fs: AbstractFileSystem,
    path: str,
    chunks: Iterator[bytes],
    *,
    threshold: int,
    overwrite: bool,
) -> None:
    """Upload in one PUT up to ``threshold`` bytes, as a multipart upload above it.

    With ``overwrite=False`` the request carries ``If-None-Match: *``, so S3 itself refuses
    to replace an existing object (raised as ``FileExistsError``). Memory use is bounded by
    about twice the part size (``max(threshold, 5 MiB)``).
    """
    head = bytearray()
    for chunk in chunks:
        head += chunk
        if len(head) > threshold:
            break
    else:
        fs.pipe_file(path, bytes(head), mode="overwrite" if overwrite else "create")
        return
    out = fs.open(path, "wb" if overwrite else "xb", block_size=max(MIN_PART_SIZE, threshold))
    try:
        out.write(bytes(head))
        del head
        for chunk in chunks:
            out.write(chunk)
    except BaseException:
        # Abort the multipart upload so nothing becomes visible. Marking the file closed
        # stops fsspec from flushing the discarded buffer when the object is collected.
        with contextlib.suppress(Exception):
            out.discard()
        out.closed = True
        raise
    out.close()


def upload_spooled(
    fs: AbstractFileSystem,
    path: str,
    chunks: Iterator[bytes],
    *,
    threshold: int,
    chunk_size: int,
    overwrite: bool,
) -> None:
    """Read all of ``chunks`` into a spool first, then write it to ``path``.

    The spool stays in memory up to ``threshold`` bytes and moves to a temporary file above.
    With ``overwrite=False`` an existing object raises ``FileExistsError`` (a check, then the
    write: not atomic on filesystems that offer nothing better).
    """
    with tempfile.SpooledTemporaryFile(max_size=threshold) as spool:
        for chunk in chunks:
            spool.write(chunk)
        if not overwrite and fs.exists(path):
            raise FileExistsError(path)
        spool.seek(0)
        with fs.open(path, "wb") as out:
            for chunk in iter_chunks(spool, chunk_size):
                out.write(chunk)
