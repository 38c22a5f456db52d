"""Runs: the ``with store.iteration(...)`` context and the handle it yields.

The handle logs parameters, metrics and artifacts, so this part sits above every other part
of the store that it calls.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.artifacts.batch import DEFAULT_WORKERS
from diary.enums import IterationStatus
from diary.store.artifact_batches import ArtifactBatchesMixin

if TYPE_CHECKING:
    from diary.artifacts.sources import ArtifactSource, ManySources
    from diary.environment import EnvironmentSnapshot
    from diary.records import Iteration, Resource
    from diary.store.base import IdLike

__all__ = ["ActiveIteration", "RunsMixin"]

logger = logging.getLogger(__name__)


class ActiveIteration:
    """The handle ``store.iteration()`` yields: log to the running iteration without its id.

    Attributes:
        id: the iteration's id.
        store: the store it logs through.
    """

    def __init__(self, store: RunsMixin, iteration_id: UUID) -> None:
        self.id = iteration_id
        self.store = store

    def log_metric(self, key: str, value: float, step: int | None = None) -> int:
        """Log one metric point (see :meth:`Store.log_metric`)."""
        return self.store.log_metric(self.id, key, value, step)

    def log_metrics(self, metrics: Mapping[str, Any], step: int | None = None) -> dict[str, int]:
        """Log several metrics at one step (see :meth:`Store.log_metrics`)."""
        return self.store.log_metrics(self.id, metrics, step)

    def log_param(self, key: str, value: Any) -> None:
        """Log one parameter (see :meth:`Store.log_param`)."""
        self.store.log_param(self.id, key, value)

    def log_params(self, params: Mapping[str, Any]) -> None:
        """Log parameters (see :meth:`Store.log_params`)."""
        self.store.log_params(self.id, params)

    def log_artifact(
        self,
        source: ArtifactSource,
        *,
        name: str | None = None,
        description: str = "",
        media_type: str | None = None,
    ) -> Resource:
        """Store an artifact of this iteration (see :meth:`Store.log_artifact`)."""
        return self.store.log_artifact(
            self.id, source, name=name, description=description, media_type=media_type
        )

    def log_artifacts(
        self, sources: ManySources, *, workers: int = DEFAULT_WORKERS
    ) -> list[Resource]:
        """Store many artifacts of this iteration at once (see :meth:`Store.log_artifacts`)."""
        return self.store.log_artifacts(self.id, sources, workers=workers)

    def child(self, *, notes: str = "") -> contextlib.AbstractContextManager[ActiveIteration]:
        """A child iteration (a fold, a sweep member, a worker) of this one."""
        experiment = self.record().experiment_id
        return self.store.iteration(experiment, parent=self.id, notes=notes)

    def record(self) -> Iteration:
        """The iteration as stored now."""
        return self.store.get_iteration(self.id)


class RunsMixin(ArtifactBatchesMixin):
    """The ``store.iteration()`` context: an iteration that ends with the block."""

    @contextlib.contextmanager
    def iteration(
        self,
        experiment_id: IdLike,
        parent: IdLike | None = None,
        *,
        notes: str = "",
        tags: Iterable[str] = (),
        snapshot: EnvironmentSnapshot | bool = True,
    ) -> Iterator[ActiveIteration]:
        """Run an iteration: succeeded on a clean exit, failed with the exception text on an
        exception, killed on KeyboardInterrupt. The exception is re-raised.

        Example::

            with store.iteration(experiment.id) as it:
                it.log_param("lr", 0.1)
                for step in range(100):
                    it.log_metric("loss", train_one_epoch())
        """
        record = self.create_iteration(
            experiment_id, parent=parent, notes=notes, tags=tags, snapshot=snapshot
        )
        try:
            yield ActiveIteration(self, record.id)
        except BaseException as err:
            self._finish(record.id, *_outcome(err))
            raise
        self._finish(record.id, IterationStatus.SUCCEEDED, None)

    def _finish(self, iteration: UUID, status: IterationStatus, error: str | None) -> None:
        """End the context's iteration; a failing final flush fails a clean iteration.

        The last buffered points and the end of the iteration are one transaction: one commit
        per iteration instead of two, and whoever sees it ended sees all it logged.
        """
        ended_at = self.clock.now()

        def end(conn: Connection) -> set[UUID]:
            ended = conn.execute(
                sa.update(m.iteration)
                .where(m.iteration.c.id == iteration)
                .values(status=status.value, error_message=error or "", ended_at=ended_at)
            )
            # The update found the row, so its points need no lookup (no RETURNING: on DuckDB
            # it counts as updating the indexed id of a referenced row).
            return {iteration} if ended.rowcount == 1 else set()

        try:
            self._buffer.flush(also=end)
            return
        except Exception as err:
            if status is IterationStatus.SUCCEEDED:
                self.update_iteration(
                    iteration,
                    status=IterationStatus.FAILED,
                    error_message=_describe(err),
                    flush=False,
                )
                raise
            logger.warning("diary: could not flush iteration %s: %s", iteration, err)
        self.update_iteration(iteration, status=status, error_message=error, flush=False)


def _outcome(err: BaseException) -> tuple[IterationStatus, str | None]:
    if isinstance(err, KeyboardInterrupt):
        return IterationStatus.KILLED, "KeyboardInterrupt"
    if isinstance(err, SystemExit):
        if err.code in (None, 0):
            return IterationStatus.SUCCEEDED, None
        return IterationStatus.FAILED, _describe(err)
    if isinstance(err, Exception):
        return IterationStatus.FAILED, _describe(err)
    return IterationStatus.KILLED, _describe(err)


def _describe(err: BaseException) -> str:
    text = str(err)
    return f"{type(err).__name__}: {text}" if text else type(err).__name__
