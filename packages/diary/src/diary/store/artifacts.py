"""Artifacts in the store: log, put, read, open, replace and delete, in a crash-safe order.

The rules that keep a row and its bytes consistent whatever fails in between:

* **New bytes are written before the row points at them.** Create and replace write to a
  fresh key first and commit the row afterwards; if the commit never happens, the bytes are
  an orphan (removed on the spot when the failure is an ordinary exception, else found by
  ``verify --gc``), never a row pointing at missing bytes.
* **Old bytes are deleted only after the row no longer points at them**: replace and delete
  commit first and remove the old bytes afterwards. A failure there leaves an orphan too.
* **Reads and deletes dispatch on the row's own ``backend`` and ``uri``**, never on the
  configured store, so rows written under another ``DEARDIARY_ARTIFACT_BACKEND`` keep working.
* **Reads verify size and SHA-256 while streaming** and raise
  :class:`~storage_core.errors.IntegrityError` on a mismatch.
"""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO, cast
from uuid import UUID, uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.artifacts.resolver import ArtifactStores
from diary.artifacts.sources import ArtifactSource, default_name, guess_media_type, opened
from diary.artifacts.stores import StoredBytes, normalise_backend
from diary.artifacts.streams import open_verified, read_verified
from diary.artifacts.table import (
    META_COLUMNS,
    delete_blob,
    fetch_meta,
    fetch_with_data,
    insert_iteration_resource,
    insert_resource,
    iteration_owner,
    resource_record,
    switch_resource,
)
from diary.errors import InvalidValue, NotFound, ReferencedError, StorageError
from diary.records import Resource
from diary.store.base import IdLike, as_uuid, require_text
from diary.store.iterations import IterationsMixin
from diary.values import check_text
from storage_core.blobs.localfs import atomic_write
from storage_core.hashing import iter_chunks

__all__ = ["META_COLUMNS", "ArtifactSource", "ArtifactsMixin", "resource_record"]

logger = logging.getLogger(__name__)


