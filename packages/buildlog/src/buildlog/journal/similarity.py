"""The original's default ``token`` similarity, and the grouping of near-duplicate insights.

Two insights are the same skill when the Jaccard index of their normalised word sets reaches
:data:`THRESHOLD`. The word lists are the original's (``buildlog/embeddings.py``); they
decide which insights merge, so they must not drift.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

from buildlog.journal.entries import Pattern

__all__ = ["THRESHOLD", "Group", "group_insights", "similarity", "tokens"]

#: Insights at least this similar to a group's first insight join that group.
THRESHOLD = 0.7

STOP_WORDS = frozenset(
    [
        "a",
        "above",
        "after",
        "again",
        "all",
        "already",
        "also",
        "always",
        "an",
        "are",
        "as",
        "at",
        "be",
        "been",
        "before",
        "being",
        "below",
        "between",
        "by",
        "can",
        "could",
        "dare",
        "did",
        "do",
        "does",
        "during",
        "each",
        "ever",
        "few",
        "for",
        "from",
        "further",
        "had",
        "has",
        "have",
        "he",
        "here",
        "how",
        "i",
        "in",
        "into",
        "is",
        "it",
        "its",
        "just",
        "may",
        "might",
        "more",
        "most",
        "must",
        "need",
        "never",
        "no",
        "nor",
        "not",
        "now",
        "of",
        "often",
        "on",
        "once",
        "only",
        "other",
        "ought",
        "own",
        "same",
        "shall",
        "she",
        "should",
        "so",
        "some",
        "still",
        "such",
        "than",
        "that",
        "the",
        "then",
        "there",
        "these",
        "they",
        "this",
        "those",
        "through",
        "to",
        "too",
        "under",
        "used",
        "very",
        "was",
        "we",
        "were",
        "what",
        "when",
        "where",
        "which",
        "who",
        "whom",
        "whose",
        "why",
        "will",
        "with",
        "would",
        "you",
    ]
)

# The original's synonym table, less its identity entries and the spellings with "-" or "_"
# (the tokenizer splits on those, so they can never match).
SYNONYMS = {
    "tsc": "typescript",
    "mypy": "typecheck",
    "pyright": "typecheck",
    "typechecker": "typecheck",
    "committing": "commit",
    "commits": "commit",
    "committed": "commit",
    "github": "git",
    "tests": "test",
    "testing": "test",
    "tested": "test",
    "unittest": "test",
    "pytest": "test",
    "running": "run",
    "runs": "run",
    "execute": "run",
    "executing": "run",
    "checker": "check",
    "checking": "check",
    "checks": "check",
    "verify": "check",
    "verifying": "check",
    "validate": "check",
    "validating": "check",
    "types": "type",
    "typed": "type",
    "typing": "type",
}

_SPLIT = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> set[str]:
    """The normalised words of ``text``: lower-case ASCII letters and digits, no stop
    words, synonyms mapped to one word (so "pytest" and "testing" are both "test")."""
    words = (word for word in _SPLIT.split(text.lower()) if word and word not in STOP_WORDS)
    return {SYNONYMS.get(word, word) for word in words}


def similarity(a: str, b: str) -> float:
    """The Jaccard index of the two texts' :func:`tokens`; 0.0 when either has none."""
    left, right = tokens(a), tokens(b)
    if not left or not right:
        return 0.0
    return len(left & right) / len(left | right)


@dataclass(frozen=True, slots=True)
class Group:
    """Insights merged into one skill.

    Attributes:
        rule: the group's shortest insight (the first of equal length).
        frequency: how many insights the group holds.
        sources: the distinct entries they came from, sorted.
        most_recent: the latest entry date, None without a valid one.
        earliest: the earliest entry date.
    """

    rule: str
    frequency: int
    sources: list[str]
    most_recent: date | None
    earliest: date | None


def group_insights(patterns: Sequence[Pattern], threshold: float = THRESHOLD) -> list[Group]:
    """Merge near-duplicate insights, in first-seen order.

    Each insight joins the first group whose *first* insight it resembles (greedy, not
    transitive: the original compares with the representative only), else starts a group.
    """
    groups: list[list[Pattern]] = []
    for pattern in patterns:
        for group in groups:
            if similarity(pattern.insight, group[0].insight) >= threshold:
                group.append(pattern)
                break
        else:
            groups.append([pattern])
    return [_summarise(group) for group in groups]


def _summarise(group: list[Pattern]) -> Group:
    days: list[date] = []
    for pattern in group:
        with contextlib.suppress(ValueError):
            days.append(date.fromisoformat(pattern.date))
    return Group(
        rule=min(group, key=lambda p: len(p.insight)).insight,
        frequency=len(group),
        sources=sorted({p.source for p in group}),
        most_recent=max(days) if days else None,
        earliest=min(days) if days else None,
    )
