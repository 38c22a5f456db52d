"""Checking artifacts: verify (missing and corrupt bytes, orphans), gc, and relocate.

* :func:`verify_artifacts` re-hashes every artifact (``quick``: existence and size only) and
  lists the objects under the configured roots (the filesystem root, the S3 bucket/prefix)
  that no row points at: the orphans a crash, a failed delete or a cascade leaves behind.
* With ``gc=True`` it deletes orphans older than a grace period. The grace period protects
  uploads in flight: their bytes exist a moment before the row that points at them.
* :func:`relocate_artifacts` rewrites URIs after a root folder or bucket was moved, row by
  row, only where the bytes are found at the new place with the recorded size.
"""

from __future__ import annotations

import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from diary import models as m
from diary.artifacts.rows import iter_resources, with_inline_bytes
from diary.artifacts.stores import StoredObject, normalise_backend
from diary.artifacts.streams import VerifiedStream, location
from diary.artifacts.table import guard
from diary.errors import IntegrityError, NotFound, StorageError
from diary.records import Resource
from storage_core.uri import is_under, join, parse, relative_key

if TYPE_CHECKING:
    from diary.artifacts.host import ArtifactHost

__all__ = [
    "DEFAULT_GC_GRACE",
    "ArtifactProblem",
    "Orphan",
    "RelocateReport",
    "VerifyReport",
    "relocate_artifacts",
    "verify_artifacts",
]

#: Orphans younger than this are kept by gc: they may be uploads whose row is not committed yet.
DEFAULT_GC_GRACE = timedelta(minutes=15)
_PAGE = 500
_CHUNK = 500


@dataclass(frozen=True)
class ArtifactProblem:
    """An artifact whose bytes are missing, corrupt or could not be read.

    Attributes:
        id: the artifact.
        name: its name.
        backend: its backend.
        uri: where its bytes should be (``""`` for inline).
        problem: ``missing``, ``corrupt`` or ``unreadable``.
        detail: the error, one line.
    """

    id: str
    name: str
    backend: str
    uri: str
    problem: str
    detail: str


@dataclass(frozen=True)
class Orphan:
    """Bytes under a configured root that no row points at.

    Attributes:
        uri: where they are.
        modified: their modification time (ISO 8601), if known.
        deleted: removed by this run's gc.
        borrowed: not written by this database (another one sharing the root may use it),
            so gc keeps it unless told otherwise; it does not make the report fail.
    """

    uri: str
    modified: str | None
    deleted: bool = False
    borrowed: bool = False


