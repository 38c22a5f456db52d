"""``migrate_artifacts``: move artifact bytes between the inline, filesystem and S3 stores.

A step of storage_core's migration framework (:mod:`storage_core.migration`), one row per
item, in the crash-safe order of ARCHITECTURE.md:

1. ``prepare`` (worker thread): read the source bytes, write them to the target under a NEW
   key and check size and SHA-256 against the row while they stream (a row without a hash,
   from DearDiary.jl days, gets the hash of what was read). Inline bytes are read with the
   candidates, on the calling thread: DuckDB connections opened concurrently from several
   threads of one process collide ("Unique file handle conflict").
2. ``apply`` (calling thread, one small transaction): point the row at the copy, guarded by
   ``WHERE id, backend, uri, content_hash, size_bytes`` still being what was read; no row
   updated means someone else changed it first (:class:`ItemAlreadyDone`, the copy is removed).
3. ``finish`` (worker thread): delete the source bytes (external sources, unless kept).

Inline bytes live in their own table (``resource_blob``, see migration 0002): a row leaving
inline deletes its bytes row in the switch's transaction, a row entering inline inserts one.
Neither touches a BLOB column of ``resource``, which on DuckDB made the next checkpoint rewrite
every inline byte (0.4-0.7 s per checkpoint with 200 MiB inline). At the end of a run,
:func:`clear_stale_inline_bytes` removes bytes rows whose artifact is no longer inline (none
unless an older version left some).

Killed before the commit, the row still points at the source and the copy is an orphan;
killed after it, the row points at the copy and the source bytes are an orphan. Either way no
row points at missing bytes, a rerun finishes the job, and ``verify --gc`` removes orphans.
A row that fails (network, permission, checksum) is left untouched and reported.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import sqlalchemy as sa

from diary import models as m
from diary.artifacts.rows import iter_resources, with_inline_bytes
from diary.artifacts.stores import BACKENDS, StoredBytes, normalise_backend
from diary.artifacts.streams import open_verified
from diary.artifacts.table import META_COLUMNS, switch_resource
from diary.errors import InvalidValue
from diary.records import Resource
from storage_core.migration import (
    ItemAlreadyDone,
    ItemOutcome,
    MigrationReport,
    MigrationStep,
    ProgressEvent,
    run,
)

if TYPE_CHECKING:
    from diary.artifacts.host import ArtifactHost

__all__ = ["ArtifactMigration", "migrate_artifacts"]

# Row values a source backend may have: "sqlite" is the old name of inline.
_STORED_AS = {"inline": ("inline", "sqlite"), "filesystem": ("filesystem",), "s3": ("s3",)}


@dataclass(frozen=True)
class _Row:
    """A candidate: the row's metadata, and its bytes when they are inline."""

    record: Resource
    data: bytes | None = None


@dataclass(frozen=True)
class _Copy:
    """What prepare produced: the bytes at the target, and the hash to record."""

    stored: StoredBytes


