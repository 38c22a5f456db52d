"""Where a database is: SQLAlchemy URLs of files, the file behind a URL, and checks of both.

Shared by the SQLite and DuckDB engine factories.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy.engine import URL, make_url

from storage_core.database.files import check_kind
from storage_core.errors import NotFound

__all__ = [
    "check_kind",
    "database_path",
    "display_url",
    "duckdb_url",
    "prepare_dir",
    "resolve_target",
    "sqlite_url",
]


def sqlite_url(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a SQLite file (made absolute so every process agrees on it)."""
    return URL.create("sqlite", database=str(Path(path).expanduser().absolute())).render_as_string()


def duckdb_url(path: str | os.PathLike[str]) -> str:
    """The SQLAlchemy URL of a DuckDB file (made absolute so every process agrees on it)."""
    return URL.create("duckdb", database=str(Path(path).expanduser().absolute())).render_as_string()


def display_url(url: str | URL) -> str:
    """A database URL as it may be shown: a password masked as ``***``, and a URL without one
    (``postgresql://postgres@/db``, or an empty one as ``postgres:@``) shown without ``***``,
    so nobody goes looking for a password that is not there."""
    parsed = make_url(url)
    if not parsed.password:
        return parsed._replace(password=None).render_as_string(hide_password=False)
    return parsed.render_as_string(hide_password=True)


def database_path(url: str | URL) -> Path | None:
    """The file behind a SQLite or DuckDB URL.

    Args:
        url: an SQLAlchemy URL (string or object).

    Returns:
        The database file, or None for in-memory databases and server URLs (PostgreSQL, ...).
    """
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "duckdb"):
        return None
    database = parsed.database or ""
    if parsed.get_backend_name() == "sqlite" and database.startswith("file:"):
        # SQLite URI filenames ("sqlite:///file:x.db?uri=true"), possibly in-memory.
        if parsed.query.get("mode") == "memory":
            return None
        database = database[len("file:") :]
    if database in ("", ":memory:") or database.startswith(":memory:"):
        return None
    return Path(database).expanduser()


def resolve_target(
    url_or_path: str | os.PathLike[str] | URL, backend: str
) -> tuple[URL, Path | None]:
    """The URL and file of a URL or a bare path (the file is None for in-memory URLs)."""
    if isinstance(url_or_path, URL) or (
        isinstance(url_or_path, str) and url_or_path.startswith(f"{backend}:")
    ):
        url = make_url(url_or_path)
        path = database_path(url)
        if path is None:
            return url, None
        path = path.absolute()
    else:
        path = Path(url_or_path).expanduser().absolute()
    return make_url(URL.create(backend, database=str(path)).render_as_string()), path


def prepare_dir(path: Path, *, create_dirs: bool) -> None:
    """Create the database's folder when asked; otherwise require that it exists."""
    if create_dirs:
        path.parent.mkdir(parents=True, exist_ok=True)
    elif not path.parent.is_dir():
        raise NotFound("directory", str(path.parent))
