"""Schema upgrades for alembic environments that ship inside a package.

* :mod:`~storage_core.schema.runner`: :func:`ensure_schema` (first use: create, back up and
  upgrade, refuse unknown revisions) and the operator commands behind ``db upgrade|current|
  check``.
* :mod:`~storage_core.schema.env`: what every package's ``env.py`` calls
  (:func:`run_env_migrations`) and the DuckDB implementation alembic lacks, registered on
  import.
"""

from storage_core.schema.env import DuckDBImpl, run_env_migrations
from storage_core.schema.runner import (
    SchemaEnvironment,
    SchemaStatus,
    check,
    current_revision,
    ensure_schema,
    head_revision,
    is_known_revision,
    stamp,
    upgrade,
)

__all__ = [
    "DuckDBImpl",
    "SchemaEnvironment",
    "SchemaStatus",
    "check",
    "current_revision",
    "ensure_schema",
    "head_revision",
    "is_known_revision",
    "run_env_migrations",
    "stamp",
    "upgrade",
]
