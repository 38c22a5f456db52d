"""The diary store: one object with the whole library API over one metadata database.

It is assembled from one part per concern (projects, experiments, iterations, logging, reads,
tags, the model registry); :func:`open_store` (``diary.open``) builds it from the settings,
creating or upgrading the schema on first use.
"""

from __future__ import annotations

import os
from types import TracebackType
from typing import TYPE_CHECKING

from diary.store.base import MonotonicClock
from diary.store.registry import RegistryMixin
from diary.store.runs import RunsMixin
from diary.store.tags import TagsMixin
from diary.store.writers import MetricWriter, choose_writer

if TYPE_CHECKING:
    from collections.abc import Callable

    from sqlalchemy.engine import Engine

    from diary.config import Settings
    from storage_core.migration import MigrationReport, ProgressEvent

__all__ = ["Store", "open_store"]


class Store(RunsMixin, RegistryMixin, TagsMixin):
    """diary's library API over one database.

    Artifacts (bytes inline, on disk or in S3) are described in :mod:`diary.artifacts`.

    Create it with :func:`diary.open`. Methods are units of work: each opens the database,
    does its work in one transaction and releases the file. Logging is buffered (see
    :meth:`log_metric`); :meth:`close` (or leaving a ``with`` block) writes what is left.

    Args:
        settings: the validated settings.
        engine: the engine to use (default: built from the settings).
        buffered: buffer ``log_*`` calls (default) or write each call durably.
        metric_writer: how metric batches are written: ``auto`` (Arrow on DuckDB when
            pyarrow is installed, else DuckDB's Appender; COPY on PostgreSQL; SQLAlchemy Core
            elsewhere) or one of ``arrow``, ``appender``, ``copy``, ``core``.
        prepare: create or upgrade the schema now (default).
    """

    def __init__(
        self,
        settings: Settings,
        *,
        engine: Engine | None = None,
        buffered: bool = True,
        metric_writer: MetricWriter = "auto",
        prepare: bool = True,
    ) -> None:
        from diary.schema import create_engine, ensure_ready

        self.settings = settings
        self.engine = engine if engine is not None else create_engine(settings)
        self.clock = MonotonicClock()
        if prepare:
            ensure_ready(self.engine, settings)
        self._init_tracking(
            buffered=buffered, metric_writer=choose_writer(metric_writer, self.engine.dialect.name)
        )
        self._closed = False

    def __repr__(self) -> str:
        return f"<diary.Store {self.settings.describe()}>"

    def close(self) -> None:
        """Write buffered logging, stop the flush thread and release the engine."""
        if self._closed:
            return
        try:
            self._buffer.close()
        finally:
            self._close_artifact_stores()
            self._closed = True
            # A closed store has no flush thread and no exit hook: any later logging call
            # writes through at once instead of sitting in a buffer nobody flushes.
            self.buffered = False
            self.engine.dispose()

    def migrate_artifacts(
        self,
        to: str | None = None,
        from_backend: str = "inline",
        *,
        dry_run: bool = False,
        workers: int = 4,
        delete_source: bool = True,
        progress: Callable[[ProgressEvent], None] | None = None,
    ) -> MigrationReport:
        """Move artifacts to another backend (default: the configured one); safe to rerun.

        See :func:`diary.artifacts.migrate_artifacts`, which this calls with this store.
        """
        from diary.artifacts import migrate_artifacts

        return migrate_artifacts(
            self,
            to,
            from_backend,
            dry_run=dry_run,
            workers=workers,
            delete_source=delete_source,
            progress=progress,
        )

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def open_store(
    path: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    env_file: str | os.PathLike[str] | None = None,
    buffered: bool = True,
    metric_writer: MetricWriter = "auto",
) -> Store:
    """Open (creating and migrating on first use) a diary database.

    Args:
        path: a DuckDB file; overrides ``DEARDIARY_DB_FILE`` and ``DEARDIARY_DB_URL``.
        url: any SQLAlchemy URL; overrides everything else.
        env_file: a ``.env`` file with ``DEARDIARY_*`` settings (the environment wins).
        buffered: buffer logging calls (default) or write each one durably.
        metric_writer: see :class:`Store`.

    Returns:
        The store; use it as a context manager or call :meth:`Store.close`.

    Raises:
        ConfigError: an invalid setting (the message names the variable).
        ForeignDatabase: the file is a SQLite database, a DearDiary.jl database or not ours.
        SchemaTooNew: the database was written by a newer diary.
        DatabaseLocked: another process held the file longer than the lock timeout.
    """
    from diary.config import load_settings

    settings = load_settings(env_file=env_file, db_file=path, db_url=url)
    return Store(settings, buffered=buffered, metric_writer=metric_writer)
