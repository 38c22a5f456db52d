"""Many artifacts at once: their bytes move concurrently, the database is touched once.

The bytes of many artifacts are independent transfers, so a pool of threads moves them at
once: S3 requests overlap their round trips, local files overlap their ``fsync``\\ s, and
SHA-256 (which releases the GIL on large buffers) runs on every core. The database stays on
the calling thread: DuckDB connections opened concurrently from several threads of one process
collide ("Unique file handle conflict").

Writes keep the order of single artifacts: every object is written (to a fresh key) before
any row points at it, and the caller records the rows in one transaction afterwards. When one
write fails, the others are let finish and every object written is removed, so a failed batch
leaves nothing behind; a crash leaves orphans for ``verify --gc``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING, TypeVar

from diary.artifacts.sources import ArtifactSource, opened
from diary.artifacts.streams import read_verified
from diary.errors import InvalidValue

if TYPE_CHECKING:
    from diary.artifacts.resolver import ArtifactStores
    from diary.artifacts.stores import AbstractArtifactStore, StoredBytes
    from diary.records import Resource

__all__ = ["DEFAULT_WORKERS", "check_workers", "read_all", "write_all"]

logger = logging.getLogger(__name__)

#: Transfers in flight at once (the default of ``workers=``).
DEFAULT_WORKERS = 8

T = TypeVar("T")
R = TypeVar("R")


def check_workers(workers: int) -> int:
    """Refuse a pool size below 1.

    Raises:
        InvalidValue: ``workers`` < 1.
    """
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise InvalidValue("workers", str(workers), "must be a whole number of at least 1")
    return workers


def _run_all(
    work: Callable[[T], R], items: Sequence[T], workers: int
) -> tuple[list[R | None], BaseException | None]:
    """``work`` on every item, ``workers`` at a time; every item runs to its end.

    Returns:
        The results in the items' order (None where one failed) and the first error in that
        order, if any.
    """
    if workers == 1 or len(items) <= 1:
        results: list[R | None] = []
        for item in items:
            try:
                results.append(work(item))
            except Exception as err:
                return results + [None] * (len(items) - len(results)), err
        return results, None
    with ThreadPoolExecutor(min(workers, len(items)), thread_name_prefix="diary-io") as pool:
        futures: list[Future[R]] = [pool.submit(work, item) for item in items]
    results = []
    first: BaseException | None = None
    for future in futures:
        error = future.exception()
        results.append(None if error is not None else future.result())
        if error is not None and first is None:
            first = error
    return results, first


def write_all(
    store: AbstractArtifactStore, sources: Sequence[ArtifactSource], workers: int
) -> list[StoredBytes]:
    """Write every source to ``store`` under a fresh key, ``workers`` at a time.

    Returns:
        What was written, in the sources' order.

    Raises:
        Exception: the first failure in the sources' order, after every object this call
            wrote was removed again.
    """
    store.check()  # a missing bucket fails once, before any transfer

    def write(source: ArtifactSource) -> StoredBytes:
        with opened(source) as data:
            return store.write(data)

    stored, error = _run_all(write, sources, workers)
    if error is not None:
        discard_all(store, [item for item in stored if item is not None])
        raise error
    return [item for item in stored if item is not None]


def discard_all(store: AbstractArtifactStore, stored: Sequence[StoredBytes]) -> None:
    """Remove objects no row points at; a failure leaves an orphan (and a warning)."""
    for item in stored:
        if not item.uri:
            continue  # inline bytes exist only in memory until their row is written
        try:
            store.delete(item.uri)
        except Exception as err:
            logger.warning("diary: could not delete %s (an orphan for verify --gc): %s", item, err)


def read_all(
    stores: ArtifactStores, found: Sequence[tuple[Resource, bytes | None]], workers: int
) -> list[bytes]:
    """Read and verify the bytes of every row, ``workers`` at a time.

    Args:
        stores: the resolver (each row is read from the store its own backend and URI name).
        found: rows with their inline bytes (None for external ones).
        workers: transfers at once.

    Returns:
        The bytes in the rows' order.

    Raises:
        NotFound: a row's bytes are missing.
        IntegrityError: a row's bytes do not match its size or SHA-256.
    """

    def read(row: tuple[Resource, bytes | None]) -> bytes:
        return read_verified(stores, *row)

    data, error = _run_all(read, found, workers)
    if error is not None:
        raise error
    return [item for item in data if item is not None]
