"""The alembic side of schema management: the DuckDB implementation and ``env.py``'s body.

Kept apart from :mod:`storage_core.schema` (the upgrade runner) because this is the code that
runs *inside* alembic, called from each package's ``env.py``. Importing it registers
:class:`DuckDBImpl`; without it alembic fails on DuckDB with ``KeyError: 'duckdb'``.
"""

from __future__ import annotations

import os
from typing import Any

import sqlalchemy as sa
from alembic.config import Config
from alembic.ddl.impl import DefaultImpl
from sqlalchemy.engine import Connection

from storage_core.database import create_engine_for
from storage_core.database.sqlite import sqlite_foreign_keys_off
from storage_core.errors import ConfigError

__all__ = ["DuckDBImpl", "run_env_migrations", "sqlite_foreign_keys_off"]


class DuckDBImpl(DefaultImpl):
    """alembic's implementation for DuckDB (none ships with alembic): transactional DDL."""

    __dialect__ = "duckdb"
    transactional_ddl = True


def run_env_migrations(
    target_metadata: sa.MetaData | None,
    *,
    version_table: str,
    url: str | None = None,
    **configure_kw: Any,
) -> None:
    """The body of a package's alembic ``env.py``.

    * Called from :func:`upgrade`/:func:`ensure_schema`: uses the connection in
      ``config.attributes["connection"]``; its owner commits.
    * Called from the shell (``alembic -n diary upgrade head``): builds an engine with
      :func:`~storage_core.database.create_engine_for` from ``-x url=...`` on the command
      line, else ``url`` (which the package reads from its environment variables), else the
      ini's ``sqlalchemy.url``.
    * Offline (``--sql``): renders the SQL for that URL's dialect without connecting.

    Every migration runs in its own transaction (``transaction_per_migration``), which DuckDB's
    DDL limits need. Migrations must never call ``bind.commit()``.

    Args:
        target_metadata: the package's MetaData (for autogenerate, where it works).
        version_table: the package's version table.
        url: the database URL, overriding ``sqlalchemy.url`` from the ini file.
        **configure_kw: extra options for ``context.configure``.

    Raises:
        ConfigError: no URL to connect to, or a version table that differs from the one the
            caller's SchemaEnvironment declares.
    """
    from alembic import context

    config = context.config
    declared = config.attributes.get("version_table")
    if declared is not None and declared != version_table:
        raise ConfigError("version_table", version_table, f"the environment declares {declared}")
    _configure_logging(config)
    options: dict[str, Any] = {
        "target_metadata": target_metadata,
        "version_table": version_table,
        "transaction_per_migration": True,
        **configure_kw,
    }
    connection = config.attributes.get("connection")
    if connection is None:
        url = (
            context.get_x_argument(as_dictionary=True).get("url")
            or url
            or config.get_main_option("sqlalchemy.url")
        )
        if not url:
            raise ConfigError("sqlalchemy.url", None, "no database URL given to alembic")
    if context.is_offline_mode():
        context.configure(
            url=url, literal_binds=True, dialect_opts={"paramstyle": "named"}, **options
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    if connection is not None:
        _migrate(connection, options)
        return
    assert url is not None  # checked above
    engine = create_engine_for(url)
    try:
        with engine.connect() as conn, sqlite_foreign_keys_off(conn):
            _migrate(conn, options)
            if conn.in_transaction():
                conn.commit()
    finally:
        engine.dispose()


def _migrate(conn: Connection, options: dict[str, Any]) -> None:
    from alembic import context

    options.setdefault("render_as_batch", conn.dialect.name == "sqlite")
    context.configure(connection=conn, **options)
    with context.begin_transaction():
        context.run_migrations()


def _configure_logging(config: Config) -> None:
    # Only an ini file with logging sections configures logging; the library never does.
    name = config.config_file_name
    if name is None or not os.path.exists(name):
        return
    if config.file_config.has_section("loggers"):
        from logging.config import fileConfig

        fileConfig(name, disable_existing_loggers=False)
