"""One error hierarchy for everything built on storage_core.

Every error the packages raise on purpose derives from :class:`StorageError`, so a CLI can
turn any of them into a one-line ``Error: ...`` message in one place. Each subclass carries
the facts a caller may want to act on (a URI, a path, revisions, a PID) as attributes, and
its ``str()`` is a single line a person can act on. Vendor exceptions (botocore, OSError,
DuckDB) are never leaked: they are translated and kept as ``__cause__``.
"""

from __future__ import annotations

import errno
import re

__all__ = [
    "AlreadyExists",
    "BackendUnavailable",
    "ConfigError",
    "DatabaseDamaged",
    "DatabaseLocked",
    "DatabaseUnreachable",
    "DiskFull",
    "ForeignDatabase",
    "IntegrityError",
    "InvalidURI",
    "NotFound",
    "PermissionDenied",
    "ReadOnlyDatabase",
    "SchemaOutOfDate",
    "SchemaTooNew",
    "StorageError",
    "StorageFormatTooNew",
    "StorageIOError",
    "disk_full_error",
]


class StorageError(Exception):
    """Root of every error raised on purpose by storage_core and the packages built on it."""

    def __init__(self, message: str) -> None:
        # Keep messages to one line: they are printed as ``Error: <message>``.
        super().__init__(" ".join(message.split()))

    @property
    def message(self) -> str:
        """The one-line message."""
        return str(self.args[0]) if self.args else ""


class NotFound(StorageError, LookupError):
    """A stored object, record or file does not exist.

    Attributes:
        what: the kind of thing looked up ("blob", "project", "file", ...).
        key: the identifier, key or URI that was looked up.
    """

    def __init__(self, what: str, key: str, message: str | None = None) -> None:
        self.what = what
        self.key = key
        super().__init__(message or f"{what} not found: {key}")


class AlreadyExists(StorageError):
    """An object or record that must be new exists already.

    Attributes:
        what: the kind of thing ("blob", "project", ...).
        key: its identifier, key or URI.
    """

    def __init__(self, what: str, key: str, message: str | None = None) -> None:
        self.what = what
        self.key = key
        super().__init__(message or f"{what} already exists: {key}")


class InvalidURI(StorageError, ValueError):
    """A URI or path segment is malformed or would escape its base.

    Attributes:
        uri: the offending input, as given.
        reason: why it was refused.
    """

    def __init__(self, uri: str, reason: str) -> None:
        self.uri = uri
        self.reason = reason
        super().__init__(f"invalid URI {uri!r}: {reason}")


class BackendUnavailable(StorageError):
    """A storage backend cannot be reached or used (missing package, dead endpoint, no bucket).

    Attributes:
        backend: the backend or protocol ("s3", "file", ...).
        reason: what went wrong.
        hint: what the user can do about it, if known.
    """

    def __init__(self, backend: str, reason: str, hint: str | None = None) -> None:
        self.backend = backend
        self.reason = reason
        self.hint = hint
        text = f"{backend} backend unavailable: {reason}"
        if hint:
            text += f" ({hint})"
        super().__init__(text)


class DatabaseUnreachable(StorageError, ConnectionError):
    """A database server cannot be connected to (down, unknown host, refused credentials).

    Attributes:
        database: the URL, its password masked.
        reason: the driver's first line of explanation.
    """

    def __init__(self, database: str, reason: str) -> None:
        self.database = database
        self.reason = reason
        super().__init__(f"{database} cannot be reached: {reason}")


class PermissionDenied(StorageError, PermissionError):
    """The store refused access to an object (file permissions, S3 access denied, bad keys).

    Attributes:
        uri: the location that was refused.
    """

    def __init__(self, uri: str, reason: str = "permission denied") -> None:
        self.uri = uri
        super().__init__(f"{reason}: {uri}")


class IntegrityError(StorageError):
    """Stored bytes do not match what was recorded for them (size or sha256).

    Attributes:
        uri: the location of the bytes.
        expected: the recorded value (a size or a hex digest).
        actual: what was found.
    """

    def __init__(self, uri: str, expected: object, actual: object, what: str = "sha256") -> None:
        self.uri = uri
        self.expected = expected
        self.actual = actual
        self.what = what
        super().__init__(f"{what} mismatch for {uri}: expected {expected}, found {actual}")


class DatabaseLocked(StorageError):
    """Another process holds the database file longer than we were willing to wait.

    Attributes:
        path: the database file.
        pid: the PID of the holding process when the database engine names it, else None.
        waited: seconds spent waiting.
    """

    def __init__(self, path: str, pid: int | None, waited: float) -> None:
        self.path = path
        self.pid = pid
        self.waited = waited
        holder = f"process {pid}" if pid is not None else "another process"
        super().__init__(
            f"database {path} is locked by {holder}; gave up after {waited:.1f} s "
            "(raise the lock timeout or stop that process)"
        )


class SchemaTooNew(StorageError):
    """The database was written by a newer version of the software.

    Attributes:
        path: the database file or URL.
        found: the revision stored in the database.
        head: the newest revision this code knows.
    """

    def __init__(self, path: str, found: str, head: str) -> None:
        self.path = path
        self.found = found
        self.head = head
        super().__init__(
            f"database {path} is at schema revision {found}, which this version does not know "
            f"(newest known: {head}); upgrade the software"
        )


