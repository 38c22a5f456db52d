"""How sure a skill is: the original's discrete level and its continuous score.

The commands print the discrete level only (``high``, ``medium``, ``low``); the continuous
score is there for library callers who want the original's ``confidence_score``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Literal

__all__ = [
    "LEVELS",
    "ContinuousConfig",
    "Level",
    "confidence_level",
    "confidence_score",
    "confidence_tier",
]

Level = Literal["high", "medium", "low"]

#: The levels from lowest to highest, for ``--min-confidence``.
LEVELS: tuple[Level, ...] = ("low", "medium", "high")

HIGH_FREQUENCY = 3
HIGH_RECENCY_DAYS = 30
MEDIUM_FREQUENCY = 2


def confidence_level(frequency: int, most_recent: date | None, today: date | None = None) -> Level:
    """The original's discrete confidence.

    Args:
        frequency: how often the skill was seen.
        most_recent: the latest day it was seen (None: never dated).
        today: the reference day; the local date by default, as the original's
            ``date.today()`` (so both tools agree on the same machine).

    Returns:
        ``high`` when seen at least 3 times with the latest less than 30 days ago,
        ``medium`` when seen at least twice, else ``low``.
    """
    today = today or date.today()
    recency = (today - most_recent).days if most_recent is not None else math.inf
    if frequency >= HIGH_FREQUENCY and recency < HIGH_RECENCY_DAYS:
        return "high"
    return "medium" if frequency >= MEDIUM_FREQUENCY else "low"


@dataclass(frozen=True, slots=True)
class ContinuousConfig:
    """The original's ``ConfidenceConfig``: decay half-life ``tau`` (days), frequency
    saturation ``k``, contradiction decay ``lambda_`` and the three tier thresholds."""

    tau: float = 30.0
    k: float = 5.0
    lambda_: float = 2.0
    tier_thresholds: tuple[float, float, float] = (0.2, 0.4, 0.7)


def confidence_score(
    reinforcements: int,
    last_reinforced: datetime,
    contradictions: int = 0,
    config: ContinuousConfig | None = None,
    now: datetime | None = None,
) -> float:
    """``(1 - e^(-n/k)) * e^(-days/tau) * e^(-c/lambda)``: rises fast, decays with time,
    sinks with contradictions; a future ``last_reinforced`` counts as now."""
    config = config or ContinuousConfig()
    now = now or datetime.now(UTC)
    days = (now - last_reinforced).total_seconds() / 86400
    recency = 1.0 if days < 0 else math.exp(-days / config.tau)
    frequency = 1.0 - math.exp(-reinforcements / config.k)
    return frequency * recency * math.exp(-contradictions / config.lambda_)


def confidence_tier(score: float, config: ContinuousConfig | None = None) -> str:
    """The original's descriptive tier of a score: speculative, provisional, stable or
    entrenched."""
    if not 0.0 <= score <= 1.0:
        raise ValueError(f"score must be in [0, 1], got {score}")
    low, mid, high = (config or ContinuousConfig()).tier_thresholds
    if score < low:
        return "speculative"
    if score < mid:
        return "provisional"
    return "stable" if score < high else "entrenched"
