"""What every buildlog command shares: the global options, backend resolution, output."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import click

from storage_core.cli_support import echo_json, echo_rows, echo_table, output_format

if TYPE_CHECKING:
    from buildlog.backends.resolve import Resolution
    from buildlog.backends.sqlite import SQLiteBackend

__all__ = ["CliState", "emit", "pass_state", "resolve", "resolve_sqlite"]


@dataclass
class CliState:
    """The group's options, shared with every command through ``ctx.obj``."""

    project_root: str | None = None
    db: str | None = None
    resolution: Resolution | None = field(default=None, repr=False)


pass_state = click.make_pass_decorator(CliState)


def resolve(state: CliState, *, create: bool = True) -> Resolution:
    """Resolve the backend once per invocation; notices go to stderr; closed at exit.

    Args:
        create: False for commands that only read: with no database and no legacy files
            they see an empty project instead of creating the database.
    """
    if state.resolution is None:
        from buildlog.backends.resolve import resolve_backend

        state.resolution = resolve_backend(state.project_root, state.db, create=create)
        click.get_current_context().call_on_close(state.resolution.backend.close)
        for notice in state.resolution.notices:
            click.echo(f"buildlog: {notice}", err=True)
    return state.resolution


def resolve_sqlite(state: CliState, purpose: str) -> SQLiteBackend:
    """The database backend, or an error saying the project still uses legacy files.

    Args:
        state: the group's options.
        purpose: what the command does, for the message ("export").
    """
    from buildlog.backends.sqlite import SQLiteBackend
    from buildlog.errors import ReadOnlyBackend

    resolution = resolve(state)
    if not isinstance(resolution.backend, SQLiteBackend):
        assert resolution.layout is not None  # case 3 always has legacy files
        raise ReadOnlyBackend(resolution.layout.data_dir, purpose)
    return resolution.backend


def emit(
    rows: Iterable[Mapping[str, Any]] | Mapping[str, Any],
    columns: Sequence[str],
    *,
    as_json: bool,
) -> None:
    """Print records: an aligned table, or JSON (a list, or one object) with ``--json``."""
    if as_json:
        echo_json(rows if isinstance(rows, Mapping) else list(rows))
        return
    listed = [rows] if isinstance(rows, Mapping) else list(rows)
    if output_format() != "table":
        echo_rows(listed, columns, output_format())  # the records as they are, lists included
        return
    echo_table(({k: _cell(v) for k, v in row.items()} for row in listed), columns)


def _cell(value: Any) -> Any:
    # Lists read better as "a, b" than as Python reprs in a table.
    return ", ".join(map(str, value)) if isinstance(value, list) else value


def as_rows(records: Iterable[object]) -> list[dict[str, Any]]:
    """Records as JSON-ready dicts."""
    from buildlog.records import record_to_dict

    return [record_to_dict(record) for record in records]
