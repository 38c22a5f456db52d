"""What the diary and buildlog command lines share: one error boundary and output helpers.

Both CLIs are thin Click layers over their libraries. Errors are turned into output in exactly
one place, :class:`ErrorBoundaryGroup`: a :class:`~storage_core.errors.StorageError` becomes
``Error: <one line>`` on stderr with exit status 1; any other exception is reported the same
way as an internal error. The traceback is shown only with ``--debug``. Results go to stdout,
everything else (logs, progress, errors) to stderr.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
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
    "FORMATS",
    "PIPE_CLOSED_STATUS",
    "ErrorBoundaryGroup",
    "debug_option",
    "echo_json",
    "echo_rows",
    "echo_table",
    "json_default",
    "json_option",
    "output_format",
    "strict_json",
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


#: The output formats of every command that prints records.
FORMATS = ("table", "json", "jsonl", "csv")
_FORMAT_KEY = "storage_core.format"


def _remember_format(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    ctx.meta[_FORMAT_KEY] = value


def _resolve_json(ctx: click.Context, _param: click.Parameter, value: bool) -> bool:
    chosen = ctx.meta.get(_FORMAT_KEY)
    if value and chosen not in (None, "json"):
        raise click.UsageError(f"--json and --format {chosen} contradict each other; give one")
    final = "json" if value else (chosen or "table")
    ctx.meta[_FORMAT_KEY] = final
    return final == "json"


def json_option(func: F) -> F:
    """Add ``--format table|json|jsonl|csv`` and ``--json`` (the same as ``--format json``).

    The command receives ``as_json``; the printing helpers (:func:`echo_table`,
    :func:`echo_json`) read the chosen format themselves, so every command that prints
    records speaks all four.
    """
    func = click.option(
        "--json", "as_json", is_flag=True, callback=_resolve_json,
        help="Print JSON on stdout (the same as --format json).",
    )(func)  # fmt: skip
    return click.option(
        "--format", type=click.Choice(FORMATS), is_eager=True, expose_value=False,
        callback=_remember_format,
        help="Output format: an aligned table, a JSON array, JSON lines or CSV [default: table].",
    )(func)  # fmt: skip


def output_format() -> str:
    """The format chosen for this command's output (``table`` unless told otherwise)."""
    ctx = click.get_current_context(silent=True)
    return str(ctx.meta.get(_FORMAT_KEY) or "table") if ctx is not None else "table"


def strict_json(value: object) -> object:
    """``value`` with NaN and the infinities as the strings ``"NaN"``, ``"Infinity"`` and
    ``"-Infinity"``: strict JSON (no bare NaN, which parsers reject and jq misreads), and
    still exact (Python's ``float()`` reads the strings back)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, Mapping):
        return {key: strict_json(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [strict_json(item) for item in value]
    return value


def _json_text(value: object, indent: int | None) -> str:
    plain = json.loads(json.dumps(value, default=json_default, allow_nan=True))
    return json.dumps(strict_json(plain), ensure_ascii=False, indent=indent, allow_nan=False)


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
    """Print ``value`` as strict JSON (ISO 8601 timestamps, UUIDs as strings, non-finite
    numbers as strings; see :func:`strict_json`) on stdout; one line per record under
    ``--format jsonl``."""
    if output_format() == "jsonl":
        for item in value if isinstance(value, list) else [value]:
            click.echo(_json_text(item, None), file=file)
        return
    click.echo(_json_text(value, 2), file=file)


def echo_table(
    rows: Iterable[Mapping[str, object]],
    columns: Sequence[str],
    *,
    file: IO[str] | None = None,
) -> None:
    """Print records as a plain aligned text table (no colours: output is often piped), or
    in the format the command was given: JSON, JSON lines or CSV (every field of the
    records, the table's columns first)."""
    chosen = output_format()
    if chosen != "table":
        echo_rows(list(rows), columns, chosen, file=file)
        return
    materialised = [[_cell(row.get(column)) for column in columns] for row in rows]
    widths = [
        max([len(column), *(len(r[i]) for r in materialised)]) for i, column in enumerate(columns)
    ]
    limit = _terminal_width(file)
    if limit is not None:
        widths = _fit(widths, limit)
        materialised = [
            [_clip(value, width) for value, width in zip(r, widths, strict=True)]
            for r in materialised
        ]
        columns = [_clip(c, w) for c, w in zip(columns, widths, strict=True)]
    lines = ["  ".join(c.upper().ljust(w) for c, w in zip(columns, widths, strict=True)).rstrip()]
    lines.extend(
        "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in materialised
    )
    # One write: a call of click.echo per row costs more than formatting the row.
    click.echo("\n".join(lines), file=file)


def _terminal_width(file: IO[str] | None) -> int | None:
    """The terminal's width when printing to one; None for a pipe or a file (never clipped)."""
    stream = file or sys.stdout
    try:
        if not stream.isatty():
            return None
    except (AttributeError, ValueError):
        return None
    import shutil

    return shutil.get_terminal_size((120, 24)).columns


def _fit(widths: list[int], limit: int, floor: int = 8) -> list[int]:
    """Narrow the widest columns until the row (two spaces between columns) fits ``limit``."""
    widths = list(widths)
    while sum(widths) + 2 * (len(widths) - 1) > limit:
        widest = max(range(len(widths)), key=widths.__getitem__)
        if widths[widest] <= floor:
            break
        widths[widest] -= 1
    return widths


def _clip(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat(timespec="seconds")
    return _one_line(str(value))


def echo_rows(
    rows: Sequence[Mapping[str, object]],
    columns: Sequence[str],
    chosen: str,
    *,
    file: IO[str] | None = None,
) -> None:
    """Print records as ``json``, ``jsonl`` or ``csv`` (every field; ``columns`` first)."""
    if chosen in ("json", "jsonl"):
        if chosen == "json":
            click.echo(_json_text(list(rows), 2), file=file)
        else:
            for row in rows:
                click.echo(_json_text(row, None), file=file)
        return
    fields = list(dict.fromkeys([*columns, *(key for row in rows for key in row)]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(fields)
    for row in rows:
        writer.writerow([_csv_cell(row.get(name)) for name in fields])
    click.echo(out.getvalue(), file=file, nl=False)


def _csv_cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return repr(value)  # nan, inf, -inf and every digit of the value
    if isinstance(value, list | tuple | dict):
        return _json_text(value, None)
    if isinstance(value, datetime | date | UUID | Path | Enum):
        return str(json_default(value))
    return str(value)


def copy_progress(table: str, done: int, total: int) -> None:
    """A ``db copy`` progress callback: one line on stderr, rewritten as batches commit."""
    click.echo(f"\r{table}: {done}/{total}", nl=False, err=True)


def echo_copy_report(report: Any, as_json: bool) -> None:
    """Print a ``db copy`` report (a :class:`storage_core.database.copying.CopyReport`): the
    rows of each table and how many were new, or the report as JSON."""
    if as_json:
        echo_json(report.to_dict())
        return
    click.echo("", err=True)  # end the progress line
    for name, rows in report.rows.items():
        click.echo(f"{name}: {rows} rows, {report.added[name]} new")
    click.echo(f"copied {report.source} to {report.target} (verified)")
