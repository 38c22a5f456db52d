"""The records the store hands out: immutable snapshots of rows, detached from any session.

Plain frozen dataclasses, so they are cheap, hashable, safe to pass between threads and
serialisable through :meth:`to_dict` (the CLI's ``--json``). Timestamps are timezone-aware UTC.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, NamedTuple, overload
from uuid import UUID

from diary.enums import ExperimentStatus, IterationStatus, ModelStage

__all__ = [
    "Experiment",
    "Iteration",
    "IterationSummary",
    "MetricHistory",
    "MetricPoint",
    "Model",
    "ModelVersion",
    "Parameter",
    "Project",
    "Resource",
]


class _Record:
    """Shared behaviour: ``to_dict`` with JSON-friendly values."""

    def to_dict(self) -> dict[str, Any]:
        """The record as a dict of JSON-friendly values (ISO 8601 times, UUIDs as text)."""
        result: dict[str, Any] = {}
        for item in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, item.name)
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, UUID):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif hasattr(value, "value") and isinstance(value.value, str):  # enums
                value = value.value
            result[item.name] = value
        return result


@dataclasses.dataclass(frozen=True)
class Project(_Record):
    """A project: the top of the hierarchy, grouping experiments and models."""

    id: UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Experiment(_Record):
    """An experiment of a project: a question asked through many iterations."""

    id: UUID
    project_id: UUID
    name: str
    description: str
    status: ExperimentStatus
    created_at: datetime
    ended_at: datetime | None
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Iteration(_Record):
    """An iteration (a run) of an experiment, with the environment it ran in.

    Attributes:
        parent_id: the parent iteration for sweeps, cross-validation folds and worker fan-outs.
        error_message: the exception text of a failed iteration.
        python_version, git_sha, git_dirty, entry_point, packages: the environment snapshot
            taken when the iteration started (``packages`` as ``name==version`` lines).
    """

    id: UUID
    experiment_id: UUID
    parent_id: UUID | None
    status: IterationStatus
    notes: str
    error_message: str
    created_at: datetime
    ended_at: datetime | None
    python_version: str
    git_sha: str
    git_dirty: bool | None
    entry_point: str
    packages: tuple[str, ...]


@dataclasses.dataclass(frozen=True)
class Parameter(_Record):
    """A parameter of an iteration; a key has one value per iteration."""

    iteration_id: UUID
    key: str
    value: str
    created_at: datetime


class MetricPoint(NamedTuple):
    """One point of a metric series.

    A named tuple holding the time as an integer, because histories hold hundreds of
    thousands of points and building a datetime per point would dominate reading them.

    Attributes:
        step: the step.
        value: the value.
        timestamp_us: when it was measured, in microseconds since the Unix epoch (UTC).
    """

    step: int
    value: float
    timestamp_us: int

    @property
    def timestamp(self) -> datetime:
        """When the value was measured, as a timezone-aware UTC datetime."""
        return _EPOCH + timedelta(microseconds=self.timestamp_us)

    def to_dict(self) -> dict[str, Any]:
        """The point as a dict of JSON-friendly values (ISO 8601 timestamp)."""
        return {"step": self.step, "value": self.value, "timestamp": self.timestamp.isoformat()}

    @classmethod
    def at(cls, step: int, value: float, timestamp: datetime) -> MetricPoint:
        """A point from an aware datetime."""
        return cls(step, value, to_microseconds(timestamp))


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_point = MetricPoint._make

Columns = tuple[Sequence[int], Sequence[float], Sequence[int]]


class MetricHistory(Sequence[MetricPoint]):
    """A metric series: a read-only list of :class:`MetricPoint`, stored column-wise.

    ``metric_history`` hands this out instead of a ``list``: it indexes, slices, iterates and
    compares equal to a list of the same points, but keeps the three columns the database
    returned and makes a point only when one is asked for. Building 100,000 Python objects
    costs more than reading them from DuckDB; a caller who plots ``history.values`` never pays
    for it.

    Attributes:
        steps, values, timestamps_us: the columns as Python lists.
    """

    __slots__ = ("_columns", "_load", "_size")

    def __init__(self, points: Sequence[MetricPoint] | None = None) -> None:
        items = list(points or ())
        self._size = len(items)
        self._load: Callable[[], Columns] | None = None
        self._columns: Columns | None = (
            [p[0] for p in items],
            [p[1] for p in items],
            [p[2] for p in items],
        )

    @classmethod
    def lazy(cls, size: int, load: Callable[[], Columns]) -> MetricHistory:
        """A history of ``size`` points whose columns ``load`` returns on first use."""
        history = cls.__new__(cls)
        history._size = size
        history._load = load
        history._columns = None
        return history

    def _data(self) -> Columns:
        if self._columns is None:
            assert self._load is not None
            self._columns = self._load()
            self._load = None
        return self._columns

    @property
    def steps(self) -> list[int]:
        """The steps, in order."""
        return list(self._data()[0])

    @property
    def values(self) -> list[float]:
        """The values, in step order."""
        return list(self._data()[1])

    @property
    def timestamps_us(self) -> list[int]:
        """The times (microseconds since the epoch, UTC), in step order."""
        return list(self._data()[2])

    def __len__(self) -> int:
        return self._size

    @overload
    def __getitem__(self, index: int) -> MetricPoint: ...

    @overload
    def __getitem__(self, index: slice) -> MetricHistory: ...

    def __getitem__(self, index: int | slice) -> MetricPoint | MetricHistory:
        steps, values, stamps = self._data()
        if isinstance(index, slice):
            picked = (list(steps[index]), list(values[index]), list(stamps[index]))
            return MetricHistory.lazy(len(picked[0]), lambda: picked)
        return MetricPoint(steps[index], values[index], stamps[index])

    def __iter__(self) -> Iterator[MetricPoint]:
        return map(_point, zip(*self._data(), strict=True))

    def __eq__(self, other: object) -> bool:
        if isinstance(other, MetricHistory):
            return self._size == other._size and self._data() == other._data()
        if isinstance(other, Sequence) and not isinstance(other, str | bytes):
            return self._size == len(other) and all(
                a == b for a, b in zip(self, other, strict=True)
            )
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        shown = ", ".join(repr(point) for point in self[:3])
        more = f", ... ({self._size} points)" if self._size > 3 else ""
        return f"MetricHistory([{shown}{more}])"


def to_microseconds(moment: datetime) -> int:
    """Microseconds since the Unix epoch of an aware datetime (exact, no float rounding)."""
    return (moment - _EPOCH) // timedelta(microseconds=1)


@dataclasses.dataclass(frozen=True)
class IterationSummary(_Record):
    """A search result: an iteration with the latest metric values and the parameters asked for.

    Attributes:
        iteration: the iteration.
        metrics: metric key -> latest value, for the keys the search used.
        params: parameter key -> value, for the keys the search used.
    """

    iteration: Iteration
    metrics: dict[str, float]
    params: dict[str, str]

    def to_dict(self) -> dict[str, Any]:
        """The result as a dict: the iteration's fields plus ``metrics`` and ``params``."""
        return {**self.iteration.to_dict(), "metrics": self.metrics, "params": self.params}


@dataclasses.dataclass(frozen=True)
class Resource(_Record):
    """An artifact's metadata (its bytes are read through the artifact store)."""

    id: UUID
    experiment_id: UUID
    iteration_id: UUID | None
    name: str
    description: str
    media_type: str
    backend: str
    uri: str
    size_bytes: int
    content_hash: str
    created_at: datetime
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True)
class Model(_Record):
    """A registered model of a project (its name is unique within the project)."""

    id: UUID
    project_id: UUID
    name: str
    description: str
    created_at: datetime
    updated_at: datetime | None


@dataclasses.dataclass(frozen=True)
class ModelVersion(_Record):
    """A version of a model, produced by an iteration, optionally pointing at an artifact."""

    id: UUID
    model_id: UUID
    version: int
    iteration_id: UUID
    resource_id: UUID | None
    stage: ModelStage
    description: str
    created_at: datetime
    updated_at: datetime | None
