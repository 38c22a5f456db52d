"""A flush that one bad record cannot sink: the good records are stored, the bad one reported.

Values are checked when they are logged (:mod:`diary.values`), so a database refusing a value
at a flush is a defect of that check, not something a user can provoke. Should it happen all the
same, retrying the whole batch would fail forever and lose every good point buffered with the bad
one. :func:`write_salvaging` therefore splits a batch the database refused for a value into halves
and writes each in its own transaction, recursively, until the records it cannot write are found
alone; those are dropped and named in the returned error, everything else is stored.

Errors that are not about a value (a lock, a full disk, a closed connection) are raised as they
are; the parts of the batch that were not written yet are attached to the exception as
``unwritten``, so the buffer retries exactly those.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from diary.errors import InvalidValue, StorageError
from diary.store.buffer import Batch

__all__ = ["is_value_error", "write_salvaging"]

# DuckDB's exceptions for a value that does not fit its column.
_DUCKDB_VALUE_ERRORS = {"ConversionException", "OutOfRangeException", "InvalidInputException"}
_MAX_NAMED = 5

Writer = Callable[[Batch], "StorageError | None"]


def is_value_error(err: BaseException) -> bool:
    """Whether ``err`` is a database (or driver) refusing a value, which no retry can fix."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (UnicodeError, OverflowError, InvalidValue)):
            return True
        if type(current).__name__ == "DataError" or type(current).__name__ in _DUCKDB_VALUE_ERRORS:
            return True
        current = getattr(current, "orig", None) or current.__cause__ or current.__context__
    return False


def write_salvaging(write: Writer, batch: Batch) -> StorageError | None:
    """Write ``batch``; if a value is refused, store every record but the refused ones.

    Returns:
        The writer's own refusal, or an error naming the records that were dropped.

    Raises:
        BaseException: any other failure, with ``unwritten`` set to what is left to write.
    """
    try:
        return write(batch)
    except BaseException as err:
        if not is_value_error(err):
            raise
        first = err
    dropped: list[str] = []
    refusals: list[StorageError] = []
    pending = _halves(batch)
    while pending:
        part = pending.pop(0)
        if not len(part):
            continue
        try:
            refused = write(part)
        except BaseException as err:
            if not is_value_error(err):
                for rest in pending:
                    part.extend(rest)
                err.unwritten = part  # type: ignore[attr-defined]
                raise
            if len(part) == 1:
                dropped.append(f"{_describe(part)} ({_reason(err)})")
            else:
                pending[0:0] = _halves(part)
            continue
        if refused is not None:
            refusals.append(refused)
    if not dropped:
        # Written in parts after all: the refusal came from a combination, not one record.
        return refusals[0] if refusals else None
    named = "; ".join(dropped[:_MAX_NAMED])
    more = f"; and {len(dropped) - _MAX_NAMED} more" if len(dropped) > _MAX_NAMED else ""
    return StorageError(
        f"dropped {len(dropped)} buffered record(s) the database refused, stored the rest: "
        f"{named}{more} (first error: {_reason(first)})"
    )


def _halves(batch: Batch) -> list[Batch]:
    """Split a batch into two non-empty parts (points and parameters alike)."""
    units: list[tuple[str, Any]] = [("point", row) for row in batch.point_rows()]
    units += [("param", item) for item in batch.params.items()]
    middle = len(units) // 2
    return [_batch_of(units[:middle]), _batch_of(units[middle:])]


def _batch_of(units: list[tuple[str, Any]]) -> Batch:
    part = Batch()
    for kind, unit in units:
        if kind == "point":
            part.add_point(*unit)
        else:
            (owner, key), value = unit
            part.params[(owner, key)] = value
    return part


def _describe(part: Batch) -> str:
    if part.params:
        (owner, key), _ = next(iter(part.params.items()))
        return f"parameter {key!r} of iteration {owner}"
    return f"metric {part.keys[0]!r} step {part.steps[0]} of iteration {part.iteration_ids[0]}"


def _reason(err: BaseException) -> str:
    text = str(getattr(err, "orig", None) or err).strip().splitlines()
    return text[0][:200] if text else type(err).__name__
