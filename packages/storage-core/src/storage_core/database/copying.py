"""What both packages' ``db copy`` share: the report of a copy and its progress callback."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["CopyReport", "Progress"]

#: Called with (table, rows done, rows in all) after each batch a copy commits.
Progress = Callable[[str, int, int], None]


@dataclass
class CopyReport:
    """What a copy did, per table: rows in the source, rows the target did not have yet."""

    source: str
    target: str
    rows: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {"source": self.source, "target": self.target, "rows": self.rows,
                "added": self.added}  # fmt: skip
