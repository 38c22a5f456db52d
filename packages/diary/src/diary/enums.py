"""The status and stage vocabularies of diary's entities.

They are stored as their lower-case string values (``"in_progress"``, ``"running"``, ...), not
as DearDiary.jl's integer ids, so the database reads on its own and a CHECK constraint keeps it
honest. This module has no dependencies so the CLI can offer the choices without importing
SQLAlchemy.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ExperimentStatus", "IterationStatus", "ModelStage"]


class ExperimentStatus(StrEnum):
    """Where an experiment stands (DearDiary.jl: IN_PROGRESS, STOPPED, FINISHED)."""

    IN_PROGRESS = "in_progress"
    STOPPED = "stopped"
    FINISHED = "finished"


class IterationStatus(StrEnum):
    """Where an iteration (a run) stands (DearDiary.jl: RUNNING, SUCCEEDED, FAILED, KILLED)."""

    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    KILLED = "killed"


class ModelStage(StrEnum):
    """The life-cycle stage of a model version (DearDiary.jl: NO_STAGE ... ARCHIVED)."""

    NONE = "none"
    STAGING = "staging"
    PRODUCTION = "production"
    ARCHIVED = "archived"
