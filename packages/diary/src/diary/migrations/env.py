"""diary's alembic environment.

In-process (``diary.open``, ``diary db upgrade``) the connection arrives in
``config.attributes``. From the shell (``alembic -n diary upgrade head`` at the repository
root) the database is ``-x url=...`` when given, else the one diary itself would use:
``DEARDIARY_DB_URL`` or ``DEARDIARY_DB_FILE`` when set, else the ini file's ``sqlalchemy.url``,
else ``./deardiary.db``.
"""

from __future__ import annotations

import os

from alembic import context

from diary.config import load_settings
from diary.models import metadata
from diary.schema import VERSION_TABLE
from storage_core.schema import run_env_migrations


def _shell_url() -> str | None:
    if context.config.attributes.get("connection") is not None:
        return None  # in-process: the caller's connection is used
    explicit = context.get_x_argument(as_dictionary=True).get("url")
    if explicit:
        return str(explicit)
    if os.environ.get("DEARDIARY_DB_URL") or os.environ.get("DEARDIARY_DB_FILE"):
        return load_settings().url
    if context.config.get_main_option("sqlalchemy.url"):
        return None  # run_env_migrations reads it from the ini file
    return load_settings().url


run_env_migrations(metadata, version_table=VERSION_TABLE, url=_shell_url())
