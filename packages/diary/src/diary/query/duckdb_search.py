"""A search on a DuckDB database in three statements on the raw connection.

:func:`diary.query.search.search_runs` on DuckDB and the command line's direct reader
(:mod:`diary.query.direct`) both search through :func:`run_search`:

1. one statement checks every parameter and metric key the filter and the order name;
2. one finds the page of iterations, filtered and ordered in the engine, with their columns;
3. one reads the page's parameters, metric summaries and tags together.

The statements are plain SQL (:mod:`diary.query.duckdb_sql`) with the ids as text, so a
search pays neither SQLAlchemy's compiler nor a Python object per id; the rows become the
same :class:`~diary.query.results.SearchResult` as on every other engine. Imports no database
library: the caller hands in the connection.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from diary.query.duckdb_sql import Sql, order_sql, where_sql
from diary.query.expressions import Field, FilterError, Predicate
from diary.query.operands import check_comparisons
from diary.query.results import SearchResult, iteration_rows, wide_rows
from diary.query.selection import referenced

if TYPE_CHECKING:
    import duckdb

__all__ = ["check_keys", "run_search"]

_ITERATION = (
    "CAST(i.id AS VARCHAR), CAST(i.experiment_id AS VARCHAR), CAST(i.parent_id AS VARCHAR), "
    "i.status, i.created_at, i.ended_at"
)
_KEY_TABLES = {"param": ("parameter", "parameter"), "metric": ("metric_summary", "metric")}


def run_search(
    conn: duckdb.DuckDBPyConnection,
    predicate: Predicate | None = None,
    text: str = "",
    *,
    orders: Sequence[tuple[Field, bool]] = (),
    experiments: Sequence[str] | None = None,
    ids: Sequence[str] | None = None,
    limit: int | None = None,
    offset: int = 0,
    keys: dict[str, list[str]] | None = None,
) -> SearchResult:
    """The wide rows of the iterations that match, as ``search_runs`` returns them.

    Args:
        conn: a DuckDB connection to a current diary database.
        predicate: the parsed filter (None: every iteration); ``text`` is what was parsed,
            for the errors.
        orders: (field, descending) pairs; ties (and no order) go oldest first.
        experiments: only iterations of these experiment ids (text).
        ids: only these iteration ids (text).
        limit: at most this many rows; ``offset``: skip this many first.
        keys: narrow the ``params.*`` and ``metrics.*`` columns (``column_keys``).

    Raises:
        FilterError: a key no iteration has, or a comparison a field cannot make.
    """
    check_comparisons(predicate, text)
    check_keys(conn, text, referenced(predicate, [field for field, _ in orders]))
    page = _page(predicate, text, orders, experiments, ids, limit, offset)
    iterations = _rows(conn, page)
    if not iterations:
        return SearchResult()
    found = [row[0] for row in iterations]
    params, metrics, tags = _details(conn, found, keys)
    return wide_rows(iteration_rows(iterations, {}), params, metrics, tags)


def check_keys(conn: duckdb.DuckDBPyConnection, text: str, fields: Sequence[Field]) -> None:
    """Refuse a parameter or metric key no iteration has: a typo would match nothing.

    One statement, one ``EXISTS`` per key (each stops at the first row it finds).
    """
    wanted = sorted({(f.kind, f.key) for f in fields if f.kind in _KEY_TABLES})
    if not wanted:
        return
    probes = ", ".join(
        f"EXISTS (SELECT 1 FROM {_KEY_TABLES[kind][0]} WHERE key = ?)" for kind, _ in wanted
    )
    (present,) = _rows(conn, Sql(f"SELECT {probes}", [key for _, key in wanted]))
    known = {pair for pair, found in zip(wanted, present, strict=True) if found}
    for field_ in fields:
        if field_.kind in _KEY_TABLES and (field_.kind, field_.key) not in known:
            raise FilterError(
                text or field_.name,
                field_.position,
                f"no iteration has the {_KEY_TABLES[field_.kind][1]} {field_.key!r}",
            )


def _page(
    predicate: Predicate | None,
    text: str,
    orders: Sequence[tuple[Field, bool]],
    experiments: Sequence[str] | None,
    ids: Sequence[str] | None,
    limit: int | None,
    offset: int,
) -> Sql:
    """The statement of the page: the iterations' own columns, ids as text, in order."""
    conditions: list[str] = []
    args: list[Any] = []
    for column, scope in (("i.experiment_id", experiments), ("i.id", ids)):
        if scope is not None:
            # An empty scope matches nothing; IN () is not SQL.
            conditions.append(f"{column} IN ({', '.join('?' * len(scope))})" if scope else "false")
            args += scope
    if predicate is not None:
        where = where_sql(predicate, text)
        conditions.append(where.text)
        args += where.args
    sql = f"SELECT {_ITERATION} FROM iteration i"
    if conditions:
        sql += " WHERE " + " AND ".join(conditions)
    terms: list[str] = []
    for field_, descending in orders:
        term = order_sql(field_, descending)
        terms.append(term.text)
        args += term.args
    sql += " ORDER BY " + ", ".join([*terms, "i.created_at", "i.id"])
    if limit is not None:
        sql += " LIMIT ?"
        args.append(limit)
    if offset:
        sql += " OFFSET ?"
        args.append(offset)
    return Sql(sql, args)


def _details(
    conn: duckdb.DuckDBPyConnection, found: list[str], keys: dict[str, list[str]] | None
) -> tuple[list[Any], list[Any], list[Any]]:
    """The parameters, metric (last values) and tags of the iterations ``found``, in one
    statement: the ids go in as one list, which DuckDB joins by hash."""
    parts: list[str] = []
    args: list[Any] = []
    scope = "iteration_id IN (SELECT unnest(?::UUID[]))"
    owner = "CAST(iteration_id AS VARCHAR)"
    for kind, (table, value) in (
        ("param", ("parameter", "value")),
        ("metric", ("metric_summary", '"last"')),
    ):
        wanted = None if keys is None else keys[kind]
        if wanted == []:
            continue
        number, text = ("NULL", value) if kind == "param" else (value, "NULL")
        part = f"SELECT '{kind}', {owner}, key, {text}, {number} FROM {table} WHERE {scope}"
        args.append(found)
        if wanted is not None:
            part += f" AND key IN ({', '.join('?' * len(wanted))})"
            args += wanted
        parts.append(part)
    parts.append(f"SELECT 'tag', {owner}, tag, NULL, NULL FROM iteration_tag WHERE {scope}")
    args.append(found)
    sql = " UNION ALL ".join(parts) + " ORDER BY 1, 3"  # tags in order, as the store's
    params: list[Any] = []
    metrics: list[Any] = []
    tags: list[Any] = []
    for part, owner_id, key, text, number in _rows(conn, Sql(sql, args)):
        if part == "param":
            params.append((owner_id, key, text))
        elif part == "metric":
            metrics.append((owner_id, key, number))
        else:
            tags.append((owner_id, key))
    return params, metrics, tags


def _rows(conn: duckdb.DuckDBPyConnection, sql: Sql) -> list[tuple[Any, ...]]:
    rows: list[tuple[Any, ...]] = conn.execute(sql.text, sql.args).fetchall()
    return rows
