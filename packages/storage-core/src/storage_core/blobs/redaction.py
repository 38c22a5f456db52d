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
import re
import threading

__all__ = [
    "VENDOR_LOGGERS",
    "RedactingFilter",
    "install_redaction",
    "redact",
    "redact_userinfo",
    "register_secrets",
]

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


# The userinfo of any URL in a text: scheme://user:password@host -> scheme://***@host.
_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)[^/?#@\s]+@")


def redact_userinfo(text: str) -> str:
    """``text`` with the user and password of every URL in it replaced by ``***``."""
    return _USERINFO.sub(r"\g<scheme>***@", text)


def redact(text: str) -> str:
    """``text`` with every registered secret, and the userinfo of every URL, replaced by ``***``."""
    for secret in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(secret, "***")
    return redact_userinfo(text)


class RedactingFilter(logging.Filter):
    """Rewrites a record's message (and traceback) with secrets and URL userinfo redacted."""

    def filter(self, record: logging.LogRecord) -> bool:
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
    values = {secret for secret in secrets if secret}
    with _LOCK:
        _SECRETS.update(values)
    install_redaction()


def install_redaction() -> None:
    """Put the redacting filter on the vendor loggers (once): URLs lose their userinfo, and
    registered secrets are replaced, in every record they emit."""
    global _installed
    with _LOCK:
        if not _installed:
            for name in VENDOR_LOGGERS:
                logging.getLogger(name).addFilter(RedactingFilter())
            _installed = True