@dataclass
class VerifyReport:
    """What :func:`verify_artifacts` found.

    Attributes:
        quick: existence and size only (no hashing).
        checked: artifacts checked.
        bytes_checked: bytes read and hashed (0 when quick).
        problems: missing, corrupt and unreadable artifacts.
        orphans: orphaned objects (``deleted`` set for those gc removed).
        roots: the roots scanned for orphans.
    """

    quick: bool
    checked: int = 0
    bytes_checked: int = 0
    problems: list[ArtifactProblem] = field(default_factory=list)
    orphans: list[Orphan] = field(default_factory=list)
    roots: list[str] = field(default_factory=list)

    def of_kind(self, problem: str) -> list[ArtifactProblem]:
        """The problems of one kind (``missing``, ``corrupt``, ``unreadable``)."""
        return [p for p in self.problems if p.problem == problem]

    @property
    def ok(self) -> bool:
        """True when nothing is missing, corrupt or unreadable and no orphan of this
        database is left (objects it did not write may be another database's)."""
        return not self.problems and all(o.deleted or o.borrowed for o in self.orphans)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report."""
        return {
            "ok": self.ok,
            "quick": self.quick,
            "checked": self.checked,
            "bytes_checked": self.bytes_checked,
            "missing": [asdict(p) for p in self.of_kind("missing")],
            "corrupt": [asdict(p) for p in self.of_kind("corrupt")],
            "unreadable": [asdict(p) for p in self.of_kind("unreadable")],
            "orphans": [asdict(o) for o in self.orphans],
            "roots": list(self.roots),
        }

    def summary(self) -> str:
        """The report as one line."""
        deleted = sum(orphan.deleted for orphan in self.orphans)
        borrowed = sum(orphan.borrowed and not orphan.deleted for orphan in self.orphans)
        text = (
            f"checked {self.checked} artifacts: {len(self.of_kind('missing'))} missing, "
            f"{len(self.of_kind('corrupt'))} corrupt, {len(self.of_kind('unreadable'))} "
            f"unreadable, {len(self.orphans)} orphaned"
        )
        text += f" ({deleted} deleted)" if deleted else ""
        if borrowed:
            text += (
                f"; {borrowed} of them not written by this database (kept: another database "
                "may use them; --include-borrowed deletes them)"
            )
        return text


def _check(
    store: ArtifactHost, record: Resource, data: bytes | None, quick: bool
) -> tuple[ArtifactProblem | None, int]:
    """Check one artifact (worker thread, no database): the problem found and bytes hashed."""
    backend = normalise_backend(record.backend)

    def problem(kind: str, err: BaseException | str) -> tuple[ArtifactProblem, int]:
        found = ArtifactProblem(str(record.id), record.name, backend, record.uri, kind, str(err))
        return found, 0

    try:
        artifact_store = store.artifact_stores.for_row(record.backend, record.uri)
        if artifact_store.keeps_bytes_in_row and data is None and record.size_bytes:
            return problem("missing", f"{location(record)} has no bytes")
        if quick:
            size = (
                len(data or b"")
                if artifact_store.keeps_bytes_in_row
                else (artifact_store.size(record.uri))
            )
            if size != record.size_bytes:
                return problem(
                    "corrupt",
                    IntegrityError(location(record), record.size_bytes, size, "size"),
                )
            return None, 0
        stream = VerifiedStream(
            artifact_store.open(record.uri, data),
            location(record),
            record.size_bytes,
            record.content_hash,
        )
        with stream:
            while stream.read(1 << 20):
                pass
        return None, record.size_bytes
    except NotFound as err:
        return problem("missing", err)
    except IntegrityError as err:
        return problem("corrupt", err)
    except StorageError as err:
        return problem("unreadable", err)


def verify_artifacts(
    store: ArtifactHost,
    *,
    quick: bool = False,
    gc: bool = False,
    grace: timedelta = DEFAULT_GC_GRACE,
    workers: int = 4,
    include_borrowed: bool = False,
) -> VerifyReport:
    """Check every artifact's bytes and find orphans under the configured roots.

    Args:
        store: the diary store.
        quick: check existence and size only, without reading the bytes.
        gc: delete orphans older than ``grace`` that this database wrote (see
            :mod:`diary.artifacts.ownership`); the others are reported, never deleted.
        grace: how old an orphan must be for gc to delete it.
        workers: threads checking artifacts concurrently.
        include_borrowed: with ``gc``, delete orphans this database did not write too (only
            for a root no other database uses: a neighbour's or a copy's objects look
            orphaned from here).

    Returns:
        The report; ``report.ok`` is False when anything is wrong.
    """
    report = VerifyReport(quick=quick)
    referenced: set[str] = set()
    lock = threading.Lock()
    pending: deque[Future[tuple[ArtifactProblem | None, int]]] = deque()

    def collect(future: Future[tuple[ArtifactProblem | None, int]]) -> None:
        found, hashed = future.result()
        with lock:
            report.checked += 1
            report.bytes_checked += hashed
            if found is not None:
                report.problems.append(found)

    with ThreadPoolExecutor(max(workers, 1), thread_name_prefix="verify") as pool:
        for record, data in with_inline_bytes(store, iter_resources(store)):
            if record.uri:
                referenced.add(record.uri)
            pending.append(pool.submit(_check, store, record, data, quick))
            while len(pending) > 4 * workers:
                collect(pending.popleft())
        while pending:
            collect(pending.popleft())
    report.problems.sort(key=lambda p: (p.problem, p.id))
    _find_orphans(store, report, referenced, gc=gc, grace=grace, include_borrowed=include_borrowed)
    return report


def _find_orphans(
    store: ArtifactHost,
    report: VerifyReport,
    referenced: set[str],
    *,
    gc: bool,
    grace: timedelta,
    include_borrowed: bool = False,
) -> None:
    cutoff = datetime.now(UTC) - grace
    found: list[tuple[Any, StoredObject]] = []
    for root in store.artifact_stores.configured_roots():
        report.roots.append(root.describe())
        try:
            objects = list(root.list_objects())
        except StorageError as err:
            report.problems.append(
                ArtifactProblem("", "", root.backend, root.describe(), "unreadable", str(err))
            )
            continue
        found.extend((root, obj) for obj in objects if obj.uri not in referenced)
    if gc and found:
        # A row may have started pointing at an object since the scan (a relocation): ask again.
        now_referenced = _referenced_now(store, [obj.uri for _, obj in found])
        for root, obj in found:
            old_enough = (obj.modified is None and not grace) or (
                obj.modified is not None and obj.modified <= cutoff
            )
            deleted = False
            # Only objects this database wrote: the others may belong to a database sharing
            # the root (a neighbour, a copy, the original of this copy), unless the user
            # says explicitly that none does.
            mine = include_borrowed or store._owns_object(obj.uri)
            if old_enough and mine and obj.uri not in now_referenced:
                root.delete_object(obj)
                deleted = True
            borrowed = not store._owns_object(obj.uri)
            report.orphans.append(Orphan(obj.uri, _iso(obj.modified), deleted, borrowed))
        return
    report.orphans.extend(
        Orphan(obj.uri, _iso(obj.modified), borrowed=not store._owns_object(obj.uri))
        for _, obj in found
    )


def _referenced_now(store: ArtifactHost, uris: list[str]) -> set[str]:
    result: set[str] = set()
    with store.reading() as conn:
        for start in range(0, len(uris), _CHUNK):
            chunk = uris[start : start + _CHUNK]
            query = sa.select(m.resource.c.uri).where(m.resource.c.uri.in_(chunk))
            result.update(conn.execute(query).scalars().all())
    return result


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None


@dataclass
class RelocateReport:
    """What :func:`relocate_artifacts` did.

    Attributes:
        old_root: the root that was moved away.
        new_root: where the bytes are now.
        rewritten: rows now pointing under ``new_root``.
        missing: rows left untouched because their bytes were not found (or had another
            size) under ``new_root``.
        dry_run: nothing was written.
    """

    old_root: str
    new_root: str
    rewritten: int = 0
    missing: list[ArtifactProblem] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        """True when every row under the old root was rewritten."""
        return not self.missing

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict of the report."""
        return {
            "ok": self.ok,
            "old_root": self.old_root,
            "new_root": self.new_root,
            "rewritten": self.rewritten,
            "missing": [asdict(p) for p in self.missing],
            "dry_run": self.dry_run,
        }


