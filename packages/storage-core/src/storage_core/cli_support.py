"""What the diary and buildlog command lines share: one error boundary and output helpers.

Both CLIs are thin Click layers over their libraries. Errors are turned into output in exactly
one place, :class:`ErrorBoundaryGroup`: a :class:`~storage_core.errors.StorageError` becomes
``Error: <one line>`` on stderr with exit status 1; any other exception is reported the same
way as an internal error. The traceback is shown only with ``--debug``. Results go to stdout,
everything else (logs, progress, errors) to stderr.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import IO, Any, TypeVar
from uuid import UUID

import click

from storage_core.errors import StorageError, disk_full_error

__all__ = [
    "PIPE_CLOSED_STATUS",
    "ErrorBoundaryGroup",
    "debug_option",
    "echo_json",
    "echo_table",
    "json_default",
    "json_option",
]

F = TypeVar("F", bound=Callable[..., Any])

_DEBUG_KEY = "storage_core.debug"


def _one_line(text: str) -> str:
    return " ".join(text.split())


class ErrorBoundaryGroup(click.Group):
    """A Click group that turns every failure into ``Error: ...`` and exit status 1.

    Subgroups created with ``@group.group()`` inherit the class, but only the outermost
    invocation handles errors, so each failure is reported once. ``--debug`` (see
    :func:`debug_option`) re-raises the original exception so Python prints the traceback.
    """

    group_class = type  # subgroups are created with the same class

    def invoke(self, ctx: click.Context) -> Any:
        """Invoke the group, translating errors into one-line messages."""
        if ctx.parent is not None:
            return super().invoke(ctx)
        try:
            return self._invoke_reporting_full_disks(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader went away (`diary project list | head`): stop quietly, as Unix tools do.
            _silence_stdout()
            raise click.exceptions.Exit(PIPE_CLOSED_STATUS) from None
        except StorageError as err:
            if ctx.meta.get(_DEBUG_KEY):
                raise
            raise click.ClickException(_one_line(str(err))) from err
        except KeyboardInterrupt:
            if ctx.meta.get(_DEBUG_KEY):
                raise
            raise click.Abort() from None
        except Exception as err:
            if ctx.meta.get(_DEBUG_KEY):
                raise
            detail = _one_line(str(err)) or type(err).__name__
            raise click.ClickException(
                f"internal error ({type(err).__name__}): {detail}; rerun with --debug for details"
            ) from err

    def _invoke_reporting_full_disks(self, ctx: click.Context) -> Any:
        # A full disk surfaces in many guises (DuckDB's "transaction is aborted", SQLite's
        # OperationalError, an IOException): whatever the layer, say that the disk is full.
        try:
            return super().invoke(ctx)
        except (click.exceptions.Exit, click.Abort, click.ClickException, BrokenPipeError):
            raise
        except Exception as err:
            full = disk_full_error(err)
            if full is None or full is err or ctx.meta.get(_DEBUG_KEY):
                raise
            raise full from err


# What a shell reports for a process that SIGPIPE ended (128 + 13), as for `yes | head -1`.
PIPE_CLOSED_STATUS = 141


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so the interpreter's last flush of it cannot fail again."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no real file behind stdout (a test runner's buffer)
        pass


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    if value:
        ctx.meta[_DEBUG_KEY] = True
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
        from storage_core.blobs.redaction import RedactingFilter, install_redaction

        # Whatever logs a URL at DEBUG (a database URL, an endpoint), its userinfo is shown
        # as ***: the filter sits on the handler, so every logger's records pass it.
        install_redaction()
        for handler in logging.getLogger().handlers:
            handler.addFilter(RedactingFilter())
    return value


def debug_option(func: F) -> F:
    """Add ``--debug``: show tracebacks and debug logs on stderr."""
    option = click.option(
        "--debug",
        is_flag=True,
        expose_value=False,
        is_eager=True,
        callback=_set_debug,
        help="Show tracebacks and debug logs on stderr.",
    )
    return option(func)


def json_option(func: F) -> F:
    """Add ``--json``: print machine-readable JSON on stdout instead of text."""
    return click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout.")(func)


def json_default(value: object) -> object:
    """Serialise the non-JSON types that records carry (UUIDs, datetimes, paths, enums)."""
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Path):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        return to_dict()
    raise TypeError(f"cannot serialise {type(value).__name__} as JSON")


def echo_json(value: object, *, file: IO[str] | None = None) -> None:
    """Print ``value`` as JSON (ISO 8601 timestamps, UUIDs as strings) on stdout."""
    click.echo(
        json.dumps(value, default=json_default, ensure_ascii=False, indent=2, allow_nan=True),
        file=file,
    )


def echo_table(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str],
    *,
    file: IO[str] | None = None,
) -> None:
    """Print records as a plain aligned text table (no colours: output is often piped)."""
    materialised = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(r[i]) for r in materialised)]) for i, column in enumerate(columns)
    ]
    click.echo(
        "  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip(),
        file=file,
    )
    for r in materialised:
        click.echo(
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip(), file=file
        )


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return _one_line(str(value))
