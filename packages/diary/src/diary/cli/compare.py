"""``diary compare``: iterations side by side (also ``diary iteration compare``)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from diary.cli.common import READ_ITERATION, direct_reader, store
from diary.cli.entities import iteration
from storage_core.cli_support import echo_json, echo_table, json_option, output_format

if TYPE_CHECKING:
    from uuid import UUID

    from diary.query.results import MetricSummary

__all__ = ["compare"]


@click.command("compare")
@click.argument("iteration_ids", metavar="ID...", nargs=-1, required=True, type=READ_ITERATION)
@click.option("--all", "show_all", is_flag=True, help="Show the parameters that are equal too.")
@click.option(
    "--maximize", multiple=True, metavar="KEY",
    help="A metric whose best value is its largest (repeatable) [default: the smallest].",
)  # fmt: skip
@json_option
def compare(
    iteration_ids: tuple[str, ...], show_all: bool, maximize: tuple[str, ...], as_json: bool
) -> None:
    """Compare iterations side by side: status, parameters (* marks those that differ; equal
    ones only with --all), each metric's last value, min and max, and which iteration has the
    best last value."""
    gathered = _direct_compare(iteration_ids)
    if gathered is None:
        from diary.query import metric_summaries, search_runs

        opened = store()
        ids = [opened.get_iteration(given).id for given in iteration_ids]
        found = {row["id"]: row for row in search_runs(opened, f"id in ({_ids(ids)})")}
        runs = [found[i] for i in ids]
        summaries = [metric_summaries(opened, i) for i in ids]
    else:
        ids, runs, summaries = gathered
    rows: list[dict[str, Any]] = []
    params = sorted({k for run in runs for k in run if k.startswith("params.")})
    for name in ["status", *params]:
        values = [run.get(name) for run in runs]
        differs = len({repr(v) for v in values}) > 1
        if differs or show_all or name == "status":
            rows.append({"field": name, "values": values, "differs": differs, "best": None})
    for key in sorted({key for summary in summaries for key in summary}):
        for part in ("last", "min", "max"):
            values = [getattr(s[key], part) if key in s else None for s in summaries]
            best = None
            if part == "last":
                present = [(v, i) for v, i in zip(values, ids, strict=True) if v is not None]
                if present:
                    pick = max if key in maximize else min
                    best = pick(present, key=lambda item: item[0])[1]
            differs = len({repr(v) for v in values}) > 1
            rows.append({"field": f"metrics.{key}.{part}", "values": values, "differs": differs,
                         "best": best})  # fmt: skip
    if as_json or output_format() in ("json", "jsonl"):
        echo_json(
            [
                {
                    "field": row["field"],
                    "differs": row["differs"],
                    "best": None if row["best"] is None else str(row["best"]),
                    "values": {str(i): v for i, v in zip(ids, row["values"], strict=True)},
                }
                for row in rows
            ]
        )
        return
    if output_format() == "csv":
        columns = ["field", "differs", "best", *(str(i) for i in ids)]
        echo_table(
            [
                {"field": row["field"], "differs": row["differs"],
                 "best": None if row["best"] is None else str(row["best"]),
                 **{str(i): v for i, v in zip(ids, row["values"], strict=True)}}
                for row in rows
            ],
            columns,
        )  # fmt: skip
        return
    headers = [str(i)[:8] for i in ids]
    echo_table(
        [
            {
                "field": ("* " if row["differs"] else "  ") + row["field"],
                **dict(zip(headers, row["values"], strict=True)),
                "best": str(row["best"])[:8] if row["best"] is not None else "",
            }
            for row in rows
        ],
        ["field", *headers, "best"],
    )


def _direct_compare(
    given: tuple[str, ...],
) -> tuple[list[UUID], list[dict[str, Any]], list[dict[str, MetricSummary]]] | None:
    """The iterations, their rows and metric summaries through the direct reader, or None
    when the store must answer."""
    reader = direct_reader()
    if reader is None:
        return None
    chosen = list(given)  # whole ids already (READ_ITERATION), not yet known to exist
    found = {str(row["id"]): row for row in reader.runs(ids=chosen)}
    if not set(chosen) <= found.keys():
        return None  # the store names the missing one
    summaries = reader.summaries(chosen)
    ids = [found[text]["id"] for text in chosen]
    return ids, [found[text] for text in chosen], [summaries[text] for text in chosen]


# `diary iteration compare` names the same command.
iteration.add_command(compare)


def _ids(ids: list[Any]) -> str:
    return ", ".join(f"'{i}'" for i in ids)  # UUIDs: nothing to escape
