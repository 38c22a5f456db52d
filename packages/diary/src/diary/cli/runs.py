"""``diary iteration`` read and housekeeping commands: list, search, show, compare, tag, delete.

They are thin: :mod:`diary.query` does the searching and summarising, for the library too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import click

from diary.cli.common import ITERATION, READ_ITERATION, direct_reader, echo_record, store
from diary.cli.entities import iteration
from storage_core.cli_support import echo_json, echo_table, json_option, output_format

if TYPE_CHECKING:
    from uuid import UUID

    from diary.query.direct import DirectReader
    from diary.query.results import MetricSummary, SearchResult

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


def _echo_runs(result: Any, as_json: bool, chosen: list[str] | None = None) -> None:
    if chosen is not None:
        unknown = [name for name in chosen if name not in result.columns]
        if unknown and len(result):
            from diary.errors import InvalidValue

            raise InvalidValue(
                "column", unknown[0], f"no iteration listed has it (columns: "
                f"{', '.join(result.columns)})",
            )  # fmt: skip
        rows = [{"id": row["id"], **{name: row.get(name) for name in chosen}} for row in result]
        if as_json:
            echo_json(rows)
        else:
            echo_table(rows, ["id", *(name for name in chosen if name != "id")])
        return
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
@click.argument("experiment_id", metavar="[EXPERIMENT]", required=False)
@click.option("--project", help="Every experiment of this project (an id or a unique name).")
@_search_options
@click.option(
    "--columns", metavar="FIELD,...",
    help="The columns to show, e.g. params.lr,metrics.loss [default: every parameter and "
    "metric].",
)  # fmt: skip
@json_option
def iteration_list(
    experiment_id: str | None,
    project: str | None,
    filter_: str | None,
    order_by: tuple[str, ...],
    limit: int | None,
    offset: int,
    columns: str | None,
    as_json: bool,
) -> None:
    """List the iterations of EXPERIMENT (an id or a unique name), or of every experiment of
    --project, with their parameters and the last value of each metric, oldest first."""
    if (experiment_id is None) == (project is None):
        raise click.UsageError("give an EXPERIMENT or --project (one of them)")
    chosen = _columns(columns)
    result = None
    reader = None if filter_ or order_by else direct_reader()  # filters: the store's SQL
    if reader is not None:
        result = _direct_list(reader, experiment_id, project, chosen, limit, offset)
    if result is None:
        from diary.query import search_runs

        opened = store()
        experiments = [opened.find_experiment(experiment_id).id] if experiment_id else None
        projects = [project] if project else None
        result = search_runs(
            opened, filter_, experiments=experiments, projects=projects, order_by=order_by,
            limit=limit, offset=offset, columns=chosen,
        )  # fmt: skip
    _echo_runs(result, as_json, chosen)


def _direct_list(
    reader: DirectReader,
    experiment: str | None,
    project: str | None,
    chosen: list[str] | None,
    limit: int | None,
    offset: int,
) -> SearchResult | None:
    """An unfiltered listing through the direct reader, or None when the store must answer."""
    from diary.query.expressions import column_keys

    if experiment is not None:
        found = reader.find_experiment(experiment)
        scope = None if found is None else [found]
    else:
        owner = reader.find_project(project or "")
        scope = None if owner is None else reader.project_experiments(owner)
    if scope is None:
        return None
    keys = column_keys(chosen)
    return reader.runs(experiments=scope, keys=keys, limit=limit, offset=offset)


def _columns(text: str | None) -> list[str] | None:
    if text is None:
        return None
    from diary.query.expressions import parse_field

    chosen = [part.strip() for part in text.split(",") if part.strip()]
    for name in chosen:
        if name not in ("tags", "experiment_id", "parent_id", "ended_at"):
            parse_field(name)  # a typo is an error naming the position
    return chosen


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
@click.argument("iteration_id", metavar="ID", type=ITERATION)
@json_option
def iteration_show(iteration_id: str, as_json: bool) -> None:
    """Show an iteration: its fields, parameters, tags and a summary of each metric."""
    from diary.query import metric_summaries

    opened = store()
    record = opened.get_iteration(iteration_id)
    params = opened.get_params(record.id)
    metrics = {key: s.to_dict() for key, s in metric_summaries(opened, record.id).items()}
    tags = opened.get_tags("iteration", record.id)
    if as_json or output_format() in ("json", "jsonl"):
        echo_json({**record.to_dict(), "params": params, "metrics": metrics, "tags": tags})
        return
    if output_format() == "csv":  # one flat row: params.KEY, metrics.KEY.last, ...
        flat = {**record.to_dict(), "tags": tags}
        flat.update({f"params.{k}": v for k, v in params.items()})
        for key, summary in metrics.items():
            flat.update({f"metrics.{key}.{part}": v for part, v in summary.items()})
        echo_table([flat], list(flat))
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


@iteration.command("tag")
@click.argument("iteration_id", metavar="ID", type=ITERATION)
@click.argument("tags", metavar="TAG...", nargs=-1, required=True)
def iteration_tag(iteration_id: str, tags: tuple[str, ...]) -> None:
    """Add tags to an iteration and print its tags (KEY=value tags are matched by tags.KEY in
    searches)."""
    now = store().add_tags("iteration", iteration_id, *tags)
    click.echo(", ".join(now))


@iteration.command("untag")
@click.argument("iteration_id", metavar="ID", type=ITERATION)
@click.argument("tags", metavar="TAG...", nargs=-1, required=True)
def iteration_untag(iteration_id: str, tags: tuple[str, ...]) -> None:
    """Remove tags from an iteration and print the tags it keeps."""
    now = store().remove_tags("iteration", iteration_id, *tags)
    click.echo(", ".join(now))


@iteration.command("delete")
@click.argument("iteration_id", metavar="ID", type=ITERATION)
@click.option("--yes", is_flag=True, help="Delete without asking (needed when not at a terminal).")
def iteration_delete(iteration_id: str, yes: bool) -> None:
    """Delete an iteration with its child iterations and everything logged to them, for good
    (no restore: back up first with 'diary db backup'). Artifact bytes another database may
    still use are kept."""
    opened = store()
    record = opened.get_iteration(iteration_id)
    _confirm_delete(f"iteration {record.id} and everything logged to it", yes)
    deleted = opened.delete_iteration(record.id)
    click.echo(f"deleted {len(deleted)} iterations", err=True)


def _confirm_delete(what: str, yes: bool) -> None:
    if yes:
        return
    import sys

    if not sys.stdin.isatty():
        raise click.UsageError("deleting needs --yes when not run at a terminal")
    click.confirm(f"delete {what}?", abort=True)


def _add_housekeeping(
    group: click.Group, kind: Literal["experiment", "project"], find: str
) -> None:
    """``tag``, ``untag`` and ``delete`` commands for experiments and projects."""

    @group.command("tag")
    @click.argument("owner", metavar="ID")
    @click.argument("tags", metavar="TAG...", nargs=-1, required=True)
    def tag(owner: str, tags: tuple[str, ...]) -> None:
        opened = store()
        found = getattr(opened, find)(owner)
        click.echo(", ".join(opened.add_tags(kind, found.id, *tags)))

    tag.help = f"Add tags to a {kind} (an id or a unique name) and print its tags."

    @group.command("untag")
    @click.argument("owner", metavar="ID")
    @click.argument("tags", metavar="TAG...", nargs=-1, required=True)
    def untag(owner: str, tags: tuple[str, ...]) -> None:
        opened = store()
        found = getattr(opened, find)(owner)
        click.echo(", ".join(opened.remove_tags(kind, found.id, *tags)))

    untag.help = f"Remove tags from a {kind} and print the tags it keeps."

    @group.command("delete")
    @click.argument("owner", metavar="ID")
    @click.option(
        "--yes", is_flag=True, help="Delete without asking (needed when not at a terminal)."
    )
    def delete(owner: str, yes: bool) -> None:
        opened = store()
        found = getattr(opened, find)(owner)
        _confirm_delete(f"{kind} {found.id} ({found.name}) and everything in it", yes)
        getattr(opened, f"delete_{kind}")(found.id)
        click.echo(f"deleted {kind} {found.id}", err=True)

    delete.help = (
        f"Delete a {kind} with everything in it, for good (no restore: back up first with "
        "'diary db backup'). Artifact bytes that another database may still use are kept."
    )


def _register() -> None:
    from diary.cli.entities import experiment, project

    _add_housekeeping(experiment, "experiment", "find_experiment")
    _add_housekeeping(project, "project", "find_project")


_register()
