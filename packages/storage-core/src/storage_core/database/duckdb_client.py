"""DuckDB's client, as light as a fast path can take it.

``import duckdb`` (DuckDB 2.x) loads the package's relational API and reads its own package
metadata: about 0.15 s here, more than a command-line read of a 10,000-iteration sweep. What a
raw connection needs (``connect``, the connection, the errors) lives in the C++ extension the
package re-exports, ``_duckdb``, which imports in a fifth of that. The fast paths
(:mod:`storage_core.database.duckdb_open` and the command lines' direct reads) take it from
here; the objects are the package's own, so code that imports ``duckdb`` later sees the same
classes. Should a DuckDB release move the extension, the package is used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb as client
else:
    try:
        import _duckdb as client
    except ImportError:  # pragma: no cover - a DuckDB that no longer ships the extension
        import duckdb as client

__all__ = ["client"]
