"""diary's own errors, all subclasses of :class:`storage_core.errors.StorageError`.

The shared ones (``NotFound``, ``AlreadyExists``, ``DatabaseLocked``, ``ForeignDatabase``, ...)
come from :mod:`storage_core.errors` and are re-exported here for convenience.
"""

from __future__ import annotations

from storage_core.errors import (
    AlreadyExists,
    BackendUnavailable,
    ConfigError,
    DatabaseLocked,
    ForeignDatabase,
    IntegrityError,
    NotFound,
    SchemaOutOfDate,
    SchemaTooNew,
    StorageError,
)

__all__ = [
    "AlreadyExists",
    "ArtifactTooLarge",
    "BackendUnavailable",
    "ConfigError",
    "DatabaseLocked",
    "ForeignDatabase",
    "IntegrityError",
    "InvalidValue",
    "NotFound",
    "ParameterConflict",
    "ReferencedError",
    "SchemaOutOfDate",
    "SchemaTooNew",
    "StorageError",
]


class ParameterConflict(StorageError):
    """A parameter was logged again with a different value.

    Attributes:
        iteration_id: the iteration.
        key: the parameter.
        stored: the value it already has.
        given: the value that was refused.
    """

    def __init__(self, iteration_id: str, key: str, stored: str, given: str) -> None:
        self.iteration_id = iteration_id
        self.key = key
        self.stored = stored
        self.given = given
        super().__init__(
            f"parameter {key!r} of iteration {iteration_id} is already {stored!r}; "
            f"refusing {given!r} (a parameter is set once per iteration)"
        )


class ReferencedError(StorageError):
    """A row cannot be deleted because another row still refers to it.

    Attributes:
        what: the kind of row being deleted ("iteration", "experiment", ...).
        key: its id.
        referrer: a description of the first referring row.
    """

    def __init__(self, what: str, key: str, referrer: str) -> None:
        self.what = what
        self.key = key
        self.referrer = referrer
        super().__init__(f"cannot delete {what} {key}: {referrer}")


class InvalidValue(StorageError, ValueError):
    """An argument is outside what diary accepts (an empty name, an unknown status, ...).

    Attributes:
        name: the argument.
        value: the refused value.
        reason: why it was refused.
    """

    def __init__(
        self, name: str, value: object, reason: str, *, message: str | None = None
    ) -> None:
        self.name = name
        self.value = value
        self.reason = reason
        super().__init__(message or f"invalid {name} {value!r}: {reason}")


class ArtifactTooLarge(StorageError):
    """An artifact is larger than the inline store accepts.

    Attributes:
        size: the artifact's size in bytes (at least ``limit + 1`` when read from a stream).
        limit: the configured limit (``DEARDIARY_ARTIFACT_INLINE_MAX_BYTES``).
    """

    def __init__(self, size: int, limit: int) -> None:
        self.size = size
        self.limit = limit
        super().__init__(
            f"artifact is larger than the inline limit of {limit} bytes "
            "(DEARDIARY_ARTIFACT_INLINE_MAX_BYTES); raise the limit or use the filesystem "
            "or s3 artifact backend"
        )