class ArtifactsMixin(IterationsMixin):
    """Artifact operations of the store (see the module docstring for the guarantees)."""

    _artifact_stores: ArtifactStores | None = None

    @property
    def artifact_stores(self) -> ArtifactStores:
        """The artifact stores of this store's settings (opened lazily, closed with the store)."""
        if self._artifact_stores is None:
            self._artifact_stores = ArtifactStores(self.settings)
        return self._artifact_stores

    # The identity that owns this database's artifact objects (diary.artifacts.ownership):
    # taken before the first write of bytes, looked up (never written) before a delete.
    _object_identity: UUID | None = None
    _object_identity_looked_up = False

    def _take_object_identity(self, backend: str | None = None) -> None:
        """Make sure new objects of ``backend`` (default: the configured one) go under this
        database's own identity, taking one if it has none or is a copy or a moved file.
        Inline bytes live in the database itself and need none."""
        backend = normalise_backend(backend or self.settings.artifact_backend)
        if self._object_identity is not None or backend == "inline":
            return
        # An unreachable bucket fails here, before the database records anything.
        self.artifact_stores.configured(backend).check()
        from diary.artifacts.ownership import database_location, take_identity

        with self.transaction() as conn:
            owner = take_identity(conn, database_location(self.settings))
        self._object_identity = owner
        self.artifact_stores.set_owner(owner)

    def _owns_object(self, uri: str) -> bool:
        """Whether this database wrote the object at ``uri`` (and so may delete it)."""
        from diary.artifacts.ownership import database_location, find_identity, is_owned

        if self._object_identity is None and not self._object_identity_looked_up:
            with self.reading() as conn:
                self._object_identity = find_identity(conn, database_location(self.settings))
            self._object_identity_looked_up = True
        return is_owned(uri, self._object_identity)

    def _close_artifact_stores(self) -> None:
        if self._artifact_stores is not None:
            self._artifact_stores.close()
            self._artifact_stores = None

    # -- writing ------------------------------------------------------------------------------

    def put_artifact(
        self,
        experiment_id: IdLike,
        source: ArtifactSource,
        *,
        name: str | None = None,
        iteration_id: IdLike | None = None,
        description: str = "",
        media_type: str | None = None,
    ) -> Resource:
        """Store an artifact of an experiment (optionally of one of its iterations).

        The bytes go to the configured store (``DEARDIARY_ARTIFACT_BACKEND``), streamed for
        the filesystem and S3, before the row that points at them is committed.

        Args:
            experiment_id: the experiment.
            source: a file path, bytes, or a binary file object (read to its end).
            name: the artifact's name (default: the file name of a path source); metadata
                only, never part of a storage path.
            iteration_id: the iteration it belongs to (of the same experiment).
            description: free text.
            media_type: e.g. ``application/json`` (default: guessed from the name).

        Returns:
            The new artifact's record.

        Raises:
            NotFound: no such experiment or iteration.
            InvalidValue: no name, a missing file, or an iteration of another experiment.
            ArtifactTooLarge: an inline artifact over ``DEARDIARY_ARTIFACT_INLINE_MAX_BYTES``.
            BackendUnavailable: the S3 bucket is missing or the endpoint cannot be reached.
        """
        with self.reading() as conn:
            experiment, iteration = self._artifact_owner(conn, experiment_id, iteration_id)
        return self._put(experiment, iteration, source, name, description, media_type)

    def _put(
        self,
        experiment: UUID | None,
        iteration: UUID | None,
        source: ArtifactSource,
        name: str | None,
        description: str,
        media_type: str | None,
    ) -> Resource:
        """Write the bytes, then record the row that points at them (owner checked again).

        ``experiment`` None: the iteration's, looked up in the transaction of an inline row.
        """
        if name is None:
            name = default_name(source)
        name = require_text("artifact name", name or "")
        check_text("description", description)
        media = media_type or guess_media_type(name)
        self._take_object_identity()
        with opened(source) as data:
            stored = self.artifact_stores.current.write(data)
        resource_id, created = uuid4(), self.clock.now()

        def row(owner: UUID) -> Resource:
            return Resource(
                resource_id, owner, iteration, name, description, media, stored.backend,
                stored.uri, stored.size, stored.sha256, created, None,
            )  # fmt: skip

        with self._discarding_on_failure(stored):
            # The owner is checked again as the row is written: DuckDB has no foreign keys,
            # and the experiment may have been deleted while the bytes were uploading.
            if stored.data is None and self.is_duckdb and experiment is None and iteration:
                # One autocommitted statement that finds the iteration's experiment too.
                with self.reading() as conn:
                    experiment = insert_iteration_resource(conn, row(iteration))
                if experiment is None:
                    raise NotFound("iteration", str(iteration))
                return row(experiment)
            if stored.data is None and self.is_duckdb and experiment is not None:
                # One autocommitted statement, no transaction around it.
                with self.reading() as conn:
                    written = insert_resource(conn, record := row(experiment), None)
            else:
                with self.transaction() as conn:  # the row and its bytes commit together
                    if experiment is None:
                        experiment = iteration_owner(conn, iteration) if iteration else None
                        if experiment is None:
                            raise NotFound("iteration", str(iteration))
                    written = insert_resource(conn, record := row(experiment), stored.data)
            if not written:
                with self.reading() as conn:
                    self._artifact_owner(conn, experiment, iteration)  # raises NotFound
                raise NotFound("experiment", str(experiment))
        return record

    def log_artifact(
        self,
        iteration_id: IdLike,
        source: ArtifactSource,
        *,
        name: str | None = None,
        description: str = "",
        media_type: str | None = None,
    ) -> Resource:
        """Store an artifact of an iteration (see :meth:`put_artifact`).

        Raises:
            NotFound: no such iteration.
        """
        iteration = as_uuid("iteration", iteration_id)
        if self.artifact_stores.current.local:
            # Inline or on this machine's disk: the owner is found as the row is written (one
            # unit of work instead of two); bytes written for a missing iteration are removed.
            return self._put(None, iteration, source, name, description, media_type)
        with self.reading() as conn:
            experiment = iteration_owner(conn, iteration)
        if experiment is None:
            raise NotFound("iteration", str(iteration_id))
        return self._put(experiment, iteration, source, name, description, media_type)

    def replace_artifact(self, resource_id: IdLike, source: ArtifactSource) -> Resource:
        """Replace an artifact's bytes, keeping its id, name and references.

        The new bytes go to the configured store and the row's ``backend`` follows them
        (DearDiary.jl kept the old backend, its defect 3). The old bytes are removed after
        the row points at the new ones.

        Raises:
            NotFound: no such artifact.
            StorageError: the artifact changed while the new bytes were being written.
        """
        old = self.get_resource(resource_id)
        self._take_object_identity()
        with opened(source) as data:
            stored = self.artifact_stores.current.write(data)
        with self._discarding_on_failure(stored), self.transaction() as conn:
            if not switch_resource(conn, old, stored, self.clock.now()):
                raise StorageError(
                    f"artifact {old.id} changed while it was being replaced; try again"
                )
            record = self.fetch_meta(conn, old.id)
        self._discard_bytes(old.backend, old.uri)
        return record

    def update_resource(
        self,
        resource_id: IdLike,
        *,
        name: str | None = None,
        description: str | None = None,
        media_type: str | None = None,
    ) -> Resource:
        """Change an artifact's metadata (None leaves a field as is); the bytes stay.

        Raises:
            NotFound: no such artifact.
            InvalidValue: an empty name.
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = require_text("artifact name", name)
        if description is not None:
            changes["description"] = check_text("description", description)
        if media_type is not None:
            changes["media_type"] = require_text("media type", media_type)
        with self.transaction() as conn:
            record = self.fetch_meta(conn, resource_id)
            changes = {k: v for k, v in changes.items() if getattr(record, k) != v}
            if changes:
                changes["updated_at"] = self.clock.now()
                conn.execute(
                    sa.update(m.resource).where(m.resource.c.id == record.id).values(**changes)
                )
                record = self.fetch_meta(conn, record.id)
            return record

    def delete_resource(self, resource_id: IdLike) -> Resource:
        """Delete an artifact: the row first, then its bytes.

        Returns:
            The deleted artifact's record.

        Raises:
            NotFound: no such artifact.
            ReferencedError: a model version refers to it (the bytes are kept).
        """
        with self.transaction() as conn:
            record = self.fetch_meta(conn, resource_id)
            version = conn.execute(
                sa.select(m.model_version.c.version, m.model.c.name)
                .join(m.model, m.model.c.id == m.model_version.c.model_id)
                .where(m.model_version.c.resource_id == record.id)
                .order_by(m.model.c.name, m.model_version.c.version)
                .limit(1)
            ).all()
            if version:
                raise ReferencedError(
                    "artifact",
                    str(record.id),
                    f"version {version[0].version} of model {version[0].name!r} refers to it; "
                    "delete that model version first",
                )
            delete_blob(conn, record.id)
            conn.execute(sa.delete(m.resource).where(m.resource.c.id == record.id))
        self._discard_bytes(record.backend, record.uri)
        return record

    # -- reading ------------------------------------------------------------------------------

    def get_resource(self, resource_id: IdLike) -> Resource:
        """An artifact's metadata (its bytes are not loaded).

        Raises:
            NotFound: no such artifact.
        """
        with self.reading() as conn:
            return self.fetch_meta(conn, resource_id)

    def list_resources(
        self, experiment_id: IdLike, *, iteration_id: IdLike | None = None
    ) -> list[Resource]:
        """The artifacts of an experiment (or of one of its iterations), oldest first.

        Raises:
            NotFound: no such experiment or iteration.
        """
        table = m.resource
        with self.reading() as conn:
            experiment = self.require_row(conn, m.experiment, "experiment", experiment_id)
            query = sa.select(*META_COLUMNS).where(table.c.experiment_id == experiment)
            if iteration_id is not None:
                iteration = self.require_row(conn, m.iteration, "iteration", iteration_id)
                query = query.where(table.c.iteration_id == iteration)
            rows = conn.execute(query.order_by(table.c.created_at, table.c.id)).all()
        return [resource_record(row) for row in rows]

    def open_artifact(self, resource_id: IdLike) -> BinaryIO:
        """Open an artifact's bytes as a readable stream; close it when done.

        Size and SHA-256 are checked while reading: reading to the end raises
        :class:`~storage_core.errors.IntegrityError` when the bytes do not match the row.
        The filesystem and S3 are streamed; inline bytes are loaded with the row.

        Raises:
            NotFound: no such artifact, or its bytes are missing.
            BackendUnavailable: the S3 endpoint cannot be reached.
        """
        return cast(BinaryIO, open_verified(self.artifact_stores, *self._with_data(resource_id)))

    def read_resource_data(self, resource_id: IdLike) -> bytes:
        """An artifact's bytes, checked against the row's size and SHA-256.

        Raises:
            NotFound: no such artifact, or its bytes are missing.
            IntegrityError: the bytes do not match the row.
        """
        return read_verified(self.artifact_stores, *self._with_data(resource_id))

    def save_artifact(self, resource_id: IdLike, dest: str | os.PathLike[str]) -> Path:
        """Write an artifact's bytes to a local file, atomically and checked.

        The file appears only once every byte was read and verified; a mismatch leaves no
        file (and an existing one untouched).

        Raises:
            NotFound: no such artifact, or its bytes are missing.
            IntegrityError: the bytes do not match the row.
        """
        target = Path(dest).expanduser().absolute()
        with self.open_artifact(resource_id) as stream:
            atomic_write(target, iter_chunks(stream))
        return target

    # -- helpers ------------------------------------------------------------------------------

    def _with_data(self, resource_id: IdLike) -> tuple[Resource, bytes | None]:
        """The artifact's row and its inline bytes (None for external ones), in one query.

        Raises:
            NotFound: no such artifact.
        """
        with self.reading() as conn:
            found = fetch_with_data(conn, as_uuid("artifact", resource_id))
        if found is None:
            raise NotFound("artifact", str(resource_id))
        return found

    def fetch_meta(self, conn: Connection, resource_id: IdLike) -> Resource:
        """The artifact's record (its ``resource`` row, without bytes).

        Raises:
            NotFound: no such artifact.
        """
        record = fetch_meta(conn, as_uuid("artifact", resource_id))
        if record is None:
            raise NotFound("artifact", str(resource_id))
        return record

    def _artifact_owner(
        self, conn: Connection, experiment_id: IdLike, iteration_id: IdLike | None
    ) -> tuple[UUID, UUID | None]:
        experiment = self.require_row(conn, m.experiment, "experiment", experiment_id)
        if iteration_id is None:
            return experiment, None
        row = self.fetch_row(conn, m.iteration, "iteration", iteration_id)
        if row.experiment_id != experiment:
            raise InvalidValue("iteration", str(iteration_id), "belongs to another experiment")
        return experiment, row.id

    @contextlib.contextmanager
    def _discarding_on_failure(self, stored: StoredBytes) -> Iterator[None]:
        """Remove freshly written bytes when the block that records them fails.

        Only ordinary exceptions: after an interrupt the commit may have happened, and
        removing the bytes then would leave a row pointing at nothing. An orphan is the
        safe leftover (``verify --gc`` removes it).
        """
        try:
            yield
        except Exception:
            self._discard_bytes(stored.backend, stored.uri)
            raise

    def _discard_bytes(self, backend: str, uri: str) -> None:
        """Delete bytes no row points at any more, if this database wrote them (another
        database may still use the others); a failure leaves an orphan and a warning."""
        if not uri or normalise_backend(backend) == "inline":
            return
        if not self._owns_object(uri):
            logger.info("diary: kept %s: this database did not write it (borrowed)", uri)
            return
        try:
            self.artifact_stores.for_row(backend, uri).delete(uri)
        except Exception as err:
            logger.warning("diary: could not delete %s (an orphan for verify --gc): %s", uri, err)
