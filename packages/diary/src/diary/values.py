"""What a value must be to be stored: checked where it is given, never at a later flush.

A value that the database cannot take and that is accepted by a buffered ``log_*`` call would
fail the flush that writes it, together with every good point buffered with it. So every value
is checked at the call, with the same rules on DuckDB, SQLite and PostgreSQL:

* text is encodable as UTF-8 (a lone surrogate, which is how Python decodes invalid bytes of a
  command-line argument or a file name, is not);
* a step fits the stored 64-bit signed integer;
* a metric value is representable as a float64. NaN and the infinities are values in their own
  right and stay allowed; a finite number too large for a float64 (``10**400``,
  ``Decimal("1e400")``) is refused rather than stored as an infinity it never was.

numpy scalars are accepted wherever they are representable (``numpy.int64``, ``numpy.float32``,
``numpy.uint64`` below 2**63).
"""

from __future__ import annotations

import math
import operator
from decimal import Decimal, InvalidOperation
from typing import Any

from diary.errors import InvalidValue

__all__ = ["STEP_MAX", "STEP_MIN", "check_number", "check_step", "check_text", "next_step"]

# The metric table's step column is a BIGINT.
STEP_MIN = -(2**63)
STEP_MAX = 2**63 - 1


def check_text(name: str, value: str) -> str:
    """``value`` if it is a ``str`` that UTF-8 can encode.

    Raises:
        InvalidValue: not a string, or not encodable (a lone surrogate).
    """
    if not isinstance(value, str):
        raise InvalidValue(name, value, "expected text")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        raise InvalidValue(
            name, value, f"not valid UTF-8 (character {err.start + 1} is an unpaired surrogate)"
        ) from None
    return value


def check_step(value: Any, name: str = "step") -> int:
    """A whole number that fits the step column, from an int, a numpy integer or an integral float.

    Raises:
        InvalidValue: not a whole number, or outside -2**63 .. 2**63-1.
    """
    if isinstance(value, bool):
        raise InvalidValue(name, value, "expected a whole number")
    try:
        step = operator.index(value)
    except TypeError:
        step = _integral(name, value)
    if not STEP_MIN <= step <= STEP_MAX:
        raise InvalidValue(name, value, f"outside the step range {STEP_MIN} .. {STEP_MAX}")
    return step


def _integral(name: str, value: Any) -> int:
    """A whole number from text, a Decimal or a float, exactly (no detour through a float)."""
    exact = value
    if isinstance(value, str):
        try:
            exact = Decimal(value.strip())
        except InvalidOperation:
            raise InvalidValue(name, value, "expected a whole number") from None
    if isinstance(exact, Decimal):
        if not exact.is_finite() or exact != exact.to_integral_value():
            raise InvalidValue(name, value, "expected a whole number")
        return int(exact)
    try:
        number = float(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidValue(name, value, "expected a whole number") from None
    if not number.is_integer():
        raise InvalidValue(name, value, "expected a whole number")
    return int(number)


def next_step(current: int, key: str) -> int:
    """The automatic step ``current``, refused when the key's steps already reach the top.

    Raises:
        InvalidValue: the highest step of the key is ``STEP_MAX``: give steps explicitly.
    """
    if current > STEP_MAX:
        raise InvalidValue(
            "step",
            None,
            "no automatic step left",
            message=f"metric {key!r} already has step {STEP_MAX}, the highest there is, "
            "so it has no next step; give the step explicitly",
        )
    return current


def check_number(name: str, value: Any) -> float:
    """``value`` as a float64, which it must represent (NaN and the infinities included).

    Raises:
        InvalidValue: not a number (a bool is not one), or a finite number beyond float64.
    """
    if isinstance(value, bool) or type(value).__name__ == "bool_":
        raise InvalidValue(name, value, "expected a number")
    try:
        number = float(value)
    except OverflowError:
        raise InvalidValue(name, value, "too large for a 64-bit float") from None
    except (TypeError, ValueError):
        raise InvalidValue(name, value, "expected a number") from None
    if math.isinf(number) and not _is_infinity(value, number):
        raise InvalidValue(name, value, "too large for a 64-bit float")
    return number


def _is_infinity(value: Any, number: float) -> bool:
    """Whether ``value`` is itself infinite, rather than a finite number that overflowed."""
    if isinstance(value, str):
        try:
            return bool(Decimal(value.strip()).is_infinite())
        except InvalidOperation:
            return False
    try:
        return bool(value == number)
    except (TypeError, ValueError):
        return False
