"""alembic environment of buildlog (version table ``buildlog_alembic_version``).

In process, :func:`storage_core.schema.ensure_schema` hands over a live connection. From the
shell (``alembic -n buildlog upgrade head`` in the repository root) the database is the one
buildlog itself would use: ``BUILDLOG_DB``, else ``$BUILDLOG_HOME/buildlog.db``, else
``~/.buildlog/buildlog.db``.
"""

from __future__ import annotations

import os

from alembic import context

from buildlog.db import VERSION_TABLE
from buildlog.models import metadata
from buildlog.paths import FILE_MODE, database_location, ensure_private_dir
from storage_core.schema import run_env_migrations

_url = None
if context.config.attributes.get("connection") is None:
    _url = context.config.get_main_option("buildlog.url")
    if not _url:
        location = database_location()
        if location.path is not None and not context.is_offline_mode():
            # As on first use: the home folder is private (0700) and the file 0600.
            ensure_private_dir(location.path.parent)
            if not location.path.exists():
                os.close(os.open(location.path, os.O_CREAT | os.O_WRONLY, FILE_MODE))
        _url = location.url

run_env_migrations(metadata, version_table=VERSION_TABLE, url=_url)
