"""Keep S3 keys out of the debug logs of botocore, aiobotocore and s3fs.

At DEBUG level botocore logs every request with its headers (the ``Authorization`` header
names the access key) and every error response body (S3's ``InvalidAccessKeyId`` answer
repeats the key). Those records are created on a few named loggers; a filter on each of them
rewrites the message with every registered secret replaced by ``***`` before any handler
sees it, whoever configured the handlers (the CLIs' ``--debug``, an application, pytest).

Filters are attached to loggers, not handlers, so the library configures no handler and
changes no level: it only scrubs what those loggers already emit.
"""

from __future__ import annotations

import logging
import threading

__all__ = ["VENDOR_LOGGERS", "redact", "register_secrets"]

#: The loggers that emit request headers, response bodies or credentials at DEBUG.
VENDOR_LOGGERS = (
    "botocore.endpoint",
    "botocore.parsers",
    "botocore.auth",
    "botocore.hooks",
    "botocore.credentials",
    "botocore.retryhandler",
    "botocore.retries.standard",
    "aiobotocore.endpoint",
    "aiobotocore.parsers",
    "aiobotocore.credentials",
    "s3fs",
    "fsspec",
)

_SECRETS: set[str] = set()
_LOCK = threading.Lock()
_installed = False


def redact(text: str) -> str:
    """``text`` with every registered secret replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return text


class _RedactingFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if not _SECRETS:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def register_secrets(*secrets: str | None) -> None:
    """Add values that must never appear in the vendor loggers' records (empty ones ignored)."""
    global _installed
    values = {secret for secret in secrets if secret}
    if not values:
        return
    with _LOCK:
        _SECRETS.update(values)
        if not _installed:
            for name in VENDOR_LOGGERS:
                logging.getLogger(name).addFilter(_RedactingFilter())
            _installed = True
