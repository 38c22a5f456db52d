"""diary's read side: search iterations across experiments, summarise metrics, compare.

The CLI (``diary iteration search``, ``list``, ``show``, ``compare``) and the library use the
same functions::

    from diary.query import search_runs

    runs = search_runs(store, "params.lr > 0.01 and metrics.loss < 0.2",
                       experiments=["sweep"], order_by=["metrics.loss"], limit=10)
    frame = runs.to_pandas()  # one row per iteration: params.*, metrics.*, tags, times
"""

from __future__ import annotations

from diary.query.expressions import FilterError, parse_filter
from diary.query.search import MetricSummary, SearchResult, metric_summaries, search_runs

__all__ = [
    "FilterError",
    "MetricSummary",
    "SearchResult",
    "metric_summaries",
    "parse_filter",
    "search_runs",
]
