"""Many artifacts in one call: written or read concurrently, recorded in one transaction.

A loop of :meth:`~diary.store.artifacts.ArtifactsMixin.log_artifact` pays, per artifact, a
unit of work in the database and a transfer that waits for the previous one. The calls here
move the bytes of all artifacts at once (see :mod:`diary.artifacts.batch`) and open the
database once, with the same guarantees: bytes before rows, verified reads, all or nothing.
"""

from __future__ import annotations

from uuid import UUID, uuid4

from diary.artifacts.batch import DEFAULT_WORKERS, check_workers, discard_all, read_all, write_all
from diary.artifacts.sources import ManySources, guess_media_type, named_sources
from diary.artifacts.table import fetch_many_with_data, insert_resources, iteration_owner
from diary.errors import NotFound
from diary.records import Resource
from diary.store.artifacts import ArtifactsMixin
from diary.store.base import IdLike, as_uuid, require_text
from diary.values import check_text

__all__ = ["ArtifactBatchesMixin"]


class ArtifactBatchesMixin(ArtifactsMixin):
    """Batch artifact operations of the store."""

    def put_artifacts(
        self,
        experiment_id: IdLike,
        sources: ManySources,
        *,
        iteration_id: IdLike | None = None,
        description: str = "",
        workers: int = DEFAULT_WORKERS,
    ) -> list[Resource]:
        """Store many artifacts of an experiment at once: all of them, or none.

        Every artifact's bytes go to the configured store, ``workers`` transfers at a time;
        then one transaction records every row. When a transfer or the transaction fails,
        the bytes already written are removed and nothing is recorded.

        Args:
            experiment_id: the experiment.
            sources: names mapped to sources (file paths, bytes or binary file objects), or
                file paths, each named after its file.
            iteration_id: the iteration they belong to (of the same experiment).
            description: free text, for every one of them.
            workers: transfers at once.

        Returns:
            The new artifacts' records, in the order of ``sources``.

        Raises:
            NotFound: no such experiment or iteration.
            InvalidValue: an empty name, a missing file, an iteration of another experiment,
                or ``workers`` < 1.
            ArtifactTooLarge: an inline artifact over ``DEARDIARY_ARTIFACT_INLINE_MAX_BYTES``.
            BackendUnavailable: the S3 bucket is missing or the endpoint cannot be reached.
        """
        check_workers(workers)
        with self.reading() as conn:
            experiment, iteration = self._artifact_owner(conn, experiment_id, iteration_id)
        return self._put_many(experiment, iteration, sources, description, workers)

    def log_artifacts(
        self,
        iteration_id: IdLike,
        sources: ManySources,
        *,
        description: str = "",
        workers: int = DEFAULT_WORKERS,
    ) -> list[Resource]:
        """Store many artifacts of an iteration at once (see :meth:`put_artifacts`).

        Raises:
            NotFound: no such iteration.
        """
        check_workers(workers)
        iteration = as_uuid("iteration", iteration_id)
        with self.reading() as conn:
            experiment = iteration_owner(conn, iteration)
        if experiment is None:
            raise NotFound("iteration", str(iteration_id))
        return self._put_many(experiment, iteration, sources, description, workers)

    def _put_many(
        self,
        experiment: UUID,
        iteration: UUID | None,
        sources: ManySources,
        description: str,
        workers: int,
    ) -> list[Resource]:
        check_text("description", description)
        named = named_sources(sources)
        for name, _source in named:
            require_text("artifact name", name)
        self._take_object_identity()
        target = self.artifact_stores.current
        stored = write_all(target, [source for _name, source in named], workers)
        records = []
        for (name, _source), item in zip(named, stored, strict=True):
            media = guess_media_type(name)
            record = Resource(
                uuid4(), experiment, iteration, name, description, media, item.backend, item.uri,
                item.size, item.sha256, self.clock.now(), None,
            )  # fmt: skip
            records.append(record)
        try:
            # The owner is checked again as the rows are written (the experiment may have
            # been deleted during the transfers); one missing owner rolls every row back.
            with self.transaction() as conn:
                rows = [(record, item.data) for record, item in zip(records, stored, strict=True)]
                if not insert_resources(conn, experiment, iteration, rows):
                    self._artifact_owner(conn, experiment, iteration)  # raises NotFound
                    raise NotFound("experiment", str(experiment))
        except Exception:
            discard_all(target, stored)
            raise
        return records

    def read_resources_data(
        self, resource_ids: list[IdLike], *, workers: int = DEFAULT_WORKERS
    ) -> list[bytes]:
        """Many artifacts' bytes, read concurrently and each checked (size and SHA-256).

        Args:
            resource_ids: the artifacts (repeats allowed).
            workers: transfers at once.

        Returns:
            The bytes, in the order of ``resource_ids``.

        Raises:
            NotFound: an unknown artifact (before any bytes are read), or missing bytes.
            IntegrityError: an artifact's bytes do not match its row.
            InvalidValue: ``workers`` < 1.
        """
        check_workers(workers)
        keys = [as_uuid("artifact", ident) for ident in resource_ids]
        with self.reading() as conn:
            found = fetch_many_with_data(conn, keys)
        for ident, key in zip(resource_ids, keys, strict=True):
            if key not in found:
                raise NotFound("artifact", str(ident))
        return read_all(self.artifact_stores, [found[key] for key in keys], workers)
