"""What every part of the store shares: the engine, units of work, ids, clocks, row lookups.

Each public store method is one unit of work: it opens a connection (on DuckDB that takes the
file, waiting for another process's lock), does its work in one transaction and closes the
connection, so other processes get their turn between calls.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine, Row

from diary.errors import InvalidValue, NotFound, StorageError
from diary.ids import MIN_ID_PREFIX, IdLike, as_uuid, id_prefix_range
from diary.values import check_text

if TYPE_CHECKING:
    from diary.config import Settings

__all__ = [
    "MIN_ID_PREFIX",
    "IdLike",
    "MonotonicClock",
    "StoreBase",
    "as_uuid",
    "id_prefix_range",
    "require_text",
]


def require_text(name: str, value: str) -> str:
    """Refuse empty, blank or non-UTF-8 text where a name or key is required.

    Raises:
        InvalidValue: ``value`` is empty or only whitespace, or UTF-8 cannot encode it.
    """
    if not isinstance(value, str) or not value.strip():
        raise InvalidValue(name, value, "must not be empty")
    return check_text(name, value)


class MonotonicClock:
    """UTC wall-clock time that never repeats or goes back within a process.

    Rows are ordered by ``(created_at, id)``; a strictly increasing clock keeps that order equal
    to the creation order for everything one process creates, even within one microsecond.
    """

    def __init__(self) -> None:
        self._last = datetime.min.replace(tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        """The current UTC time, at least one microsecond after the previous call."""
        with self._lock:
            now = datetime.now(UTC)
            if now <= self._last:
                now = self._last + timedelta(microseconds=1)
            self._last = now
            return now


class StoreBase:
    """The engine, settings and helpers shared by the store's parts."""

    settings: Settings
    engine: Engine
    clock: MonotonicClock

    @property
    def is_duckdb(self) -> bool:
        """True when the database is DuckDB (the Appender/Arrow fast paths apply)."""
        return self.engine.dialect.name == "duckdb"

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A unit of work that writes: one connection, one transaction, committed on success."""
        with _translated(self.settings.describe()), self.engine.begin() as conn:
            yield conn

    @contextlib.contextmanager
    def reading(self) -> Iterator[Connection]:
        """A unit of work that only reads (on SQLite it does not take the write lock)."""
        with _translated(self.settings.describe()), self.engine.connect() as conn:
            if conn.dialect.name == "sqlite":
                conn.execution_options(sqlite_begin="DEFERRED")
            yield conn

    def resolve_id(self, what: str, given: IdLike) -> UUID:
        """The id of the ``what`` (a table name: project, experiment, iteration, model,
        model_version, resource) that ``given`` names: a whole id, returned as it is, or a
        unique prefix of one, as git takes commit ids.

        Raises:
            NotFound: ``given`` is neither an id nor the prefix of a stored one.
            InvalidValue: the prefix starts several ids.
        """
        from diary import models as m

        table = m.metadata.tables[what]
        label = {"resource": "artifact"}.get(what, what.replace("_", " "))
        if isinstance(given, UUID):
            return given
        with contextlib.suppress(ValueError):
            return UUID(str(given).strip())
        bounds = id_prefix_range(str(given))
        if bounds is None:
            raise NotFound(label, str(given))
        with self.reading() as conn:
            query = sa.select(table.c.id).where(table.c.id.between(*bounds)).limit(6)
            found = [row[0] for row in conn.execute(query).all()]
        if not found:
            raise NotFound(label, str(given))
        if len(found) > 1:
            shown = ", ".join(str(key) for key in sorted(found)[:5])
            count = "more than 5" if len(found) > 5 else str(len(found))
            raise InvalidValue(
                f"{label} id prefix",
                str(given),
                f"{count} ids start with it ({shown}{', ...' if len(found) > 5 else ''}); "
                "give more characters",
            )
        return UUID(str(found[0]))

    @staticmethod
    def claim_name(conn: Connection, *parts: object) -> None:
        """On PostgreSQL, make transactions that check and insert the same name take turns
        (a transaction advisory lock on it): at read committed, two first uses would both find
        no row and both insert one. DuckDB and SQLite already run one writer at a time."""
        if conn.dialect.name == "postgresql":
            key = "diary-name:" + "\x1f".join(str(part) for part in parts)
            conn.execute(sa.text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})

    @staticmethod
    def fetch_row(conn: Connection, table: sa.Table, what: str, row_id: IdLike) -> Row[Any]:
        """The row of ``table`` with this id.

        Raises:
            NotFound: there is no such row.
        """
        key = as_uuid(what, row_id)
        # .all() rather than .first(): DuckDB 2.0 refuses raw work on a connection whose
        # previous result was not read to the end.
        rows = conn.execute(sa.select(table).where(table.c.id == key)).all()
        if not rows:
            raise NotFound(what, str(row_id))
        return rows[0]

    @staticmethod
    def require_row(conn: Connection, table: sa.Table, what: str, row_id: IdLike) -> UUID:
        """Check that a row exists (the application's foreign-key check) and return its id.

        Raises:
            NotFound: there is no such row.
        """
        key = as_uuid(what, row_id)
        found = conn.execute(sa.select(table.c.id).where(table.c.id == key)).all()
        if not found:
            raise NotFound(what, str(row_id))
        return key


@contextlib.contextmanager
def _translated(database: str) -> Iterator[None]:
    """Turn database errors that slip through the store's own checks into StorageError; a
    full disk, in whatever words the engine says it, into DiskFull."""
    from storage_core.errors import DiskFull, disk_full_error

    try:
        with _translated_errors(database):
            yield
    except DiskFull:
        raise
    except Exception as err:
        full = disk_full_error(err, database)
        if full is None:
            raise
        raise full from err


@contextlib.contextmanager
def _translated_errors(database: str) -> Iterator[None]:
    try:
        yield
    except sa.exc.IntegrityError as err:
        detail = str(err.orig).splitlines()[0] if err.orig is not None else str(err)
        raise StorageError(f"constraint violated: {detail}") from err
    except (UnicodeEncodeError, sa.exc.StatementError) as err:
        cause = getattr(err, "orig", err)
        if isinstance(cause, UnicodeEncodeError):
            # Text the public methods did not check (they all should): never the raw SQL.
            bad = cause.object[cause.start : cause.end]
            raise InvalidValue("text", bad, "not valid UTF-8") from None
        if not isinstance(err, sa.exc.DBAPIError):
            raise
        from storage_core.database import damaged_database_error

        damaged = damaged_database_error(database, err)
        if damaged is None:
            raise
        raise damaged from err
