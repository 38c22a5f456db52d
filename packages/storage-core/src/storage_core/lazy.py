"""Names of a package that import their module on first use (PEP 562).

A package whose ``__init__`` re-exports names from heavy modules (SQLAlchemy, alembic) makes
every importer pay for them; with :func:`lazy_exports` the package keeps its public names and
imports each module only when a name from it is first asked for.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["lazy_exports"]


def lazy_exports(package: str, homes: Mapping[str, str]) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: each name of ``homes`` is taken from its
    submodule (``{"open_duckdb": "duckdb_open"}`` imports ``package.duckdb_open``).

    Use it as ``__getattr__ = lazy_exports(__name__, {...})``.
    """

    def __getattr__(name: str) -> Any:
        home = homes.get(name)
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        return getattr(importlib.import_module(f"{package}.{home}"), name)

    return __getattr__
