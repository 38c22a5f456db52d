"""The values a filter compares with, as each kind of field stores them.

Shared by the two SQL compilers (:mod:`diary.query.compile` for SQLAlchemy,
:mod:`diary.query.duckdb_sql` for the raw DuckDB path) so that both read a literal the same
way. Imports no database library.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from diary.query.expressions import And, Field, FilterError, Not, Or, Predicate, Value

__all__ = ["attribute_value", "check_comparisons", "metric_value", "parameter_value"]


def is_number(value: object) -> bool:
    """A number literal (a bool is not one)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def as_text(value: object) -> str:
    """A literal as a parameter stores it (``str()`` of what was logged)."""
    if isinstance(value, bool):
        return "True" if value else "False"  # how str() stored a logged bool
    return str(value)


def parameter_value(value: Value) -> tuple[bool, Any]:
    """(compare as numbers?, the value to bind) for a parameter comparison.

    Parameters are stored as text. A number literal (or a list of only numbers) compares with
    the text read as a number; anything else compares as text, item by item for ``in``.
    """
    if value is None:
        return False, None
    if isinstance(value, tuple):
        if value and all(is_number(item) for item in value):
            return True, value
        return False, tuple(as_text(item) for item in value)
    if is_number(value):
        return True, value
    return False, as_text(value)


def metric_value(field: Field, value: Value, text: str) -> Value:
    """The number (or numbers) a metric summary compares with.

    Raises:
        FilterError: a literal that is not a number.
    """
    items = value if isinstance(value, tuple) else (value,)
    if value is not None and not all(is_number(item) for item in items):
        raise FilterError(text, field.position, f"{field.name} compares with numbers")
    return value


def attribute_value(field: Field, value: Value, text: str) -> Any:
    """The literal as the iteration's column holds it: an aware UTC time, a UUID or text.

    Raises:
        FilterError: a time that is not ISO 8601, an id that is not one.
    """
    if value is None:
        return None
    values = value if isinstance(value, tuple) else (value,)
    converted: list[Any] = []
    for item in values:
        if field.key in ("created_at", "ended_at"):
            try:
                stamp = datetime.fromisoformat(str(item))
            except ValueError:
                raise FilterError(
                    text, field.position, f"{field.key} compares with an ISO date, not {item!r}"
                ) from None
            converted.append(stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC))
        elif field.key in ("id", "parent_id", "experiment_id"):
            try:
                converted.append(UUID(str(item)))
            except ValueError:
                raise FilterError(
                    text, field.position, f"{field.key} compares with an id, not {item!r}"
                ) from None
        else:
            converted.append(as_text(item))
    return tuple(converted) if isinstance(value, tuple) else converted[0]


def check_comparisons(predicate: Predicate | None, text: str) -> None:
    """Raise the first (leftmost) comparison its field cannot make, so that every compiler
    reports the same mistake whatever order it builds the SQL in.

    Raises:
        FilterError: tags compared with other than ``=``, ``!=`` or ``in``; a metric compared
            with text; a time or id that is not one.
    """
    stack: list[Predicate] = [predicate] if predicate is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(reversed(node.items))
        elif isinstance(node, Not):
            stack.append(node.item)
        elif node.field.kind in ("tag", "has_tag"):
            if node.op not in ("=", "!=", "in"):
                raise FilterError(text, node.field.position, "tags compare with =, != or in")
        elif node.field.kind == "metric":
            metric_value(node.field, node.value, text)
        elif node.field.kind == "attr":
            attribute_value(node.field, node.value, text)
