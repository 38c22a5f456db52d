"""diary: experiment tracking storage in the design of DearDiary.jl.

``import diary`` is light: the store (SQLAlchemy, DuckDB, alembic) loads on the first call of
:func:`open`.

Example::

    import diary

    with diary.open("deardiary.db") as store:
        project = store.get_or_create_project("mnist")
        experiment = store.get_or_create_experiment(project.id, "baseline")
        with store.iteration(experiment.id) as it:
            it.log_param("lr", 0.01)
            it.log_metric("loss", 0.25)
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from diary.store import Store
    from diary.store.writers import MetricWriter

__version__ = "0.1.0"
__all__ = ["Store", "__version__", "open"]


def open(
    path: str | os.PathLike[str] | None = None,
    *,
    url: str | None = None,
    env_file: str | os.PathLike[str] | None = None,
    buffered: bool = True,
    metric_writer: MetricWriter = "auto",
) -> Store:
    """Open a diary database, creating and migrating it on first use.

    Args:
        path: a DuckDB file (default: ``DEARDIARY_DB_FILE``, else ``./deardiary.db``).
        url: any SQLAlchemy URL (default: ``DEARDIARY_DB_URL``); wins over ``path``.
        env_file: a ``.env`` file with ``DEARDIARY_*`` settings; the environment wins.
        buffered: buffer ``log_*`` calls and flush them in batches (default), or write each
            call durably before returning.
        metric_writer: ``auto``, ``arrow``, ``appender`` or ``core`` (see ``diary.Store``).

    Returns:
        The store. Close it (or use it in a ``with`` block) to write what is buffered; an
        interpreter exit flushes too.
    """
    from diary.store import open_store

    return open_store(
        path, url=url, env_file=env_file, buffered=buffered, metric_writer=metric_writer
    )


def __getattr__(name: str) -> object:
    # ``diary.Store`` without importing the store at ``import diary``.
    if name == "Store":
        from diary.store import Store

        return Store
    raise AttributeError(f"module 'diary' has no attribute {name!r}")
