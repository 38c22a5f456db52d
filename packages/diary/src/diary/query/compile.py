"""Filter trees (:mod:`diary.query.expressions`) into SQLAlchemy expressions with bound values.

Nothing is ever pasted into SQL text: every key and value is a bound parameter. Each field
becomes an uncorrelated ``iteration.id IN (SELECT ...)`` over one table, which every engine
plans once, whatever the number of iterations:

* parameters: the ``parameter`` rows of the key, compared as numbers when the literal is a
  number (text that is no number does not match), else as text;
* metrics: the per-key summary of :func:`metric_summary_query` (last value at the highest step,
  min, max, count, last step), computed in the engine;
* tags: the ``iteration_tag`` rows (``tags.stage = 'prod'`` is the tag ``stage=prod``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from diary import models as m
from diary.query.expressions import (
    And,
    Compare,
    Field,
    FilterError,
    Not,
    Or,
    Predicate,
)
from diary.query.operands import attribute_value, metric_value, parameter_value
from diary.query.selection import referenced

__all__ = [
    "computed_metric_summaries",
    "field_expression",
    "metric_summary_query",
    "to_condition",
]

_COMPARE = {
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class _Number(FunctionElement[float]):
    """A text column as a number, NULL when the text is not one (on every engine)."""

    type = sa.Double()
    inherit_cache = True
    name = "diary_number"


@compiles(_Number)
def _number_default(element: _Number, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    text = compiler.process(arg, **kw)
    pattern = r"^\s*[-+]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*$"
    return f"CASE WHEN {text} ~ '{pattern}' THEN CAST({text} AS DOUBLE PRECISION) END"


@compiles(_Number, "duckdb")
def _number_duckdb(element: _Number, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    return f"TRY_CAST({compiler.process(arg, **kw)} AS DOUBLE)"


@compiles(_Number, "sqlite")
def _number_sqlite(element: _Number, compiler: Any, **kw: Any) -> str:
    (arg,) = list(element.clauses)
    text = compiler.process(arg, **kw)
    # SQLite's CAST turns any text into a number (0.0 for 'adam'): only numeric-looking text.
    return (
        f"CASE WHEN trim({text}) <> '' AND trim({text}) NOT GLOB '*[^-+0-9.eE]*' "
        f"AND trim({text}) GLOB '*[0-9]*' THEN CAST({text} AS REAL) END"
    )


def metric_summary_query(
    keys: Sequence[str] | None = None,
    iteration_ids: Sequence[UUID] | None = None,
    *,
    within: Any = None,
    dialect: str = "",
) -> sa.Subquery:
    """Per (iteration, metric key): ``last`` (the value at the highest step, latest logged on
    a tie), ``step`` (that step), ``min``, ``max`` and ``count``, from the summary rows every
    write keeps up to date (``metric_summary``): one row per key, not every point.

    Args:
        keys: only these metric keys.
        iteration_ids: only these iterations.
        within: only the iterations this ``SELECT id`` returns.
        dialect: unused; kept so that callers need not know how summaries are stored.
    """
    summary = m.metric_summary
    conditions = []
    if keys is not None:
        conditions.append(summary.c.key.in_(list(keys)))
    if iteration_ids is not None:
        conditions.append(summary.c.iteration_id.in_(list(iteration_ids)))
    if within is not None:
        conditions.append(summary.c.iteration_id.in_(within))
    return (
        sa.select(
            summary.c.iteration_id,
            summary.c.key,
            summary.c["last"],
            summary.c.step,
            summary.c["min"],
            summary.c["max"],
            summary.c["count"],
        )
        .where(*conditions)
        .subquery("summary")
    )


def computed_metric_summaries(dialect: str = "") -> sa.Subquery:
    """The same summaries computed from every stored point (what ``metric_summary`` must
    always equal; the tests compare the two).

    DuckDB gets a GROUP BY with ``arg_max``; every other engine window functions.
    """
    metric = m.metric
    if dialect == "duckdb":
        # The same order as the window below: highest step, then latest, then largest value.
        latest = sa.tuple_(metric.c.step, metric.c.timestamp, metric.c.value)
        return (
            sa.select(
                metric.c.iteration_id,
                metric.c.key,
                sa.func.arg_max(metric.c.value, latest).label("last"),
                sa.func.max(metric.c.step).label("step"),
                sa.func.min(metric.c.value).label("min"),
                sa.func.max(metric.c.value).label("max"),
                sa.func.count().label("count"),
            )
            .group_by(metric.c.iteration_id, metric.c.key)
            .subquery("summary")
        )
    window = (metric.c.iteration_id, metric.c.key)
    ranked = sa.select(
        metric.c.iteration_id,
        metric.c.key,
        metric.c.value.label("last"),
        metric.c.step.label("step"),
        sa.func.row_number()
        .over(
            partition_by=window,
            order_by=(metric.c.step.desc(), metric.c.timestamp.desc(), metric.c.value.desc()),
        )
        .label("rank"),
        sa.func.min(metric.c.value).over(partition_by=window).label("min"),
        sa.func.max(metric.c.value).over(partition_by=window).label("max"),
        sa.func.count().over(partition_by=window).label("count"),
    )
    inner = ranked.subquery("ranked")
    return (
        sa.select(
            inner.c.iteration_id,
            inner.c.key,
            inner.c.last,
            inner.c.step,
            inner.c.min,
            inner.c.max,
            inner.c["count"],
        )
        .where(inner.c.rank == 1)
        .subquery("summary")
    )


def to_condition(
    predicate: Predicate, text: str, *, within: Any = None, dialect: str = ""
) -> ColumnElement[bool]:
    """The WHERE clause over ``iteration`` that ``predicate`` means.

    Metric summaries are the expensive part (they read points), so in a conjunction the other
    conditions are applied first and the metric ones summarise only the iterations those leave
    (``within``). That is exact: an iteration outside ``within`` fails the conjunction anyway.
    """
    if isinstance(predicate, And):
        plain = [item for item in predicate.items if not _reads_metrics(item)]
        measured = [item for item in predicate.items if _reads_metrics(item)]
        conditions = [to_condition(item, text, within=within, dialect=dialect) for item in plain]
        if plain and measured:
            narrowed = sa.select(m.iteration.c.id).where(*conditions)
            if within is not None:
                narrowed = narrowed.where(m.iteration.c.id.in_(within))
            within = narrowed
        conditions += [
            to_condition(item, text, within=within, dialect=dialect) for item in measured
        ]
        return sa.and_(*conditions)
    if isinstance(predicate, Or):
        return sa.or_(
            *(to_condition(item, text, within=within, dialect=dialect) for item in predicate.items)
        )
    if isinstance(predicate, Not):
        return sa.not_(to_condition(predicate.item, text, within=within, dialect=dialect))
    return _compare(predicate, text, within, dialect)


def _reads_metrics(predicate: Predicate) -> bool:
    return any(field.kind == "metric" for field in referenced(predicate))


def _compare(node: Compare, text: str, within: Any, dialect: str) -> ColumnElement[bool]:
    field, op, value = node.field, node.op, node.value
    iteration = m.iteration
    if field.kind == "attr":
        attribute: Any = iteration.c[field.key]
        return _apply(attribute, op, attribute_value(field, value, text), text, field)
    if field.kind in ("tag", "has_tag"):
        if op not in ("=", "!=", "in"):
            raise FilterError(text, field.position, "tags compare with =, != or in")
        values = value if isinstance(value, tuple) else (value,)
        tags = [str(v) if field.kind == "has_tag" else f"{field.key}={v}" for v in values]
        tagged = sa.select(m.iteration_tag.c.iteration_id).where(m.iteration_tag.c.tag.in_(tags))
        found = iteration.c.id.in_(tagged)
        return sa.not_(found) if op == "!=" else found
    if field.kind == "param":
        parameter = m.parameter
        numeric, value = parameter_value(value)
        compared: Any = _Number(parameter.c.value) if numeric else parameter.c.value
        matching = sa.select(parameter.c.iteration_id).where(
            parameter.c.key == field.key, _apply(compared, op, value, text, field)
        )
        return iteration.c.id.in_(matching)
    summary = metric_summary_query([field.key], within=within, dialect=dialect)
    measured: Any = summary.c[field.summary]
    value = metric_value(field, value, text)
    matching = sa.select(summary.c.iteration_id).where(_apply(measured, op, value, text, field))
    return iteration.c.id.in_(matching)


def _apply(column: Any, op: str, value: Any, text: str, field: Field) -> ColumnElement[bool]:
    if op == "is":
        return column.is_(None)  # type: ignore[no-any-return]
    if op == "is not":
        return column.is_not(None)  # type: ignore[no-any-return]
    if op == "in":
        return column.in_(list(value))  # type: ignore[no-any-return]
    if op == "like":
        return column.like(value)  # type: ignore[no-any-return]
    # NaN needs nothing special: DuckDB and PostgreSQL treat NaN as equal to itself (and
    # larger than any number); SQLite never stores it.
    compared: ColumnElement[bool] = _COMPARE[op](column, value)
    return compared


def field_expression(field: Field, iteration: Any = None, *, dialect: str = "") -> Any:
    """A per-iteration scalar of ``field``, for ordering (NULL where the field is absent)."""
    iteration = iteration if iteration is not None else m.iteration
    if field.kind == "attr":
        return iteration.c[field.key]
    if field.kind == "param":
        parameter = m.parameter
        return (
            sa.select(parameter.c.value)
            .where(parameter.c.iteration_id == iteration.c.id, parameter.c.key == field.key)
            .scalar_subquery()
        )
    if field.kind == "metric":
        summary = metric_summary_query([field.key], dialect=dialect)
        return (
            sa.select(summary.c[field.summary])
            .where(summary.c.iteration_id == iteration.c.id)
            .scalar_subquery()
        )
    raise FilterError(field.name, field.position, "tags cannot order results")
