"""Records to database rows and back, the way the original stores them.

Lists become JSON text, booleans 0/1; everything else is stored as is. The columns the
original keeps exactly as given (a mistake's ``related_concepts`` and ``rules_consulted``:
NULL, JSON text, or any text) are read back as stored. Reading is lenient
about what the original (or a hand-edited database) may hold: a list column with text that
is not a JSON list comes back as a one-element list rather than failing the whole query.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any, TypeVar

from buildlog.records import field_kinds

__all__ = ["decode_list", "from_row", "to_row"]

R = TypeVar("R")


def decode_list(value: object) -> list[str]:
    """A list column's value as a list of strings (NULL is an empty list)."""
    if value is None or value == "":
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    try:
        decoded = json.loads(str(value))
    except json.JSONDecodeError:
        return [str(value)]
    if isinstance(decoded, list):
        return [v if isinstance(v, str) else json.dumps(v) for v in decoded]
    return [str(decoded)]


def to_row(record: object, **extra: object) -> dict[str, Any]:
    """The column values of ``record`` (plus ``extra``, e.g. ``project_id``)."""
    row: dict[str, Any] = dict(extra)
    for name, kind, _required in field_kinds(type(record)):
        value = getattr(record, name)
        if kind == "str_list":
            value = json.dumps(list(value))
        elif kind == "loose_list":
            # As the original: a list as JSON text, text and NULL as they are.
            value = json.dumps(list(value)) if isinstance(value, list) else value
        elif kind == "bool":
            value = int(bool(value))
        elif kind == "json":
            value = None if value is None else json.dumps(value)
        row[name] = value
    return row


def from_row(cls: type[R], row: Mapping[Any, Any]) -> R:
    """Build a record of type ``cls`` from a row mapping (extra columns are ignored)."""
    values: dict[str, Any] = {}
    for name, kind, _required in field_kinds(cls):
        if name not in row:
            continue
        value = row[name]
        if kind == "str_list":
            value = decode_list(value)
        elif kind == "bool":
            value = bool(value)
        elif kind == "json" and isinstance(value, str):
            # The original always writes JSON here, but a raw string is still a value.
            with contextlib.suppress(json.JSONDecodeError):
                value = json.loads(value)
        elif kind == "float" and value is not None:
            value = float(value)
        values[name] = value
    return cls(**values)