class ArtifactMigration(MigrationStep[_Row, _Copy]):
    """Move the rows of one or every backend to a target store.

    Args:
        store: the diary store (its database and artifact settings).
        target: ``inline``, ``filesystem`` or ``s3``.
        sources: the backends whose rows move (never the target itself).
        delete_source: delete the source bytes after a row moved (external sources).
    """

    name = "migrate-artifacts"

    def __init__(
        self,
        store: ArtifactHost,
        target: str,
        sources: tuple[str, ...],
        *,
        delete_source: bool = True,
    ) -> None:
        self.store = store
        self.target = target
        self.sources = sources
        self.delete_source = delete_source
        self._values = [value for source in sources for value in _STORED_AS[source]]

    def _query(self) -> sa.Select[tuple[object, ...]]:
        return sa.select(*META_COLUMNS).where(m.resource.c.backend.in_(self._values))

    def count(self) -> int | None:
        """The number of rows to look at (for the progress bar)."""
        with self.store.reading() as conn:
            query = sa.select(sa.func.count()).select_from(self._query().subquery())
            return int(conn.execute(query).scalar_one())

    def candidates(self) -> Iterator[_Row]:
        """Rows on a source backend, with their inline bytes (bounded groups, calling thread)."""
        rows = iter_resources(self.store, m.resource.c.backend.in_(self._values))
        for record, data in with_inline_bytes(self.store, rows):
            yield _Row(record, data)

    def is_done(self, item: _Row) -> bool:
        """Candidates are never on the target; a row changed meanwhile is caught by apply's
        guard, so this needs no database round trip."""
        return normalise_backend(item.record.backend) == self.target

    def describe(self, item: _Row) -> str:
        """``<id> <name> <backend> -> <target>``."""
        record = item.record
        return f"{record.id} {record.name!r} {normalise_backend(record.backend)} -> {self.target}"

    def size(self, item: _Row) -> int | None:
        """The recorded size."""
        return item.record.size_bytes

    def prepare(self, item: _Row) -> _Copy:
        """Copy the bytes to a new key of the target, verified (worker thread, no database)."""
        stores = self.store.artifact_stores
        target = stores.configured(self.target)
        with open_verified(stores, item.record, item.data) as stream:
            stored = target.write(stream)
        return _Copy(stored)

    def apply(self, item: _Row, prepared: _Copy) -> ItemOutcome:
        """Point the row at the copy in one guarded transaction (calling thread).

        Leaving inline, ``data`` is not touched here (see the module docstring): the sweep
        at the end of the run clears it.
        """
        stored = prepared.stored
        with self.store.transaction() as conn:
            # The bytes row follows the pointer in the same transaction: deleting one
            # resource_blob row costs milliseconds (the UPDATE of a BLOB column it replaced
            # rewrote every inline byte at the next checkpoint).
            if not switch_resource(conn, item.record, stored, self.store.clock.now()):
                raise ItemAlreadyDone()
        return ItemOutcome(bytes=stored.size, records=1)

    def finish(self, item: _Row, prepared: _Copy) -> None:
        """Delete the source bytes now that no row points at them (worker thread)."""
        record = item.record
        external = record.uri and normalise_backend(record.backend) != "inline"
        # Bytes another database may still point at (a copy's, a neighbour's, or written
        # before identities) stay where they are: this database did not write them.
        if self.delete_source and external and self.store._owns_object(record.uri):
            self.store.artifact_stores.for_row(record.backend, record.uri).delete(record.uri)

    def cleanup(self, item: _Row, prepared: _Copy | None) -> None:
        """Remove this run's copy after a failure or a skip (it has a fresh key: no row
        points at it)."""
        if prepared is not None and prepared.stored.uri:
            stored = prepared.stored
            self.store.artifact_stores.for_row(stored.backend, stored.uri).delete(stored.uri)


def _choose(to: str | None, from_backend: str, store: ArtifactHost) -> tuple[str, tuple[str, ...]]:
    target = normalise_backend(to or store.settings.artifact_backend)
    choices = ", ".join(BACKENDS)
    if from_backend == "any":
        return target, tuple(b for b in BACKENDS if b != target)
    if from_backend not in BACKENDS and from_backend != "sqlite":
        raise InvalidValue("source backend", from_backend, f"expected one of {choices}, any")
    source = normalise_backend(from_backend)
    if source == target:
        raise InvalidValue(
            "source backend", from_backend, f"is the target; nothing moves from {target} to itself"
        )
    return target, (source,)


def migrate_artifacts(
    store: ArtifactHost,
    to: str | None = None,
    from_backend: str = "inline",
    *,
    dry_run: bool = False,
    workers: int = 4,
    delete_source: bool = True,
    progress: Callable[[ProgressEvent], None] | None = None,
) -> MigrationReport:
    """Move artifact rows (and their bytes) to another store; safe to rerun and to kill.

    Args:
        store: the diary store.
        to: ``inline``, ``filesystem`` or ``s3`` (default: the configured backend).
        from_backend: the backend whose rows move, or ``any`` for every row not on the target.
        dry_run: only report what would move.
        workers: threads copying bytes (database writes stay on the calling thread).
        delete_source: delete the source bytes of moved rows (external sources; inline
            bytes always go with the row update).
        progress: called once per row that reached its end state.

    Returns:
        The report: planned, done (moved), skipped, failed with reasons, bytes moved.

    Raises:
        InvalidValue: an unknown backend, or a source equal to the target.
    """
    target, sources = _choose(to, from_backend, store)
    if not dry_run:
        # Fail fast on an unusable target (a missing bucket) instead of once per row.
        store.artifact_stores.configured(target).check()
        store._take_object_identity(target)
    step = ArtifactMigration(store, target, sources, delete_source=delete_source)
    report = run(step, dry_run=dry_run, workers=workers, progress=progress)
    if not dry_run:
        clear_stale_inline_bytes(store)
    return report


def clear_stale_inline_bytes(store: ArtifactHost) -> int:
    """Delete inline bytes of rows that are no longer inline, in one statement.

    Returns:
        The number of bytes rows removed.
    """
    blob, table = m.resource_blob, m.resource
    still_inline = sa.select(table.c.id).where(table.c.backend.in_(_STORED_AS["inline"]))
    with store.transaction() as conn:
        return int(
            conn.execute(sa.delete(blob).where(blob.c.resource_id.not_in(still_inline))).rowcount
        )
