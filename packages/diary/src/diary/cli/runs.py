"""``diary iteration`` read and housekeeping commands: list, search, show, tag, delete.

They are thin: :mod:`diary.query` does the searching and summarising, for the library too.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

import click

from diary.cli.common import ITERATION, direct_reader, echo_record, store
from diary.cli.entities import iteration
from storage_core.cli_support import echo_json, echo_table, json_option, output_format

if TYPE_CHECKING:
    from diary.query.direct import DirectReader

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
    reader = direct_reader()
    if reader is not None:
        scope = _direct_scope(
            reader, [experiment_id] if experiment_id else [], [project] if project else []
        )
        if scope is not None:
            from diary.query.selection import column_keys

            result = reader.runs(
                filter_, experiments=scope, order_by=order_by, keys=column_keys(chosen),
                limit=limit, offset=offset,
            )  # fmt: skip
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


def _direct_scope(
    reader: DirectReader, experiments: list[str], projects: list[str]
) -> list[str] | None:
    """The experiment ids the direct reader finds for these names or ids (each project's
    experiments), or None when one is not found for certain: the store then answers, with
    its error."""
    scope: list[str] = []
    for given in experiments:
        found = reader.find_experiment(given)
        if found is None:
            return None
        scope.append(found)
    for given in projects:
        owner = reader.find_project(given)
        if owner is None:
            return None
        scope += reader.project_experiments(owner)
    return scope


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
    reader = direct_reader()
    if (
        reader is not None
        and (scope := _direct_scope(reader, [*experiments], [*projects])) is not None
    ):
        result = reader.runs(
            filter_, experiments=scope if experiments or projects else None,
            order_by=order_by, limit=limit, offset=offset,
        )  # fmt: skip
    else:
        from diary.query import search_runs

        result = search_runs(
            store(), filter_, experiments=experiments or None, projects=projects or None,
            order_by=order_by, limit=limit, offset=offset,
        )  # fmt: skip
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
