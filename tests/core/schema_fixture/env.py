"""alembic environment used only by tests/core: the same body every package's env.py has."""

import os

from storage_core.schema import run_env_migrations

run_env_migrations(
    None,
    version_table="fixture_alembic_version",
    url=os.environ.get("FIXTURE_DB_URL"),
)
