"""Schema upgrades for alembic environments that ship inside a package.

* :mod:`~storage_core.schema.first_use`: :func:`ensure_schema` (first use: create, back up
  and upgrade, refuse unknown revisions, under a file lock).
* :mod:`~storage_core.schema.runner`: revisions and the operator commands behind
  ``db upgrade|current|check``.
* :mod:`~storage_core.schema.snapshot`: a new database created from a dump of the schema the
  migrations build, in one transaction and without importing alembic.
* :mod:`~storage_core.schema.env`: what every package's ``env.py`` calls
  (:func:`run_env_migrations`) and the DuckDB implementation alembic lacks, registered on
  import. It imports alembic, so it is loaded only when named.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from storage_core.schema.first_use import ensure_schema
from storage_core.schema.runner import (
    SchemaEnvironment,
    SchemaStatus,
    check,
    current_revision,
    head_revision,
    is_known_revision,
    stamp,
    upgrade,
)

if TYPE_CHECKING:
    from storage_core.schema.env import DuckDBImpl, run_env_migrations

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

_FROM_ENV = frozenset({"DuckDBImpl", "run_env_migrations"})


def __getattr__(name: str) -> Any:
    # Importing alembic costs ~70 ms; only alembic's own env.py files need these names.
    if name in _FROM_ENV:
        from storage_core.schema import env

        return getattr(env, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
