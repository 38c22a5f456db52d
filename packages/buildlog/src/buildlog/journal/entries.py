"""Journal entries: finding them and reading the insights of their Improvements section.

Every regular expression here is the original's (``buildlog/distill.py``): a difference in
one of them changes which insights exist and therefore every skill id downstream.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

__all__ = [
    "CATEGORIES",
    "JOURNAL_DIR",
    "Distilled",
    "Pattern",
    "distill",
    "iter_entries",
    "parse_improvements",
]

logger = logging.getLogger(__name__)

#: The journal's folder, relative to the project root (the original reads ``./buildlog``).
JOURNAL_DIR = "buildlog"

#: The categories the original knows, in its order (the order of every output).
CATEGORIES: tuple[str, ...] = ("architectural", "workflow", "tool_usage", "domain_knowledge")

# Headings are matched lower-cased; both spellings of the two-word categories count.
_CATEGORY_HEADINGS = {
    "architectural": "architectural",
    "workflow": "workflow",
    "tool usage": "tool_usage",
    "tool_usage": "tool_usage",
    "domain knowledge": "domain_knowledge",
    "domain_knowledge": "domain_knowledge",
}

_ENTRY_GLOB = "20??-??-??-*.md"
# "## Improvements" or "### Improvements", up to the next H1/H2 heading.
_IMPROVEMENTS = re.compile(
    r"^#{2,3}\s+Improvements\s*\n(.*?)(?=^#{1,2}\s|\Z)", re.MULTILINE | re.DOTALL
)
# An H3 category heading (not H4+) and its text, up to the next H3.
_CATEGORY = re.compile(r"^###(?!#)\s+([^\n]+)\s*\n(.*?)(?=^###(?!#)|\Z)", re.MULTILINE | re.DOTALL)
_BULLET = re.compile(r"^\s*-\s+(.+)$")
_TITLE = re.compile(r"^#\s+Build Journal:\s*(.+)$", re.MULTILINE)
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})-")


@dataclass(frozen=True, slots=True)
class Pattern:
    """One insight of one entry.

    Attributes:
        insight: the bullet's text (continuation lines joined with spaces).
        source: the entry's path relative to the project root (``buildlog/<file>``).
        date: the entry's date, ``YYYY-MM-DD`` from its file name.
        context: the entry's title (``# Build Journal: <title>``), or "".
    """

    insight: str
    source: str
    date: str
    context: str = ""


@dataclass(slots=True)
class Distilled:
    """The insights of all entries read, by category in :data:`CATEGORIES` order."""

    entry_count: int = 0
    patterns: dict[str, list[Pattern]] = field(
        default_factory=lambda: {category: [] for category in CATEGORIES}
    )


def _is_insight(text: str) -> bool:
    # The entry template's placeholders ("[...]", "e.g., ...") are not insights.
    return (
        bool(text)
        and not (text.startswith("[") and text.endswith("]"))
        and not (text.startswith("e.g.,"))
    )


def _bullets(text: str) -> list[str]:
    """Bullets of a category; an indented non-bullet line continues the previous bullet."""
    bullets: list[str] = []
    current: list[str] = []
    for line in text.split("\n"):
        match = _BULLET.match(line)
        if match:
            if current:
                bullets.append(" ".join(current))
            current = [match.group(1).strip()]
        elif current and line.strip() and line.startswith((" ", "\t")):
            current.append(line.strip())
    if current:
        bullets.append(" ".join(current))
    return bullets


def parse_improvements(content: str) -> dict[str, list[str]]:
    """The insights of an entry's Improvements section, by category.

    Args:
        content: the entry's markdown.

    Returns:
        Every category of :data:`CATEGORIES`, each with its insights (empty when the entry
        has no Improvements section or no such heading). Unknown headings are ignored; a
        category given twice keeps its last heading's insights, as in the original.
    """
    result: dict[str, list[str]] = {category: [] for category in CATEGORIES}
    section = _IMPROVEMENTS.search(content)
    if section is None:
        return result
    for match in _CATEGORY.finditer(section.group(1)):
        category = _CATEGORY_HEADINGS.get(match.group(1).strip().lower())
        if category is not None:
            result[category] = [b for b in _bullets(match.group(2)) if _is_insight(b)]
    return result


def entry_title(content: str) -> str:
    """The title of ``# Build Journal: <title>``; "" without one or for the placeholder."""
    match = _TITLE.search(content)
    title = match.group(1).strip() if match else ""
    return "" if title == "[TITLE]" else title


def iter_entries(journal: Path, since: date | None = None) -> Iterator[tuple[Path, str]]:
    """The journal's entries in file-name order, with their dates.

    Args:
        journal: the ``buildlog`` folder.
        since: skip entries dated before this day.

    Yields:
        ``(path, "YYYY-MM-DD")``; a file whose name is not a real date is skipped.
    """
    for path in sorted(journal.glob(_ENTRY_GLOB)):
        match = _DATE_PREFIX.match(path.name)
        if match is None:
            continue
        try:
            day = date.fromisoformat(match.group(1))
        except ValueError:
            logger.warning("Invalid date in filename: %s", path.name)
            continue
        if since is None or day >= since:
            yield path, match.group(1)


def distill(project_root: Path, since: date | None = None) -> Distilled:
    """Read every entry of the project's journal.

    Args:
        project_root: the folder holding ``buildlog/``.
        since: only entries dated on or after this day.

    Returns:
        The insights; an entry that cannot be read (not UTF-8, a folder) is skipped and not
        counted.
    """
    result = Distilled()
    for path, day in iter_entries(project_root / JOURNAL_DIR, since):
        try:
            content = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            logger.warning("Failed to read %s: %s", path, err)
            continue
        result.entry_count += 1
        # The original names sources as it reads them, relative to the project root.
        source = f"{JOURNAL_DIR}/{path.name}"
        context = entry_title(content)
        for category, insights in parse_improvements(content).items():
            result.patterns[category].extend(
                Pattern(insight, source, day, context) for insight in insights
            )
    return result
