"""``diary iteration`` read and housekeeping commands: list, search, show, compare, tag, delete.

They are thin: :mod:`diary.query` does the searching and summarising, for the library too.
"""

from __future__ import annotations

from typing import Any

import click

from diary.cli.common import echo_record, store
from diary.cli.entities import iteration
from storage_core.cli_support import echo_json, echo_table, json_option, output_format

__all__ = ["iteration"]

_LEAD_COLUMNS = ["id", "status", "created_at"]


def _search_options(func: Any) -> Any:
    for option in reversed(
        [
            click.option(
                "--filter", "filter_", metavar="EXPR",
                help="e.g. \"params.lr > 0.01 and metrics.loss < 0.2 and tags.stage = 'prod'\".",
            ),
            click.option(
                "--order-by", multiple=True, metavar="FIELD [asc|desc]",
                help="e.g. 'metrics.loss' or 'params.lr desc' (repeatable) [default: oldest "
                "first].",
            ),
            click.option("--limit", type=click.IntRange(min=0), help="At most this many."),
            click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many."),
        ]
    ):  # fmt: skip
        func = option(func)
    return func


def _echo_runs(result: Any, as_json: bool) -> None:
    if as_json:
        echo_json(result.rows)
        return
    columns = [
        *_LEAD_COLUMNS,
        *(f"params.{key}" for key in result.params),
        *(f"metrics.{key}" for key in result.metrics),
    ]
    if output_format() == "table":
        rows = [{**row, "id": str(row["id"])} for row in result.rows]
        echo_table(rows, columns)
    else:
        echo_table(result.rows, [*columns, "tags"])


@iteration.command("list")
@click.argument("experiment_id", metavar="EXPERIMENT")
@_search_options
@json_option
def iteration_list(
    experiment_id: str,
    filter_: str | None,
    order_by: tuple[str, ...],
    limit: int | None,
    offset: int,
    as_json: bool,
) -> None:
    """List the iterations of EXPERIMENT (an id or a unique name) with their parameters and
    the last value of each metric, oldest first."""
    from diary.query import search_runs

    opened = store()
    experiment = opened.find_experiment(experiment_id).id
    result = search_runs(
        opened, filter_, experiments=[experiment], order_by=order_by, limit=limit, offset=offset
    )
    _echo_runs(result, as_json)


@iteration.command("search")
@click.argument("filter_", metavar="[EXPR]", required=False)
@click.option(
    "--experiment", "experiments", multiple=True, help="Only this experiment (repeatable)."
)
@click.option("--project", "projects", multiple=True, help="Only this project (repeatable).")
@click.option(
    "--order-by", multiple=True, metavar="FIELD [asc|desc]",
    help="e.g. 'metrics.loss' or 'params.lr desc' (repeatable) [default: oldest first].",
)  # fmt: skip
@click.option("--limit", type=click.IntRange(min=0), help="At most this many.")
@click.option("--offset", type=click.IntRange(min=0), default=0, help="Skip this many.")
@json_option
def iteration_search(
    filter_: str | None,
    experiments: tuple[str, ...],
    projects: tuple[str, ...],
    order_by: tuple[str, ...],
    limit: int | None,
    offset: int,
    as_json: bool,
) -> None:
    """Find iterations across experiments and projects: EXPR filters on params.KEY,
    metrics.KEY (its last value; .min, .max, .count, .step), tags.KEY, status and times.

    Example: diary iteration search "params.lr > 0.01 and metrics.loss < 0.2" --order-by
    metrics.loss --limit 5
    """
    from diary.query import search_runs

    result = search_runs(
        store(),
        filter_,
        experiments=experiments or None,
        projects=projects or None,
        order_by=order_by,
        limit=limit,
        offset=offset,
    )
    _echo_runs(result, as_json)


