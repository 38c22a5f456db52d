"""Record identifiers and derived values, exactly as the original buildlog computes them.

Ids are deterministic functions of a record's content or start instant so that records
written by the original tool, by this one and by an import all agree, and so that importing
the same record twice is a no-op.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

__all__ = [
    "OUTCOMES",
    "REPEAT_WORD_OVERLAP",
    "category_prefix",
    "format_timestamp",
    "is_similar_description",
    "mistake_id",
    "reward_id",
    "reward_value",
    "rule_id",
    "semantic_hash",
    "session_id",
    "utc_now",
]

OUTCOMES = ("accepted", "revision", "rejected")
DEFAULT_REVISION_DISTANCE = 0.5
# A mistake is a repeat when it shares more than this share of its distinct words with an
# earlier one (section 5 of the formats reference).
REPEAT_WORD_OVERLAP = 0.7

_CATEGORY_PREFIXES = {
    "architectural": "arch",
    "workflow": "wf",
    "tool_usage": "tool",
    "domain_knowledge": "dk",
}


def utc_now() -> datetime:
    """The current instant, timezone-aware UTC."""
    return datetime.now(UTC)


def format_timestamp(instant: datetime | None = None) -> str:
    """ISO 8601 with a ``+00:00`` offset, as the original writes (``now`` by default).

    Naive datetimes are taken as UTC. Python drops the fraction when microseconds are 0,
    exactly like the original's ``isoformat()``.
    """
    instant = instant or utc_now()
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(UTC).isoformat()


def _stamp(instant: datetime) -> str:
    if instant.tzinfo is not None:
        instant = instant.astimezone(UTC)
    return instant.strftime("%Y%m%d-%H%M%S-%f")


def session_id(started_at: datetime) -> str:
    """``session-YYYYmmdd-HHMMSS-ffffff`` of the UTC start instant."""
    return f"session-{_stamp(started_at)}"


def mistake_id(error_class: str, instant: datetime) -> str:
    """``mistake-<error_class[:10]>-YYYYmmdd-HHMMSS-ffffff`` of the UTC instant."""
    return f"mistake-{error_class[:10]}-{_stamp(instant)}"


def reward_id(outcome: str, timestamp: str) -> str:
    """``rew-`` + 10 hex of sha256(``"<outcome>:<timestamp>"``).

    Args:
        outcome: ``accepted``, ``revision`` or ``rejected``.
        timestamp: the record's own ISO timestamp string, exactly as stored.
    """
    digest = hashlib.sha256(f"{outcome}:{timestamp}".encode()).hexdigest()
    return f"rew-{digest[:10]}"


def category_prefix(category: str) -> str:
    """The id prefix of a rule category (``sk`` for every category without its own)."""
    return _CATEGORY_PREFIXES.get(category, "sk")


def rule_id(rule: str, category: str) -> str:
    """A skill / learning / seed rule id: prefix + ``-`` + 10 hex of sha256(rule.lower())."""
    digest = hashlib.sha256(rule.lower().encode("utf-8")).hexdigest()
    return f"{category_prefix(category)}-{digest[:10]}"


def _normalise_words(description: str) -> str:
    return " ".join(description.lower().split())


def semantic_hash(description: str) -> str:
    """16 hex of sha256 over the lower-cased, whitespace-normalised description."""
    return hashlib.sha256(_normalise_words(description).encode("utf-8")).hexdigest()[:16]


def is_similar_description(new: str, earlier: str) -> bool:
    """Whether ``earlier`` shares more than 70 % of ``new``'s distinct lower-cased words.

    Used with the semantic hash to flag a mistake as a repeat.
    """
    new_words = set(_normalise_words(new).split())
    if not new_words:
        return False
    shared = new_words & set(_normalise_words(earlier).split())
    return len(shared) / len(new_words) > REPEAT_WORD_OVERLAP


def reward_value(outcome: str, revision_distance: float | None = None) -> float:
    """The reward of an outcome: 1.0, 0.0, or ``clamp(1 - distance)`` for a revision.

    Args:
        outcome: ``accepted``, ``revision`` or ``rejected``.
        revision_distance: how far the revision was from the proposal (0.5 when absent).

    Raises:
        ValueError: the outcome is not one of the three.
    """
    if outcome == "accepted":
        return 1.0
    if outcome == "rejected":
        return 0.0
    if outcome == "revision":
        distance = DEFAULT_REVISION_DISTANCE if revision_distance is None else revision_distance
        return max(0.0, min(1.0, 1.0 - distance))
    raise ValueError(f"unknown outcome {outcome!r}; expected one of {', '.join(OUTCOMES)}")
