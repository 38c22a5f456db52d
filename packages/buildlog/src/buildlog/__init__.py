"""buildlog: a global SQLite store for per-project learning records."""

__version__ = "0.1.0"