@iteration.command("show")
@click.argument("iteration_id", metavar="ID")
@json_option
def iteration_show(iteration_id: str, as_json: bool) -> None:
    """Show an iteration: its fields, parameters, tags and a summary of each metric."""
    from diary.query import metric_summaries

    opened = store()
    record = opened.get_iteration(iteration_id)
    params = opened.get_params(record.id)
    metrics = {key: s.to_dict() for key, s in metric_summaries(opened, record.id).items()}
    tags = opened.get_tags("iteration", record.id)
    if as_json or output_format() != "table":
        echo_json({**record.to_dict(), "params": params, "metrics": metrics, "tags": tags})
        return
    echo_record(record, False)
    click.echo(f"tags            {', '.join(tags)}".rstrip())
    click.echo("")
    click.echo("parameters")
    echo_table([{"key": k, "value": v} for k, v in sorted(params.items())], ["key", "value"])
    click.echo("")
    click.echo("metrics")
    echo_table(
        [{"key": key, **summary} for key, summary in metrics.items()],
        ["key", "last", "step", "min", "max", "count"],
    )


@iteration.command("compare")
@click.argument("iteration_ids", metavar="ID...", nargs=-1, required=True)
@click.option("--all", "show_all", is_flag=True, help="Show the fields that are equal too.")
@json_option
def iteration_compare(iteration_ids: tuple[str, ...], show_all: bool, as_json: bool) -> None:
    """Compare iterations side by side: status, parameters and the last value of each
    metric; only the fields that differ unless --all."""
    from diary.query import search_runs

    opened = store()
    ids = [opened.get_iteration(given).id for given in iteration_ids]
    found = {row["id"]: row for row in search_runs(opened, f"id in ({_ids(ids)})")}
    runs = [found[i] for i in ids]
    fields = ["status", *(k for k in runs[0] if k.startswith(("params.", "metrics.")))]
    for run in runs[1:]:
        fields += [k for k in run if k.startswith(("params.", "metrics.")) and k not in fields]
    rows: list[dict[str, Any]] = []
    for name in fields:
        values = [run.get(name) for run in runs]
        differs = len({repr(v) for v in values}) > 1
        if differs or show_all:
            rows.append({"field": name, "values": values, "differs": differs})
    if as_json or output_format() != "table":
        echo_json(
            [
                {
                    "field": row["field"],
                    "differs": row["differs"],
                    "values": {str(i): v for i, v in zip(ids, row["values"], strict=True)},
                }
                for row in rows
            ]
        )
        return
    headers = [str(i)[:8] for i in ids]
    echo_table(
        [{"field": row["field"], **dict(zip(headers, row["values"], strict=True))} for row in rows],
        ["field", *headers],
    )


def _ids(ids: list[Any]) -> str:
    return ", ".join(f"'{i}'" for i in ids)  # UUIDs: nothing to escape


@iteration.command("tag")
@click.argument("iteration_id", metavar="ID")
@click.argument("tags", metavar="TAG...", nargs=-1, required=True)
def iteration_tag(iteration_id: str, tags: tuple[str, ...]) -> None:
    """Add tags to an iteration and print its tags (KEY=value tags are matched by tags.KEY in
    searches)."""
    now = store().add_tags("iteration", iteration_id, *tags)
    click.echo(", ".join(now))


@iteration.command("untag")
@click.argument("iteration_id", metavar="ID")
@click.argument("tags", metavar="TAG...", nargs=-1, required=True)
def iteration_untag(iteration_id: str, tags: tuple[str, ...]) -> None:
    """Remove tags from an iteration and print the tags it keeps."""
    now = store().remove_tags("iteration", iteration_id, *tags)
    click.echo(", ".join(now))


@iteration.command("delete")
@click.argument("iteration_id", metavar="ID")
@click.option("--yes", is_flag=True, help="Delete without asking (needed when not at a terminal).")
def iteration_delete(iteration_id: str, yes: bool) -> None:
    """Delete an iteration with its child iterations and everything logged to them."""
    opened = store()
    record = opened.get_iteration(iteration_id)
    if not yes:
        import sys

        if not sys.stdin.isatty():
            raise click.UsageError("deleting needs --yes when not run at a terminal")
        click.confirm(f"delete iteration {record.id} and everything logged to it?", abort=True)
    deleted = opened.delete_iteration(record.id)
    click.echo(f"deleted {len(deleted)} iterations", err=True)
