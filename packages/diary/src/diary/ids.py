"""Ids as people give them: whole UUIDs, or unique prefixes of stored ones (as git takes them).

Shared by the store and by the command line's direct read path, so it imports no database
library.
"""

from __future__ import annotations

from uuid import UUID

from diary.errors import NotFound

__all__ = ["MIN_ID_PREFIX", "IdLike", "as_uuid", "id_prefix_range"]

IdLike = UUID | str

# As git: shorter prefixes are too likely to become ambiguous as a store grows.
MIN_ID_PREFIX = 4
_HEX = frozenset("0123456789abcdef")


def as_uuid(what: str, value: IdLike) -> UUID:
    """Parse an id; a malformed id names nothing that exists, so it is reported as not found.

    Raises:
        NotFound: ``value`` is not a UUID.
    """
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value).strip())
    except ValueError:
        raise NotFound(what, str(value)) from None


def id_prefix_range(given: str) -> tuple[UUID, UUID] | None:
    """The smallest and largest UUID that start with ``given``, or None when ``given`` is no
    id prefix (fewer than :data:`MIN_ID_PREFIX` hex digits, or other characters).

    Dashes are ignored, so a prefix may be copied with or without them.
    """
    digits = given.strip().lower().replace("-", "")
    if not MIN_ID_PREFIX <= len(digits) < 32 or not set(digits) <= _HEX:
        return None
    return UUID(digits.ljust(32, "0")), UUID(digits.ljust(32, "f"))