class SchemaOutOfDate(StorageError):
    """The database schema is behind this code and was not upgraded automatically.

    Attributes:
        path: the database file or URL.
        current: the revision stored in the database (None when it has none).
        head: the newest revision this code knows.
    """

    def __init__(self, path: str, current: str | None, head: str) -> None:
        self.path = path
        self.current = current
        self.head = head
        super().__init__(
            f"database {path} is at schema revision {current or 'none'}, behind {head}; "
            "run the 'db upgrade' command"
        )


class ForeignDatabase(StorageError):
    """A file given as a database is not one of ours (or not a database at all).

    Attributes:
        path: the file.
        kind: what the file was recognised as ("SQLite database", "DuckDB database", ...).
    """

    def __init__(self, path: str, kind: str, expected: str, hint: str | None = None) -> None:
        self.path = path
        self.kind = kind
        self.expected = expected
        text = f"{path} is a {kind}, not {expected}"
        if hint:
            text += f"; {hint}"
        super().__init__(text)


class DatabaseDamaged(StorageError):
    """A database file cannot be read: truncated, or its blocks are damaged.

    Attributes:
        path: the file.
        detail: what the database library reported, in one line.
    """

    def __init__(self, path: str, detail: str) -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"database {path} is damaged or truncated ({detail}); nothing was written to it; "
            "restore it from a backup"
        )


class ReadOnlyDatabase(StorageError, PermissionError):
    """A write to a database that the user made read-only (its file or its folder).

    Reads of such a database work; its mode is never changed.

    Attributes:
        path: the file.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(
            f"database {path} is read-only: it can be read but not written; nothing was "
            "changed (give the file and its folder write permission to write to it)"
        )


class StorageFormatTooNew(StorageError):
    """A database file was written by a newer DuckDB release than the installed library reads.

    Attributes:
        path: the database file.
        written_by: the version of the DuckDB that wrote it ("2.1.0").
        installed: the installed duckdb version ("2.0.0").
    """

    def __init__(self, path: str, written_by: str, installed: str) -> None:
        self.path = path
        self.written_by = written_by
        self.installed = installed
        major, minor = written_by.split(".")[:2]
        super().__init__(
            f"database {path} was written by DuckDB {written_by}, whose storage format the "
            f"installed duckdb {installed} cannot read; upgrade it: "
            f"pip install 'duckdb>={major}.{minor}'"
        )


class ConfigError(StorageError, ValueError):
    """A configuration value (environment variable, option, .env entry) is invalid.

    Attributes:
        name: the variable or option name.
        value: the offending value (never a secret: callers pass a placeholder for those).
    """

    def __init__(self, name: str, value: object, reason: str) -> None:
        self.name = name
        self.value = value
        super().__init__(f"invalid {name}={value!r}: {reason}")


class StorageIOError(StorageError):
    """A store operation failed for a reason no more specific error describes (an I/O error).

    The vendor exception (OSError, botocore) is kept as ``__cause__``.

    Attributes:
        uri: the location the operation was about.
        operation: what was attempted ("read", "write", "delete", "list", ...).
        reason: the underlying error, in one line.
    """

    def __init__(self, uri: str, operation: str, reason: str) -> None:
        self.uri = uri
        self.operation = operation
        self.reason = reason
        super().__init__(f"cannot {operation} {uri}: {reason}")


class DiskFull(StorageError, OSError):
    """A write failed because the disk (or the user's quota) is full.

    Every write path is one transaction or writes a temporary file that is renamed at the
    end, so the failed command stored nothing and everything stored before is intact.

    Attributes:
        path: the file that could not be written (or the database it belongs to).
        detail: what the system or the database library said, in one line.
    """

    def __init__(self, path: str, detail: str = "No space left on device") -> None:
        self.path = path
        self.detail = detail
        super().__init__(
            f"the disk is full: could not write {path} ({detail}); nothing of this command "
            "was stored and everything stored before is kept; free some space and run it again"
        )


_DISK_FULL_TEXT = ("No space left on device", "database or disk is full", "Disk quota exceeded")
_WRITE_TARGET = re.compile(r'(?:write|extend|open|create) file "([^"]+)"')


def disk_full_error(err: BaseException, where: str | None = None) -> DiskFull | None:
    """The :class:`DiskFull` error when ``err`` (or an error it arose from) says the disk is
    full, else None.

    Database libraries report a full disk in their own words, sometimes only in an earlier
    exception (DuckDB: "Current transaction is aborted" after a failed write), so the whole
    chain of causes and contexts is searched.

    Args:
        err: the error raised.
        where: the file to name when the error does not say which one (the database).
    """
    seen: set[int] = set()
    pending: list[BaseException | None] = [err]
    while pending:
        current = pending.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        text = str(current)
        full = isinstance(current, OSError) and current.errno in (errno.ENOSPC, errno.EDQUOT)
        if full or any(marker in text for marker in _DISK_FULL_TEXT):
            if isinstance(current, DiskFull):
                return current
            match = _WRITE_TARGET.search(text)
            named = getattr(current, "filename", None) or getattr(current, "uri", None)
            path = match.group(1) if match else named or where or "the database"
            detail = next((m for m in _DISK_FULL_TEXT if m in text), "No space left on device")
            return DiskFull(str(path), detail)
        if "disk I/O error" in text and where and _no_space_left(where):
            # SQLite says only "disk I/O error" when a write hits a full disk.
            return DiskFull(where, "No space left on device")
        pending += [getattr(current, "orig", None), current.__cause__, current.__context__]
    return None


def _no_space_left(path: str) -> bool:
    """Whether the file system holding ``path`` has (next to) no space left."""
    import os

    folder = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 1 << 20
