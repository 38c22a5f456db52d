"""Searching iterations across experiments and projects, as records or as a wide table.

:func:`search_runs` is diary's ``mlflow.search_runs``: one row per iteration with its
columns, ``params.*`` (every parameter of the iterations found), ``metrics.*`` (each metric's
last value) and ``tags``, filtered by the expression language of
:mod:`diary.query.expressions`, ordered, limited, and handed out as dicts, an Arrow table or a
pandas DataFrame. The filter and the order run in the engine; only the page asked for is read
back, with one query each for its parameters, metric summaries and tags.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa

from diary import models as m
from diary.errors import InvalidValue
from diary.query.compile import (
    _Number,
    field_expression,
    metric_summary_query,
    to_condition,
)
from diary.query.expressions import Field, FilterError, Predicate, parse_filter
from diary.query.operands import check_comparisons
from diary.query.results import (
    ITERATION_COLUMNS,
    MetricSummary,
    SearchResult,
    wide_rows,
)
from diary.query.selection import column_keys, parse_order, referenced

if TYPE_CHECKING:
    from diary.store import Store

__all__ = ["MetricSummary", "SearchResult", "metric_summaries", "search_runs"]

_CHUNK = 500


def search_runs(
    store: Store,
    filter: str | None = None,
    *,
    experiments: Iterable[str | UUID] | None = None,
    projects: Iterable[str | UUID] | None = None,
    order_by: Iterable[str] = (),
    limit: int | None = None,
    offset: int = 0,
    columns: Iterable[str] | None = None,
) -> SearchResult:
    """Find iterations across experiments and projects.

    Args:
        store: the diary store.
        filter: an expression such as ``params.lr > 0.01 and metrics.loss < 0.2``
            (see :mod:`diary.query.expressions`); None matches every iteration.
        experiments: only these experiments (ids or unique names).
        projects: only the experiments of these projects (ids or unique names).
        order_by: fields, each optionally followed by ``asc`` or ``desc``
            (``"metrics.loss"``, ``"params.lr desc"``); default: oldest first. Iterations
            without the field come last.
        limit: at most this many rows.
        offset: skip this many rows first.
        columns: only these ``params.KEY`` and ``metrics.KEY`` columns (default: every
            parameter and metric of the iterations found); reading fewer is faster.

    Returns:
        The rows found, wide (see :class:`SearchResult`).

    Raises:
        FilterError: the filter or an order does not parse, or names a key that no iteration
            has (instead of silently matching nothing); the message names the position.
        NotFound: an experiment or project that does not exist.
        InvalidValue: a negative limit or offset.
    """
    if limit is not None and limit < 0:
        raise InvalidValue("limit", limit, "must be 0 or more")
    if offset < 0:
        raise InvalidValue("offset", offset, "must be 0 or more")
    predicate = parse_filter(filter) if filter and filter.strip() else None
    orders = [parse_order(text) for text in order_by]
    store.flush()  # a process reads its own buffered writes
    scope = _experiment_scope(store, experiments, projects)
    search = _Search(predicate, filter or "", orders, scope, limit, offset, column_keys(columns))
    with store.reading() as conn:
        return search.on_duckdb(conn) if conn.dialect.name == "duckdb" else search.portable(conn)


@dataclass(frozen=True)
class _Search:
    """One search, run either way: :meth:`on_duckdb` as plain SQL on DuckDB's own connection,
    :meth:`portable` through SQLAlchemy on every engine (DuckDB included: the tests compare
    the two)."""

    predicate: Predicate | None
    text: str
    orders: list[tuple[Field, bool]]
    scope: list[UUID] | None
    limit: int | None
    offset: int
    keys: dict[str, list[str]] | None

    def on_duckdb(self, conn: sa.Connection) -> SearchResult:
        """Plain SQL on the raw connection (:mod:`diary.query.duckdb_search`): on DuckDB,
        SQLAlchemy's compiler and result rows cost more than the engine's own work."""
        from diary.query.duckdb_search import run_search
        from storage_core.database import raw_duckdb_connection

        return run_search(
            raw_duckdb_connection(conn),
            self.predicate,
            self.text,
            orders=self.orders,
            experiments=None if self.scope is None else [str(key) for key in self.scope],
            limit=self.limit,
            offset=self.offset,
            keys=self.keys,
        )

    def portable(self, conn: sa.Connection) -> SearchResult:
        """The search as SQLAlchemy expressions (:mod:`diary.query.compile`)."""
        dialect = conn.dialect.name
        iteration = m.iteration
        query = sa.select(iteration.c.id)
        if self.scope is not None:
            query = query.where(iteration.c.experiment_id.in_(self.scope))
        check_comparisons(self.predicate, self.text)
        _check_keys(conn, self.text, referenced(self.predicate, [f for f, _ in self.orders]))
        if self.predicate is not None:
            within = None
            if self.scope is not None:
                within = sa.select(iteration.c.id).where(iteration.c.experiment_id.in_(self.scope))
            query = query.where(
                to_condition(self.predicate, self.text, within=within, dialect=dialect)
            )
        for field_, descending in self.orders:
            expression = field_expression(field_, dialect=dialect)
            keys = [_Number(expression), expression] if field_.kind == "param" else [expression]
            for key in keys:
                ordered = key.desc() if descending else key.asc()
                query = query.order_by(ordered.nulls_last())
        query = query.order_by(iteration.c.created_at, iteration.c.id)
        if self.limit is not None:
            query = query.limit(self.limit)
        if self.offset:
            query = query.offset(self.offset)
        ids = [row[0] for row in conn.execute(query).all()]
        # Past a page of ids, the rows' details are read for the query's own result (a
        # semi-join the engine plans once) rather than through thousands of listed ids.
        return _wide_rows(
            conn,
            ids,
            query.subquery("found") if len(ids) > _CHUNK else None,
            keys=self.keys,
        )


def _experiment_scope(
    store: Store,
    experiments: Iterable[str | UUID] | None,
    projects: Iterable[str | UUID] | None,
) -> list[UUID] | None:
    if experiments is None and projects is None:
        return None
    scope: list[UUID] = []
    for given in experiments or ():
        scope.append(store.find_experiment(str(given)).id)
    for given in projects or ():
        project = store.find_project(str(given))
        scope.extend(experiment.id for experiment in store.list_experiments(project.id))
    return scope


def _check_keys(conn: sa.Connection, text: str, fields: list[Field]) -> None:
    """Refuse a parameter or metric key no iteration has: a typo would match nothing."""
    for kind, table in (("param", m.parameter), ("metric", m.metric_summary)):
        wanted = sorted({f.key for f in fields if f.kind == kind})
        # One probe per key that stops at the first row (a DISTINCT would read every point).
        known = {
            key
            for key in wanted
            if conn.execute(sa.select(sa.literal(1)).where(table.c.key == key).limit(1)).first()
        }
        for field_ in fields:
            if field_.kind == kind and field_.key not in known:
                noun = "parameter" if kind == "param" else "metric"
                raise FilterError(
                    text or field_.name,
                    field_.position,
                    f"no iteration has the {noun} {field_.key!r}",
                )


def _wide_rows(
    conn: sa.Connection,
    ids: list[UUID],
    found_query: Any = None,
    *,
    keys: dict[str, list[str]] | None = None,
) -> SearchResult:
    """The wide rows of ``ids``; ``found_query`` (a subquery whose first column is the ids)
    lets each detail query select them in the engine instead of through a list of ids;
    ``keys`` narrows the parameter and metric columns read."""
    if not ids:
        return SearchResult()
    parameter, tag = m.parameter, m.iteration_tag
    selections = (
        [sa.select(found_query.c[0])]
        if found_query is not None
        else [ids[start : start + _CHUNK] for start in range(0, len(ids), _CHUNK)]
    )
    # Keyed by the id as text: hashing a UUID object runs Python code, a str's does not.
    found: dict[str, dict[str, Any]] = {}
    params: list[tuple[str, str, str]] = []
    metrics: list[tuple[str, str, float]] = []
    tags: list[tuple[str, str]] = []
    dialect = conn.dialect.name
    fetch = _Fetcher(conn, ids)
    for selection in selections:
        found.update(fetch.iterations(selection))
        param_query = sa.select(parameter.c.key, parameter.c.value)
        param_query = param_query.where(parameter.c.iteration_id.in_(selection))
        if keys is not None:
            param_query = param_query.where(parameter.c.key.in_(keys["param"]))
        params += fetch(parameter.c.iteration_id, param_query)
        summary = metric_summary_query(
            keys=None if keys is None else keys["metric"], within=selection, dialect=dialect
        )
        metrics += fetch(summary.c.iteration_id, sa.select(summary.c.key, summary.c.last))
        tag_query = sa.select(tag.c.tag).where(tag.c.iteration_id.in_(selection))
        tags += fetch(tag.c.iteration_id, tag_query.order_by(tag.c.tag))
    return wide_rows(((text, found[text]) for text in fetch.texts), params, metrics, tags)


class _Fetcher:
    """Rows of detail queries, owner first, with the owner id as text (the key the wide rows
    are assembled by: hashing a str is cheaper than hashing a UUID). DuckDB searches do not
    come here: they run as plain SQL (:mod:`diary.query.duckdb_search`)."""

    def __init__(self, conn: sa.Connection, ids: list[UUID]) -> None:
        self.conn = conn
        self.texts = [str(key) for key in ids]

    def __call__(self, owner: Any, query: sa.Select[Any]) -> list[tuple[Any, ...]]:
        """The rows of ``query`` with ``owner`` (an id column) put first, as text."""
        statement = query.with_only_columns(owner, *query.selected_columns)
        return [(str(row[0]), *row[1:]) for row in self.conn.execute(statement)]

    def iterations(self, selection: Any) -> Iterator[tuple[str, dict[str, Any]]]:
        """The iteration columns of the selected iterations, by id as text."""
        iteration = m.iteration
        query = sa.select(*(iteration.c[name] for name in ITERATION_COLUMNS))
        for record in self.conn.execute(query.where(iteration.c.id.in_(selection))):
            yield str(record.id), dict(record._mapping)


def metric_summaries(store: Store, iteration_id: str | UUID) -> dict[str, MetricSummary]:
    """Every metric of an iteration summarised by the engine (key -> :class:`MetricSummary`).

    Raises:
        NotFound: no such iteration.
    """
    iteration = store.get_iteration(iteration_id).id
    store.flush()
    with store.reading() as conn:
        summary = metric_summary_query(iteration_ids=[iteration], dialect=conn.dialect.name)
        rows = conn.execute(sa.select(summary).order_by(summary.c.key)).all()
    return {
        row.key: MetricSummary(row.last, int(row.step), row.min, row.max, int(row[-1]))
        for row in rows
    }
