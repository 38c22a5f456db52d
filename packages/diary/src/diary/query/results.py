"""What a search returns: wide rows (:class:`SearchResult`) and metric summaries.

Built from the rows of a few detail queries by :func:`wide_rows`, which the store's search
(:mod:`diary.query.search`) and the command line's direct DuckDB path
(:mod:`diary.query.direct`) share, so both give the same rows. Imports no database library.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

__all__ = ["ITERATION_COLUMNS", "MetricSummary", "SearchResult", "iteration_rows", "wide_rows"]

ITERATION_COLUMNS = ("id", "experiment_id", "parent_id", "status", "created_at", "ended_at")


@dataclass(frozen=True)
class MetricSummary:
    """A metric of an iteration in five numbers, computed by the engine.

    Attributes:
        last: the value at the highest step (the latest logged on a tie).
        step: that step.
        min: the smallest value (NaN sorts above every number).
        max: the largest value.
        count: how many points.
    """

    last: float
    step: int
    min: float
    max: float
    count: int

    def to_dict(self) -> dict[str, Any]:
        """The summary as a dict."""
        return {
            "last": self.last,
            "step": self.step,
            "min": self.min,
            "max": self.max,
            "count": self.count,
        }


@dataclass
class SearchResult(Sequence[dict[str, Any]]):
    """The iterations found, one wide row each (``params.KEY``, ``metrics.KEY`` columns).

    Attributes:
        rows: the rows, in the order asked for.
        params: the parameter keys of the columns, sorted.
        metrics: the metric keys of the columns, sorted.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    params: list[str] = field(default_factory=list)
    metrics: list[str] = field(default_factory=list)

    @property
    def columns(self) -> list[str]:
        """Every column, in table order."""
        return [
            *ITERATION_COLUMNS,
            *(f"params.{key}" for key in self.params),
            *(f"metrics.{key}" for key in self.metrics),
            "tags",
        ]

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, index: Any) -> Any:
        return self.rows[index]

    def __iter__(self) -> Iterator[dict[str, Any]]:
        return iter(self.rows)

    def ids(self) -> list[UUID]:
        """The ids of the iterations found, in order."""
        return [row["id"] for row in self.rows]

    def to_arrow(self) -> Any:
        """The rows as a ``pyarrow.Table`` (ids as strings; missing values null).

        Raises:
            StorageError: pyarrow is not installed.
        """
        from diary.store.point_writers import require_pyarrow

        pa = require_pyarrow()
        columns = self.columns
        data = {name: [_arrow_value(row.get(name)) for row in self.rows] for name in columns}
        return pa.table(data) if self.rows else pa.table({name: [] for name in columns})

    def to_pandas(self) -> Any:
        """The rows as a ``pandas.DataFrame``, like ``mlflow.search_runs`` returns.

        The same frame as ``to_arrow().to_pandas()`` (ids as strings, times as UTC
        ``datetime64[us]``, each row's tags as an array), built from the rows directly:
        converting through Arrow costs more than the search itself.

        Raises:
            StorageError: pandas is not installed.
        """
        try:
            import numpy
            import pandas
        except ImportError:
            from diary.errors import StorageError

            raise StorageError(
                "pandas is not installed; install the extra: "
                "pip install 'deardiary-tracking[pandas]'"
            ) from None
        if not self.rows:  # nothing to infer a type from: every column holds objects
            empty = {name: numpy.array([], dtype=object) for name in self.columns}
            return pandas.DataFrame(empty, columns=self.columns)
        data: dict[str, Any] = {}
        for name in self.columns:
            values = [row.get(name) for row in self.rows]
            column: Any = values
            if all(value is None for value in values):  # as Arrow's null type converts
                column = numpy.array(values, dtype=object)
            elif name in ("id", "experiment_id", "parent_id"):
                column = [None if value is None else str(value) for value in values]
            elif name == "tags":
                column = numpy.empty(len(values), dtype=object)
                column[:] = [numpy.array(value, dtype=object) for value in values]
            elif name in ("created_at", "ended_at"):
                column = pandas.to_datetime(values, utc=True).as_unit("us")
            elif name.startswith("metrics."):
                column = numpy.array(
                    [numpy.nan if value is None else value for value in values], dtype=float
                )
            data[name] = column
        return pandas.DataFrame(data, columns=self.columns)


def _arrow_value(value: Any) -> Any:
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, list):
        return [str(item) for item in value]
    return value


def wide_rows(
    found: Iterable[tuple[str, dict[str, Any]]],
    params: Iterable[tuple[str, str, str]],
    metrics: Iterable[tuple[str, str, float]],
    tags: Iterable[tuple[str, str]],
) -> SearchResult:
    """The wide rows of the iterations ``found``, in its order.

    Args:
        found: (id as text, the iteration's columns) in the order of the result.
        params: (iteration id as text, key, value) of the parameters to show.
        metrics: (iteration id as text, key, last value) of the metrics to show.
        tags: (iteration id as text, tag), each iteration's tags in order.
    """
    by_param: dict[str, dict[str, str]] = {}  # key -> {iteration: value}
    for owner, key, value in params:
        (by_param.get(key) or by_param.setdefault(key, {}))[owner] = value
    by_metric: dict[str, dict[str, float]] = {}
    for owner, key, last in metrics:
        (by_metric.get(key) or by_metric.setdefault(key, {}))[owner] = last
    by_owner: dict[str, list[str]] = {}
    for owner, name in tags:
        by_owner.setdefault(owner, []).append(name)
    result = SearchResult(params=sorted(by_param), metrics=sorted(by_metric))
    wide: list[tuple[str, Mapping[str, Any]]] = [
        (f"params.{key}", by_param[key]) for key in result.params
    ]
    wide += [(f"metrics.{key}", by_metric[key]) for key in result.metrics]
    for text, row in found:
        for name, values in wide:
            row[name] = values.get(text)
        row["tags"] = by_owner.get(text, [])
        result.rows.append(row)
    return result


def iteration_rows(
    rows: Iterable[tuple[str, str, str | None, str, datetime, datetime | None]],
    ids: Mapping[str, UUID],
) -> Iterator[tuple[str, dict[str, Any]]]:
    """Iteration columns read with the ids as text, as (id as text, the columns as a dict).

    Args:
        rows: (id, experiment id, parent id, status, created, ended), ids as text and times
            naive UTC (as DuckDB returns them).
        ids: the UUIDs at hand by their text; the others (experiments and parents are few)
            are made once each. A UUID object per value would cost more than the query.
    """
    known: dict[str | None, UUID | None] = {None: None}
    known.update(ids)
    for key, experiment, parent, status, created, ended in rows:
        owner = known.get(key) or UUID(key)
        if experiment not in known:
            known[experiment] = UUID(experiment)
        if parent not in known:
            known[parent] = UUID(parent)
        yield (
            key,
            {
                "id": owner,
                "experiment_id": known[experiment],
                "parent_id": known[parent],
                "status": status,
                "created_at": created.replace(tzinfo=UTC),
                "ended_at": None if ended is None else ended.replace(tzinfo=UTC),
            },
        )
