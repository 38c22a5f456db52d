"""What a search names besides its filter: the fields it orders by, the columns it reads,
and every key it must check exists. Pure functions over the parsed tree
(:mod:`diary.query.expressions`); no database library.
"""

from __future__ import annotations

from collections.abc import Iterable

from diary.query.expressions import And, Field, FilterError, Not, Or, Predicate, parse_field

__all__ = ["column_keys", "parse_order", "referenced"]


def parse_order(text: str) -> tuple[Field, bool]:
    """Parse an ``order_by`` item: a field, optionally followed by ``asc`` or ``desc``;
    (the field, descending?).

    Raises:
        FilterError: not a field.
    """
    words = text.strip().rsplit(None, 1)
    descending = False
    if len(words) == 2 and words[1].lower() in ("asc", "desc"):
        text, descending = words[0], words[1].lower() == "desc"
    return parse_field(text), descending


def column_keys(columns: Iterable[str] | None) -> dict[str, list[str]] | None:
    """The parameter and metric keys ``columns`` names (None: every key)."""
    if columns is None:
        return None
    keys: dict[str, list[str]] = {"param": [], "metric": []}
    for name in columns:
        try:
            field_ = parse_field(name)
        except FilterError:
            continue  # not a params/metrics column (tags, ...): nothing to narrow
        if field_.kind in keys:
            keys[field_.kind].append(field_.key)
    return keys


def referenced(predicate: Predicate | None, extra: Iterable[Field] = ()) -> list[Field]:
    """Every field a filter (and the extra fields, e.g. of order_by) names."""
    found: list[Field] = list(extra)
    stack: list[Predicate] = [predicate] if predicate is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, And | Or):
            stack.extend(node.items)
        elif isinstance(node, Not):
            stack.append(node.item)
        else:
            found.append(node.field)
    return found
