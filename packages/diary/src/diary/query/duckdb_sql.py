"""Filters and orders as DuckDB SQL text with bound values, for the raw DuckDB search.

The same meaning as :mod:`diary.query.compile` (which builds SQLAlchemy expressions for every
engine), written for one engine so that a search on DuckDB needs neither SQLAlchemy's compiler
nor its result rows: on a fresh process those cost several times DuckDB's own work. The
tests run every filter through both and compare.

Nothing is pasted into the SQL but the fixed text below and identifiers from closed lists
(:data:`~diary.query.expressions.ATTRIBUTES`, :data:`~diary.query.expressions.METRIC_SUMMARIES`);
every key and value is a ``?`` parameter. Imports no database library.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from diary.query.expressions import (
    ATTRIBUTES,
    METRIC_SUMMARIES,
    And,
    Compare,
    Field,
    FilterError,
    Not,
    Or,
    Predicate,
)
from diary.query.operands import attribute_value, metric_value, parameter_value

__all__ = ["Sql", "order_sql", "where_sql"]

# What each comparison reads: one uncorrelated ``i.id IN (SELECT ...)`` per field, as in
# diary.query.compile, which DuckDB plans as a hash semi-join.
_PARAMETER = "i.id IN (SELECT iteration_id FROM parameter WHERE key = ? AND {test})"
_SUMMARY = "i.id IN (SELECT iteration_id FROM metric_summary WHERE key = ? AND {test})"
_TAGGED = "i.id IN (SELECT iteration_id FROM iteration_tag WHERE tag IN ({marks}))"
_OPERATORS = {"=": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class Sql:
    """SQL text and its parameters, in the order their ``?`` appear."""

    def __init__(self, text: str = "", args: list[Any] | None = None) -> None:
        self.text = text
        self.args: list[Any] = args if args is not None else []

    def __repr__(self) -> str:
        return f"Sql({self.text!r}, {self.args!r})"


def where_sql(predicate: Predicate, text: str) -> Sql:
    """The condition over ``iteration i`` that ``predicate`` means.

    Raises:
        FilterError: a comparison its field cannot make (tags with ``<``, a metric with text).
    """
    if isinstance(predicate, And | Or):
        parts = [where_sql(item, text) for item in predicate.items]
        joiner = " AND " if isinstance(predicate, And) else " OR "
        return Sql(
            "(" + joiner.join(part.text for part in parts) + ")",
            [arg for part in parts for arg in part.args],
        )
    if isinstance(predicate, Not):
        inner = where_sql(predicate.item, text)
        return Sql(f"(NOT {inner.text})", inner.args)
    return _compare(predicate, text)


def _compare(node: Compare, text: str) -> Sql:
    field, op, value = node.field, node.op, node.value
    if field.kind == "attr":
        column = _attribute_column(field)
        return _test(column, op, _bindable(attribute_value(field, value, text)))
    if field.kind in ("tag", "has_tag"):
        if op not in ("=", "!=", "in"):
            raise FilterError(text, field.position, "tags compare with =, != or in")
        values = value if isinstance(value, tuple) else (value,)
        tags = [str(v) if field.kind == "has_tag" else f"{field.key}={v}" for v in values]
        found = _TAGGED.format(marks=", ".join("?" * len(tags)))
        return Sql(f"(NOT {found})" if op == "!=" else found, tags)
    if field.kind == "param":
        numeric, bound = parameter_value(value)
        test = _test("TRY_CAST(value AS DOUBLE)" if numeric else "value", op, bound)
        return Sql(_PARAMETER.format(test=test.text), [field.key, *test.args])
    test = _test(_summary_column(field), op, metric_value(field, value, text))
    return Sql(_SUMMARY.format(test=test.text), [field.key, *test.args])


def _test(column: str, op: str, value: Any) -> Sql:
    if op == "is":
        return Sql(f"{column} IS NULL")
    if op == "is not":
        return Sql(f"{column} IS NOT NULL")
    if op == "in":
        values = list(value)
        return Sql(f"{column} IN ({', '.join('?' * len(values))})", values)
    if op == "like":
        return Sql(f"{column} LIKE ?", [value])
    return Sql(f"{column} {_OPERATORS[op]} ?", [value])


def order_sql(field: Field, descending: bool) -> Sql:
    """ORDER BY terms for ``field`` over ``iteration i``, absent values last.

    A parameter orders by its text read as a number first, then as text (numbers before
    words), as the SQLAlchemy path does.

    Raises:
        FilterError: tags, which cannot order results.
    """
    direction = " DESC NULLS LAST" if descending else " ASC NULLS LAST"
    if field.kind == "attr":
        return Sql(_attribute_column(field) + direction)
    if field.kind == "param":
        value = "(SELECT value FROM parameter p WHERE p.iteration_id = i.id AND p.key = ?)"
        return Sql(
            f"TRY_CAST({value} AS DOUBLE){direction}, {value}{direction}", [field.key, field.key]
        )
    if field.kind == "metric":
        column = _summary_column(field).replace('"', 's."', 1)
        value = f"(SELECT {column} FROM metric_summary s WHERE s.iteration_id = i.id AND s.key = ?)"
        return Sql(value + direction, [field.key])
    raise FilterError(field.name, field.position, "tags cannot order results")


def _attribute_column(field: Field) -> str:
    if field.key not in ATTRIBUTES:  # the parser allows no other; the SQL relies on it
        raise FilterError(field.name, field.position, f"unknown field {field.key!r}")
    return f'i."{field.key}"'


def _summary_column(field: Field) -> str:
    if field.summary not in METRIC_SUMMARIES:
        raise FilterError(field.name, field.position, f"unknown summary {field.summary!r}")
    return f'"{field.summary}"'


def _bindable(value: Any) -> Any:
    """Times as the naive UTC that DuckDB's ``TIMESTAMP`` columns hold (an aware time would
    be compared in the session's time zone)."""
    if isinstance(value, tuple):
        return tuple(_bindable(item) for item in value)
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value
