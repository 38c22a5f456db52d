"""alembic environment of buildlog (version table ``buildlog_alembic_version``).

In process, :func:`storage_core.schema.ensure_schema` hands over a live connection. From the
shell (``alembic -n buildlog upgrade head`` in the repository root) the database is the one
buildlog itself would use: ``BUILDLOG_DB``, else ``$BUILDLOG_HOME/buildlog.db``, else
``~/.buildlog/buildlog.db``.
"""

from __future__ import annotations

from alembic import context

from buildlog.db import VERSION_TABLE
from buildlog.models import metadata
from buildlog.paths import database_location
from storage_core.schema import run_env_migrations

_url = None
if context.config.attributes.get("connection") is None:
    _url = context.config.get_main_option("buildlog.url") or database_location().url

run_env_migrations(metadata, version_table=VERSION_TABLE, url=_url)