def relocate_artifacts(
    store: ArtifactHost, old_root: str, new_root: str, *, dry_run: bool = False
) -> RelocateReport:
    """Point rows under ``old_root`` at the same keys under ``new_root``.

    For a filesystem root moved to another folder, or a bucket or prefix renamed (either may
    also change kind: ``relocate /data/artifacts s3://bucket/artifacts``). A row is rewritten
    only when its bytes are found at the new place with the recorded size; others are left
    as they are and reported.

    Args:
        store: the diary store.
        old_root: the old root folder or URI.
        new_root: the new root folder or URI.
        dry_run: check and report without writing.

    Raises:
        InvalidURI: a root cannot be parsed.
        InvalidValue: a root is neither a local path nor an s3:// URI.
    """
    old, new = parse(old_root), parse(new_root)
    report = RelocateReport(str(old), str(new), dry_run=dry_run)
    target_backend = {"file": "filesystem", "s3": "s3"}.get(new.scheme)
    if target_backend is None:
        from diary.errors import InvalidValue

        raise InvalidValue("new root", new_root, "expected a local path or an s3:// URI")
    moves: list[tuple[Resource, str]] = []
    for record in iter_resources(store, m.resource.c.uri != ""):
        try:
            under = is_under(record.uri, old) and parse(record.uri) != old
        except StorageError:
            under = False
        if not under:
            continue
        new_uri = str(join(new, relative_key(old, record.uri)))
        try:
            size = store.artifact_stores.store_for_uri(new_uri).size(new_uri)
        except StorageError as err:
            report.missing.append(_problem(record, new_uri, "missing", str(err)))
            continue
        if size != record.size_bytes:
            detail = f"{new_uri} has {size} bytes, the row records {record.size_bytes}"
            report.missing.append(_problem(record, new_uri, "corrupt", detail))
            continue
        moves.append((record, new_uri))
    if dry_run:
        report.rewritten = len(moves)
        return report
    for start in range(0, len(moves), _PAGE):
        with store.transaction() as conn:
            for record, new_uri in moves[start : start + _PAGE]:
                report.rewritten += conn.execute(
                    sa.update(m.resource)
                    .where(*guard(record))
                    .values(uri=new_uri, backend=target_backend, updated_at=store.clock.now())
                ).rowcount
    return report


def _problem(record: Resource, uri: str, kind: str, detail: str) -> ArtifactProblem:
    return ArtifactProblem(
        str(record.id), record.name, normalise_backend(record.backend), uri, kind, detail
    )
