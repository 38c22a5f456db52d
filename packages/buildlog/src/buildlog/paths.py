"""Where buildlog keeps its global database, and the permissions it gives it.

The database is one file for every project, ``~/.buildlog/buildlog.db`` by default.
``BUILDLOG_HOME`` moves the folder; ``BUILDLOG_DB`` names the file, or any SQLAlchemy URL,
directly (and wins over ``BUILDLOG_HOME``). The folder is created ``0700`` and the file
``0600``: the records describe private work and other local users have no business reading
them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from storage_core.errors import ConfigError, StorageIOError

__all__ = [
    "DB_FILENAME",
    "DIR_MODE",
    "ENV_DB",
    "ENV_HOME",
    "FILE_MODE",
    "DatabaseLocation",
    "buildlog_home",
    "database_location",
    "ensure_private_dir",
    "mask_password",
]

ENV_HOME = "BUILDLOG_HOME"
ENV_DB = "BUILDLOG_DB"
DB_FILENAME = "buildlog.db"
DIR_MODE = 0o700
FILE_MODE = 0o600


@dataclass(frozen=True)
class DatabaseLocation:
    """The database buildlog uses, as a SQLAlchemy URL and, for SQLite files, a path.

    Attributes:
        url: the SQLAlchemy URL (``sqlite:////abs/buildlog.db`` for files).
        path: the absolute file path of a SQLite database, None for other URLs and for
            in-memory SQLite.
    """

    url: str
    path: Path | None

    def exists(self) -> bool:
        """Whether the database already exists.

        A non-file URL (a server database) is assumed to exist: only the server knows, and
        the schema check on first use creates the tables when it does not.
        """
        if self.path is None:
            return True
        return self.path.exists() and self.path.stat().st_size > 0

    def display(self) -> str:
        """The path for files, else the URL with any password masked."""
        if self.path is not None:
            return str(self.path)
        from storage_core.database.targets import display_url

        return display_url(self.url)


def buildlog_home(environ: Mapping[str, str] | None = None) -> Path:
    """The folder that holds the default database: ``$BUILDLOG_HOME`` or ``~/.buildlog``.

    Args:
        environ: the environment to read (default: ``os.environ``).

    Returns:
        An absolute path; it may not exist yet.

    Raises:
        ConfigError: ``BUILDLOG_HOME`` is set but empty, or names a file.
    """
    env = os.environ if environ is None else environ
    value = env.get(ENV_HOME)
    if value is not None:
        if not value.strip():
            raise ConfigError(ENV_HOME, value, "must be a folder path")
        home = Path(value).expanduser().resolve()
        if home.exists() and not home.is_dir():
            raise ConfigError(ENV_HOME, value, "is a file, not a folder")
        return home
    return (Path.home() / ".buildlog").resolve()


def database_location(
    db: str | None = None, environ: Mapping[str, str] | None = None
) -> DatabaseLocation:
    """Work out which database to use.

    Precedence: the explicit ``db`` argument (the ``--db`` option), then ``BUILDLOG_DB``, then
    ``$BUILDLOG_HOME/buildlog.db``. A value containing ``://`` is a SQLAlchemy URL; anything
    else is a file path (``~`` is expanded, relative paths are made absolute).

    Args:
        db: a path or URL given on the command line or by a caller.
        environ: the environment to read (default: ``os.environ``).

    Returns:
        The location.

    Raises:
        ConfigError: the value is empty, names a folder, or is a URL SQLAlchemy cannot parse
            or whose database kind it does not know (a password in it is masked).
    """
    env = os.environ if environ is None else environ
    name, value = ("--db", db) if db is not None else (ENV_DB, env.get(ENV_DB))
    if value is None:
        path = buildlog_home(env) / DB_FILENAME
        return DatabaseLocation(url=f"sqlite:///{path}", path=path)
    if not value.strip():
        raise ConfigError(name, value, "must be a file path or a SQLAlchemy URL")
    if "://" not in value:
        path = _database_file(name, value, value)
        return DatabaseLocation(url=f"sqlite:///{path}", path=path)
    _check_url(name, value)
    return DatabaseLocation(url=value, path=_sqlite_file(name, value))


def mask_password(url: str) -> str:
    """A URL as it may be shown: the password of ``scheme://user:password@host`` masked."""
    return _USERINFO_PASSWORD.sub(r"\1***@", url)


_USERINFO_PASSWORD = re.compile(r"(://[^/:@]*:)[^/@]*@")


def _check_url(name: str, url: str) -> None:
    """Refuse a URL SQLAlchemy cannot parse, or whose database kind it does not know."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError, NoSuchModuleError

    shown = mask_password(url)
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise ConfigError(
            name, shown, "not a valid SQLAlchemy URL (dialect://user:password@host:port/database)"
        ) from None
    try:
        parsed.get_dialect()
    except NoSuchModuleError:
        kind = parsed.drivername
        raise ConfigError(name, shown, f"unknown database kind {kind!r}") from None
    if parsed.get_backend_name() == "sqlite":
        _sqlite_file(name, url)


def _sqlite_file(name: str, url: str) -> Path | None:
    """The file behind a ``sqlite://`` URL, None for in-memory or non-SQLite URLs."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        database = make_url(url).database
    except ArgumentError as err:
        raise ConfigError(name, mask_password(url), f"not a valid SQLAlchemy URL ({err})") from err
    if not database or database == ":memory:":
        return None
    return _database_file(name, mask_password(url), database)


def _database_file(name: str, shown: str, given: str) -> Path:
    """The resolved database file; a folder or a link to nothing is refused.

    The path is resolved so that one database has one name whatever link leads to it; a
    dangling symlink is refused rather than followed, since opening it would create the file
    it points at.
    """
    unresolved = Path(given).expanduser()
    path = unresolved.resolve()
    if path.is_dir():
        raise ConfigError(name, shown, "is a folder; give the database file's path")
    if unresolved.is_symlink() and not path.exists():
        raise ConfigError(
            name, shown, f"is a symlink to a missing file ({os.readlink(unresolved)})"
        )
    return path


def ensure_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) as a private folder, mode ``0700``.

    An existing folder is left as it is: tightening permissions the user chose is not ours
    to do, except for the folder we just created.
    """
    if path.is_dir():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        path.mkdir(mode=DIR_MODE)
    except FileExistsError:
        # Another process may have made the folder between our look and our mkdir:
        # only a non-folder in the way is an error.
        if path.is_dir():
            return
        raise StorageIOError(
            str(path), "create the database folder", "a file of that name exists"
        ) from None
    # mkdir's mode is filtered through the umask; set it exactly, on the folder we made.
    path.chmod(DIR_MODE)
