"""DuckDB's storage format: which DuckDB wrote a file, and whether the installed one can read it.

The format is the one hard constraint on the ``duckdb`` version range: a file written by a
newer DuckDB may use a storage format an older library cannot read (DuckDB 1.x cannot read
files written by 2.0). DuckDB's own error for that is a version number or a checksum failure,
which reads like damage; this module names the cause instead, from the file's main header.

The main header (DuckDB >= 1.2) holds the magic ``DUCK`` at byte 8 and the writing library's
version string ("v2.0.0") in the 32 bytes from byte 52. It is read only after DuckDB has
refused a file, so opening a good file costs nothing extra.
"""

from __future__ import annotations

import re
from pathlib import Path

from storage_core.database.duckdb_client import client
from storage_core.errors import StorageFormatTooNew

__all__ = ["installed_duckdb_version", "newer_format_error", "writer_version"]

_MAGIC = b"DUCK"
_MAGIC_OFFSET = 8
_VERSION_OFFSET = 52
_VERSION_SIZE = 32
_VERSION = re.compile(r"v?(\d+)\.(\d+)\.(\d+)")


def _release(text: str) -> tuple[int, int] | None:
    """A version's (major, minor): DuckDB changes its storage format only in those releases."""
    match = _VERSION.match(text)
    return (int(match.group(1)), int(match.group(2))) if match else None


def installed_duckdb_version() -> str:
    """The version of the installed duckdb library ("2.0.0")."""
    return str(client.__version__)


def writer_version(path: Path) -> str | None:
    """The version of the DuckDB that wrote ``path`` ("v2.0.0"), or None when unknown."""
    try:
        with path.open("rb") as handle:
            header = handle.read(_VERSION_OFFSET + _VERSION_SIZE)
    except OSError:
        return None
    if header[_MAGIC_OFFSET : _MAGIC_OFFSET + len(_MAGIC)] != _MAGIC:
        return None
    raw = header[_VERSION_OFFSET : _VERSION_OFFSET + _VERSION_SIZE].split(b"\0", 1)[0]
    text = raw.decode("ascii", errors="replace")
    return text if _VERSION.match(text) else None


def newer_format_error(path: Path) -> StorageFormatTooNew | None:
    """The error for a file DuckDB refused because a newer DuckDB release wrote it, else None.

    Args:
        path: a DuckDB file the installed library failed to open.
    """
    written_by = writer_version(path)
    installed = installed_duckdb_version()
    if written_by is None:
        return None
    theirs, ours = _release(written_by), _release(installed)
    if theirs is None or ours is None or theirs <= ours:
        return None
    return StorageFormatTooNew(str(path), written_by.lstrip("v"), installed)
