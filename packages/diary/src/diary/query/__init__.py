"""diary's read side: search iterations across experiments, summarise metrics, compare.

The CLI (``diary iteration search``, ``list``, ``show``, ``compare``) and the library use the
same functions::

    from diary.query import search_runs

    runs = search_runs(store, "params.lr > 0.01 and metrics.loss < 0.2",
                       experiments=["sweep"], order_by=["metrics.loss"], limit=10)
    frame = runs.to_pandas()  # one row per iteration: params.*, metrics.*, tags, times
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from storage_core.lazy import lazy_exports

if TYPE_CHECKING:
    from diary.query.expressions import FilterError, parse_filter
    from diary.query.results import MetricSummary, SearchResult
    from diary.query.search import metric_summaries, search_runs

__all__ = [
    "FilterError",
    "MetricSummary",
    "SearchResult",
    "metric_summaries",
    "parse_filter",
    "search_runs",
]

# Imported on first use: the parser and the results import no database library, and the
# command line's direct path (diary.query.direct) must not pay for SQLAlchemy.
_HOMES = {
    "FilterError": "expressions",
    "MetricSummary": "results",
    "SearchResult": "results",
    "metric_summaries": "search",
    "parse_filter": "expressions",
    "search_runs": "search",
}


__getattr__ = lazy_exports(__name__, _HOMES)
