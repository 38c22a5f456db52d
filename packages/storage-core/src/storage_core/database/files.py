"""What a database file is, judged from its header alone, before any engine touches it.

Both engine factories call :func:`detect_file_kind` first, so a SQLite file given as a DuckDB
path (or the reverse, or a text file) is refused with
:class:`~storage_core.errors.ForeignDatabase` and left byte-for-byte unchanged.
"""

from __future__ import annotations

import enum
import os
from pathlib import Path

from storage_core.errors import ForeignDatabase

__all__ = ["FileKind", "describe_file_kind", "detect_file_kind", "foreign_database_error"]

_SQLITE_MAGIC = b"SQLite format 3\x00"
# A DuckDB file starts with an 8-byte checksum, then the magic bytes (checked on duckdb 2.0.0).
_DUCKDB_MAGIC_OFFSET = 8
_DUCKDB_MAGIC = b"DUCK"
_HEADER_SIZE = max(len(_SQLITE_MAGIC), _DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC))


class FileKind(enum.Enum):
    """What a database path holds, judged from the file header alone."""

    MISSING = "missing"
    EMPTY = "empty"
    SQLITE = "sqlite"
    DUCKDB = "duckdb"
    OTHER = "other"


_KIND_DESCRIPTIONS = {
    FileKind.MISSING: "missing file",
    FileKind.EMPTY: "empty file",
    FileKind.SQLITE: "SQLite database",
    FileKind.DUCKDB: "DuckDB database",
    FileKind.OTHER: "file that is not a database",
}


def detect_file_kind(path: str | os.PathLike[str]) -> FileKind:
    """Tell what a file is by reading its first bytes; never writes.

    Args:
        path: the file to look at.

    Returns:
        The kind of file. A directory or unreadable header counts as :attr:`FileKind.OTHER`.
    """
    try:
        with open(path, "rb") as handle:
            header = handle.read(_HEADER_SIZE)
    except (FileNotFoundError, NotADirectoryError):
        # A path below a regular file cannot exist either.
        return FileKind.MISSING
    except IsADirectoryError:
        return FileKind.OTHER
    if not header:
        return FileKind.EMPTY
    if header.startswith(_SQLITE_MAGIC):
        return FileKind.SQLITE
    if header[_DUCKDB_MAGIC_OFFSET : _DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC)] == _DUCKDB_MAGIC:
        return FileKind.DUCKDB
    return FileKind.OTHER


def describe_file_kind(kind: FileKind) -> str:
    """A short noun phrase for messages, e.g. ``"SQLite database"`` or ``"empty file"``."""
    return _KIND_DESCRIPTIONS[kind]


def foreign_database_error(path: Path, kind: FileKind, expected: FileKind) -> ForeignDatabase:
    """The error for a file of the wrong kind, naming the file and what it is."""
    return ForeignDatabase(
        str(path),
        describe_file_kind(kind),
        f"a {describe_file_kind(expected)}",
        hint="check the path, or move the file away to start a new database",
    )
