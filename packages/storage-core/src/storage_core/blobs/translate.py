"""The one place where backend errors (OSError, botocore, aiohttp) become storage_core errors.

s3fs already turns most S3 error codes into OSError subclasses (see its
``translate_boto_error``) and keeps the botocore ``ClientError`` as ``__cause__``; what is left
here is to tell a missing bucket from a missing key, recognise connection failures (raised as
botocore/aiohttp exceptions, not OSError) and keep secrets out of every message. botocore is
never imported here: exceptions are recognised by class name and module, so this module stays
cheap to import.
"""

from __future__ import annotations

import errno
from collections.abc import Iterable
from dataclasses import dataclass

from storage_core.errors import (
    AlreadyExists,
    BackendUnavailable,
    NotFound,
    PermissionDenied,
    StorageError,
    StorageIOError,
)

__all__ = ["ErrorContext", "translate_error"]

_PERMISSION_CODES = frozenset(
    {
        "AccessDenied",
        "AllAccessDisabled",
        "InvalidAccessKeyId",
        "InvalidSecurity",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "InvalidToken",
        "AccountProblem",
    }
)
_CREDENTIAL_ERRORS = frozenset({"NoCredentialsError", "PartialCredentialsError"})
# Exception class names (botocore, aiohttp, asyncio, builtins) that mean "could not talk to
# the server at all", as opposed to "the server said no".
_UNREACHABLE_ERRORS = frozenset(
    {
        "EndpointConnectionError",
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "ConnectionClosedError",
        "ProxyConnectionError",
        "ClientConnectorError",
        "ServerDisconnectedError",
        "ServerTimeoutError",
        "TimeoutError",
        "ConnectionError",
    }
)
# Errors that mean "this key is not a blob" when reading: a directory, or a path through a file.
_NOT_A_BLOB_ERRNOS = frozenset({errno.ENOENT, errno.EISDIR, errno.ENOTDIR})


@dataclass(frozen=True)
class ErrorContext:
    """What a store knows about itself when it translates an error.

    Attributes:
        backend: the protocol ("file", "s3", "memory", ...).
        endpoint: where the backend lives, for "cannot reach" messages.
        bucket: the bucket (or "" when the backend has none).
        secrets: strings that must never appear in a message.
    """

    backend: str
    endpoint: str | None = None
    bucket: str = ""
    secrets: tuple[str, ...] = ()

    def redact(self, text: str) -> str:
        """Replace every secret in ``text`` with ``***``."""
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return text


def _chain(err: BaseException) -> Iterable[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _class_names(err: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(err).__mro__}


def _error_code(err: BaseException) -> str | None:
    """The S3 error code of the first botocore ClientError in the cause chain, if any."""
    for exc in _chain(err):
        response = getattr(exc, "response", None)
        if isinstance(response, dict):
            code = response.get("Error", {}).get("Code")
            if code:
                return str(code)
    return None


def _reason(err: BaseException) -> str:
    if isinstance(err, OSError) and err.strerror:
        return err.strerror
    return str(err) or type(err).__name__


def translate_error(
    err: BaseException, uri: str, operation: str, context: ErrorContext
) -> BaseException:
    """Return the storage_core error for a backend exception (``err`` itself when none fits).

    Callers ``raise translate_error(err, ...) from err`` so the original stays the cause.
    Non-I/O exceptions (``TypeError`` from a caller's mistake, ``KeyboardInterrupt``) are
    returned unchanged.

    Args:
        err: the exception raised by the backend.
        uri: the canonical URI the operation was about.
        operation: a verb for messages ("read", "write", "delete", "list", "stat").
        context: the store's backend, endpoint, bucket and secrets.
    """
    if isinstance(err, StorageError):
        return err
    code = _error_code(err)
    names = set().union(*(_class_names(exc) for exc in _chain(err)))
    message = context.redact(_reason(err))

    if code == "NoSuchBucket" or "bucket does not exist" in message.lower():
        return BackendUnavailable(context.backend, f"bucket {context.bucket!r} does not exist")
    if code in _PERMISSION_CODES or (context.backend == "s3" and isinstance(err, PermissionError)):
        # A HEAD request's 403 has no body, hence no code: the keys are the usual suspect.
        detail = f"{code}; " if code in _PERMISSION_CODES else ""
        endpoint = context.endpoint or context.backend
        return PermissionDenied(
            uri, f"access denied by {endpoint} ({detail}check the access key and secret key)"
        )
    if names & _CREDENTIAL_ERRORS:
        return PermissionDenied(uri, "no usable credentials (set an access key and secret key)")
    if isinstance(err, FileExistsError):
        return AlreadyExists("blob", uri)
    if isinstance(err, PermissionError):
        return PermissionDenied(uri)
    if isinstance(err, OSError) and err.errno in _NOT_A_BLOB_ERRNOS and operation != "write":
        return NotFound("blob", uri)
    if isinstance(err, FileNotFoundError | IsADirectoryError | NotADirectoryError):
        if operation != "write":
            return NotFound("blob", uri)
        return StorageIOError(uri, operation, message)
    if context.backend != "file" and names & _UNREACHABLE_ERRORS:
        endpoint = context.endpoint or context.backend
        kind = "timed out" if any("Timeout" in name for name in names) else "connection failed"
        return BackendUnavailable(context.backend, f"cannot reach {endpoint}: {kind}")
    if isinstance(err, OSError) or names & {"BotoCoreError", "ClientError"}:
        return StorageIOError(uri, operation, message)
    return err
