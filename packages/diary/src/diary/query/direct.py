"""The command line's direct read path: plain SQL on a DuckDB file, without SQLAlchemy.

Reading a sweep from the terminal is mostly start-up: SQLAlchemy and DuckDB's SQLAlchemy
dialect take about 0.3 s to import, several times the queries of ``diary iteration list`` over
10,000 iterations. For the reads people run most after a sweep (``iteration list`` without a
filter or order, ``compare``, ``metric plot``) the command line first asks this reader. It opens
the DuckDB file read-only with the raw client, under the same lock as the store (so it waits
its turn with a training process that is writing, and never changes the file), and reads the
tables with the queries the store's search runs on DuckDB (:mod:`diary.query.search`).

It answers only what it can answer for certain. It gives up, and the command takes the store's
path (which gives the same answer, or the proper error), when the database is not a DuckDB
file, its schema is not at :data:`~diary.schema.HEAD_REVISION` (the store upgrades it), or a
name or id prefix matches nothing or more than one row.
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from uuid import UUID

from diary.ids import id_prefix_range
from diary.query.results import MetricSummary, SearchResult

if TYPE_CHECKING:
    import duckdb

    from diary.config import Settings

__all__ = ["DirectReader", "open_reader"]

# The tables whose ids the finders look up (their names are put into the SQL).
_ID_TABLES = frozenset(("project", "experiment", "iteration", "model", "model_version", "resource"))


def open_reader(settings: Settings) -> DirectReader | None:
    """A reader of the configured DuckDB file, or None when the store must be used instead
    (a database URL, a file that is not DuckDB's, a schema that is not current).

    Raises:
        DatabaseLocked: another process held the file for longer than the lock timeout.
        DatabaseDamaged: DuckDB cannot read the file.
    """
    if settings.db_url:
        return None
    from diary.schema import HEAD_REVISION, VERSION_TABLE
    from storage_core.database.duckdb_client import client
    from storage_core.database.duckdb_open import open_duckdb
    from storage_core.database.files import FileKind, detect_file_kind

    if detect_file_kind(settings.db_file) is not FileKind.DUCKDB:
        return None
    stack = contextlib.ExitStack()
    conn = stack.enter_context(
        open_duckdb(settings.db_file, lock_timeout=settings.lock_timeout, read_only=True)
    )
    reader = DirectReader(conn, stack.close)
    try:
        revision = conn.execute(f"SELECT version_num FROM {VERSION_TABLE}").fetchall()
    except client.Error:  # no version table: not diary's, or not yet; the store says which
        revision = []
    if revision != [(HEAD_REVISION,)]:
        reader.close()
        return None
    return reader


def _whole_id(given: str) -> str | None:
    """``given`` as a canonical id, or None when it is not a whole UUID."""
    try:
        return str(UUID(given.strip()))
    except ValueError:
        return None


class DirectReader:
    """Reads of a current diary DuckDB file over one raw, read-only connection.

    The finders return None where the store would raise (nothing found, or several); the
    caller then asks the store, which raises the error with its usual message.
    """

    def __init__(self, conn: duckdb.DuckDBPyConnection, close: Any) -> None:
        self.conn = conn
        self._close = close

    def close(self) -> None:
        """Close the connection and let other processes have the file."""
        self._close()

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        rows: list[tuple[Any, ...]] = self.conn.execute(sql, list(params)).fetchall()
        return rows

    # --- finding rows as the store's find_* and resolve_id do ---------------------------

    def find_project(self, given: str) -> str | None:
        """The id of the project ``given`` names (an id, a unique name, a unique id prefix)."""
        return self._find("project", given, named=True)

    def find_experiment(self, given: str) -> str | None:
        """The id of the experiment ``given`` names, across projects (as ``find_experiment``)."""
        return self._find("experiment", given, named=True)

    def find_iteration(self, given: str) -> str | None:
        """The id of the iteration ``given`` names (an id or a unique id prefix)."""
        return self._find("iteration", given, named=False)

    def resolve_id(self, table: str, given: str) -> str | None:
        """A whole id as it is, or the one stored id of ``table`` that starts with ``given``
        (as the store's ``resolve_id``)."""
        return _whole_id(given) or self._find(table, given, named=False)

    def _find(self, table: str, given: str, *, named: bool) -> str | None:
        if table not in _ID_TABLES:
            raise ValueError(f"not a table with ids: {table!r}")
        key = _whole_id(given)
        if key is not None and self._rows(f"SELECT 1 FROM {table} WHERE id = ?", [key]):
            return key
        if named:  # a name wins over an id prefix
            rows = self._rows(
                f"SELECT CAST(id AS VARCHAR) FROM {table} WHERE name = ? LIMIT 2", [given]
            )
            if rows:
                return str(rows[0][0]) if len(rows) == 1 else None
        bounds = id_prefix_range(given)  # None for a whole id
        if bounds is None:
            return None
        rows = self._rows(
            f"SELECT CAST(id AS VARCHAR) FROM {table} WHERE id BETWEEN ? AND ? LIMIT 2",
            [str(bounds[0]), str(bounds[1])],
        )
        return str(rows[0][0]) if len(rows) == 1 else None

    def project_experiments(self, project_id: str) -> list[str]:
        """The ids of a project's experiments."""
        sql = "SELECT CAST(id AS VARCHAR) FROM experiment WHERE project_id = ?"
        return [row[0] for row in self._rows(sql, [project_id])]

    # --- wide rows, as search_runs gives them -------------------------------------------

    def runs(
        self,
        filter: str | None = None,
        *,
        experiments: Sequence[str] | None = None,
        ids: Sequence[str] | None = None,
        order_by: Sequence[str] = (),
        keys: dict[str, list[str]] | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> SearchResult:
        """The wide rows of the iterations of ``experiments`` (or the iterations ``ids``) that
        ``filter`` matches, ordered and paged as ``search_runs`` does, by the same SQL
        (:mod:`diary.query.duckdb_search`); ``keys`` narrows the parameter and metric columns
        as ``search_runs(columns=...)`` does.

        Raises:
            FilterError: the filter or an order does not parse, or names an unknown key.
        """
        from diary.query.duckdb_search import run_search
        from diary.query.expressions import parse_filter
        from diary.query.selection import parse_order

        predicate = parse_filter(filter) if filter and filter.strip() else None
        return run_search(
            self.conn,
            predicate,
            filter or "",
            orders=[parse_order(text) for text in order_by],
            experiments=experiments,
            ids=ids,
            limit=limit,
            offset=offset,
            keys=keys,
        )

    # --- metric summaries and series -----------------------------------------------------

    def summaries(self, ids: Sequence[str]) -> dict[str, dict[str, MetricSummary]]:
        """Each iteration's metric summaries (id -> key -> summary), keys sorted."""
        if not ids:
            return {}
        marks = ", ".join("?" * len(ids))
        rows = self._rows(
            'SELECT CAST(iteration_id AS VARCHAR), key, "last", step, "min", "max", "count" '
            f"FROM metric_summary WHERE iteration_id IN ({marks}) ORDER BY key",
            list(ids),
        )
        found: dict[str, dict[str, MetricSummary]] = {key: {} for key in ids}
        for owner, key, last, step, low, high, count in rows:
            found[owner][key] = MetricSummary(last, int(step), low, high, int(count))
        return found

    def history(self, iteration_id: str, key: str) -> tuple[list[int], list[float]]:
        """A metric's steps and values, ordered as ``metric_history`` orders them."""
        rows = self._rows(
            "SELECT step, value FROM metric WHERE iteration_id = ? AND key = ? "
            "ORDER BY step, timestamp, value",
            [iteration_id, key],
        )
        return [row[0] for row in rows], [row[1] for row in rows]
