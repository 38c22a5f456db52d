"""What the command groups share: the store of the invocation and output helpers."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from storage_core.cli_support import echo_json, echo_rows, echo_table, output_format

if TYPE_CHECKING:
    from diary.config import Settings
    from diary.query.direct import DirectReader
    from diary.store import Store

__all__ = [
    "ARTIFACT",
    "ITERATION",
    "MODEL",
    "MODEL_VERSION",
    "READ_ITERATION",
    "CliState",
    "StoredId",
    "close_store",
    "direct_reader",
    "echo_created",
    "echo_record",
    "echo_records",
    "settings",
    "store",
    "stored_id",
]


@dataclass
class CliState:
    """The group options and the store opened for this invocation (closed at the end)."""

    db_path: str | None = None
    env_file: str | None = None
    opened: Store | None = field(default=None, repr=False)
    direct: DirectReader | None = field(default=None, repr=False)
    direct_tried: bool = field(default=False, repr=False)
    loaded: Settings | None = field(default=None, repr=False)

    def settings(self) -> Settings:
        """The settings from the options, the environment and the .env file."""
        from diary.config import load_settings

        if self.loaded is None:  # once: unknown variables are warned about once
            self.loaded = load_settings(env_file=self.env_file, db_file=self.db_path)
        return self.loaded

    def store(self, *, buffered: bool = False, create: bool = False) -> Store:
        """The store, opened (and migrated) on first use.

        Args:
            buffered: buffer logging until the command ends (bulk imports); by default every
                write is durable when the call returns.
            create: create the database when there is none (``project create``). Every
                other command refers to something that must exist already, so a mistyped
                ``--db`` is an error rather than a new, empty database.

        Raises:
            NotFound: there is no database file and ``create`` is false.
        """
        if self.opened is None:
            from diary.store import Store

            # DuckDB refuses a second connection of another configuration in one process.
            self._close_direct()
            config = self.settings()
            if not create:
                _require_database(config)
            self.opened = Store(config, buffered=buffered)
        return self.opened

    def reader(self) -> DirectReader | None:
        """The direct read path (:mod:`diary.query.direct`) for a command that only reads, or
        None when the store must answer (call :meth:`store` then).

        Raises:
            NotFound: there is no database file.
        """
        if not self.direct_tried and self.opened is None:
            from diary.query.direct import open_reader

            self.direct_tried = True
            config = self.settings()
            _require_database(config)
            self.direct = open_reader(config)
        return self.direct

    def _close_direct(self) -> None:
        if self.direct is not None:
            self.direct.close()
            self.direct = None

    def close(self) -> None:
        """Close the store or the direct reader if a command opened one."""
        self._close_direct()
        if self.opened is not None:
            self.opened.close()
            self.opened = None


def _require_database(config: Settings) -> None:
    from diary.errors import NotFound

    path = config.db_file if not config.db_url else _sqlite_file(config.db_url)
    if path is not None and not path.exists():
        raise NotFound(
            "database",
            str(path),
            message=f"no diary database at {path}; check --db and DEARDIARY_DB_FILE, or "
            "create one with 'diary project create NAME'",
        )


def _sqlite_file(url: str) -> Path | None:
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "duckdb") or not parsed.database:
        return None
    return None if parsed.database == ":memory:" else Path(parsed.database)


def _state() -> CliState:
    state = click.get_current_context().find_object(CliState)
    if state is None:  # a command invoked outside the diary group
        state = CliState()
    return state


def settings() -> Settings:
    """The current invocation's settings."""
    return _state().settings()


def direct_reader() -> DirectReader | None:
    """The current invocation's direct reader (see :meth:`CliState.reader`)."""
    return _state().reader()


def store(*, buffered: bool = False, create: bool = False) -> Store:
    """The current invocation's store (see :meth:`CliState.store`)."""
    return _state().store(buffered=buffered, create=create)


def close_store() -> None:
    """Close the current invocation's store, if one was opened (before compacting the file)."""
    _state().close()


def echo_created(record: Any, as_json: bool) -> None:
    """Print a new record: its id, or the whole record with ``--json``."""
    if as_json:
        echo_json(record.to_dict())
    else:
        click.echo(str(record.id))


def echo_record(record: Any, as_json: bool) -> None:
    """Print one record as ``field: value`` lines, or as JSON."""
    data = record.to_dict()
    if as_json:
        echo_json(data)
        return
    if output_format() != "table":
        echo_rows([data], list(data), output_format())
        return
    width = max(len(key) for key in data)
    for key, value in data.items():
        if isinstance(value, list):
            value = ", ".join(str(v) for v in value) if len(value) <= 5 else f"{len(value)} items"
        click.echo(f"{key.ljust(width)}  {'' if value is None else value}".rstrip())


def echo_records(records: list[Any], columns: list[str], as_json: bool) -> None:
    """Print records as a table of ``columns``, or all their fields as a JSON array."""
    rows = [record.to_dict() for record in records]
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, columns)


if TYPE_CHECKING:
    _TextParam = click.ParamType[str, str]  # generic only in click >= 8.5
else:
    _TextParam = click.ParamType


class StoredId(_TextParam):
    """A command-line id: a whole id or a unique prefix of a stored one (as git takes commit
    ids), converted to the whole id. An unknown or ambiguous prefix is an ``Error:`` line."""

    name = "id"

    def __init__(self, table: str, *, reading: bool = False) -> None:
        self.table = table
        self.reading = reading

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """The whole id, as text."""
        return value if value is None else stored_id(self.table, value, reading=self.reading)


def stored_id(table: str, given: str, *, reading: bool = False) -> str:
    """The whole id of the ``table`` row that ``given`` (an id or a unique prefix) names.

    ``reading``: the command only reads, so the direct reader may answer first (it opens the
    file read-only; a command that writes goes straight to the store).
    """
    reader = direct_reader() if reading else None
    found = reader.resolve_id(table, given) if reader is not None else None
    return found if found is not None else str(store().resolve_id(table, given))


ITERATION = StoredId("iteration")
READ_ITERATION = StoredId("iteration", reading=True)
ARTIFACT = StoredId("resource")
MODEL = StoredId("model")
MODEL_VERSION = StoredId("model_version")
