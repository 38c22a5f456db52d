"""What a database file is, judged from its header alone, before any engine touches it.

Both engine factories call :func:`detect_file_kind` first, so a SQLite file given as a DuckDB
path (or the reverse, or a text file) is refused with
:class:`~storage_core.errors.ForeignDatabase` and left byte-for-byte unchanged.
"""

from __future__ import annotations

import enum
import os
import stat
from pathlib import Path

from storage_core.errors import ForeignDatabase

__all__ = [
    "FileKind",
    "check_kind",
    "create_private_file",
    "describe_file_kind",
    "detect_file_kind",
    "foreign_database_error",
    "is_read_only_file",
    "restrict_new_file",
    "special_file_kind",
]

_SQLITE_MAGIC = b"SQLite format 3\x00"
# A DuckDB file starts with an 8-byte checksum, then the magic bytes (checked on duckdb 2.0.0).
_DUCKDB_MAGIC_OFFSET = 8
_DUCKDB_MAGIC = b"DUCK"
_HEADER_SIZE = max(len(_SQLITE_MAGIC), _DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC))


class FileKind(enum.Enum):
    """What a database path holds, judged from the file header alone."""

    MISSING = "missing"
    EMPTY = "empty"
    SPECIAL = "special"
    SQLITE = "sqlite"
    DUCKDB = "duckdb"
    OTHER = "other"


_KIND_DESCRIPTIONS = {
    FileKind.MISSING: "missing file",
    FileKind.SPECIAL: "special file (a device, FIFO or socket), not a regular file",
    FileKind.EMPTY: "empty file",
    FileKind.SQLITE: "SQLite database",
    FileKind.DUCKDB: "DuckDB database",
    FileKind.OTHER: "file that is not a database",
}


def detect_file_kind(path: str | os.PathLike[str]) -> FileKind:
    """Tell what a file is by reading its first bytes; never writes, never blocks.

    Args:
        path: the file to look at (a symlink is judged by its target).

    Returns:
        The kind of file. A directory or unreadable header counts as :attr:`FileKind.OTHER`;
        a device, FIFO or socket as :attr:`FileKind.SPECIAL` (it is not even opened: reading a
        FIFO would wait forever for a writer, and a device may be anything).
    """
    try:
        info = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        # A path below a regular file cannot exist either.
        return FileKind.MISSING
    if stat.S_ISDIR(info.st_mode):
        return FileKind.OTHER
    if not stat.S_ISREG(info.st_mode):
        return FileKind.SPECIAL
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except (FileNotFoundError, NotADirectoryError):
        return FileKind.MISSING
    except IsADirectoryError:
        return FileKind.OTHER
    with os.fdopen(fd, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            return FileKind.SPECIAL  # swapped for something else since the stat
        header = handle.read(_HEADER_SIZE)
    if not header:
        return FileKind.EMPTY
    if header.startswith(_SQLITE_MAGIC):
        return FileKind.SQLITE
    if header[_DUCKDB_MAGIC_OFFSET : _DUCKDB_MAGIC_OFFSET + len(_DUCKDB_MAGIC)] == _DUCKDB_MAGIC:
        return FileKind.DUCKDB
    return FileKind.OTHER


def special_file_kind(path: str | os.PathLike[str]) -> str:
    """What a path that is not a regular file is, in words ("FIFO", "character device")."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return "special file"
    for test, name in (
        (stat.S_ISFIFO, "FIFO"),
        (stat.S_ISCHR, "character device"),
        (stat.S_ISBLK, "block device"),
        (stat.S_ISSOCK, "socket"),
        (stat.S_ISDIR, "folder"),
    ):
        if test(mode):
            return name
    return "special file"


def create_private_file(path: str | os.PathLike[str], mode: int = 0o644) -> bool:
    """Create an empty file that is never group- or world-writable, whatever the umask.

    ``O_EXCL`` (which does not follow a symlink) and ``O_NOFOLLOW`` make sure nothing is
    created or changed through a symlink: an existing file or link is left exactly as it is.

    Returns:
        Whether the file was created (False when something of that name exists).
    """
    flags = os.O_CREAT | os.O_EXCL | os.O_WRONLY | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags, mode & ~0o022)
    except FileExistsError:
        return False
    os.close(fd)
    return True


def restrict_new_file(path: str | os.PathLike[str]) -> None:
    """Take group and world write away from a file an engine just created with the umask.

    Only for files this process created a moment ago; the mode of an existing file is the
    user's. A symlink is never followed.
    """
    flags = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)
    try:
        fd = os.open(path, flags)
    except OSError:  # gone, a symlink (ELOOP), or not ours to open
        return
    try:
        info = os.fstat(fd)
        if stat.S_ISREG(info.st_mode) and info.st_mode & 0o022:
            os.fchmod(fd, stat.S_IMODE(info.st_mode) & ~0o022)
    finally:
        os.close(fd)


def describe_file_kind(kind: FileKind) -> str:
    """A short noun phrase for messages, e.g. ``"SQLite database"`` or ``"empty file"``."""
    return _KIND_DESCRIPTIONS[kind]


def foreign_database_error(path: Path, kind: FileKind, expected: FileKind) -> ForeignDatabase:
    """The error for a file of the wrong kind, naming the file and what it is."""
    return ForeignDatabase(
        str(path),
        special_file_kind(path) if kind is FileKind.SPECIAL else describe_file_kind(kind),
        f"a {describe_file_kind(expected)}",
        hint="check the path, or move the file away to start a new database",
    )


def is_read_only_file(path: Path) -> bool:
    """Whether ``path`` is an existing database this process may read but not write: the file
    is read-only, or its folder is (both engines write a log beside the file)."""
    if not path.is_file() or not os.access(path, os.R_OK):
        return False
    return not os.access(path, os.W_OK) or not os.access(path.parent, os.W_OK)


def check_kind(path: Path, expected: FileKind) -> FileKind:
    """Refuse a file that holds another kind of database (or none); return its kind."""
    kind = detect_file_kind(path)
    if kind is FileKind.MISSING and os.path.islink(path):
        # Opening it would create the file the link points at: never create through a link.
        raise ForeignDatabase(
            str(path),
            f"symlink to a missing file ({os.readlink(path)})",
            f"a {describe_file_kind(expected)}",
            hint="create the database at the link's target, or remove the link",
        )
    if kind not in (expected, FileKind.MISSING, FileKind.EMPTY):
        raise foreign_database_error(path, kind, expected)
    return kind
