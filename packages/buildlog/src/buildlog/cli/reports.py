"""Reports over the project's records: experiment metrics and report, and the overview."""

from __future__ import annotations

import click

from buildlog.cli.common import CliState, emit, pass_state, resolve
from buildlog.cli.recording import experiment
from storage_core.cli_support import echo_json, json_option, output_format

__all__ = ["experiment_metrics", "experiment_report", "overview"]


@experiment.command("metrics")
@click.option("--session", "-s", "session_id", help="One finished session [default: all].")
@json_option
@pass_state
def experiment_metrics(state: CliState, session_id: str | None, as_json: bool) -> None:
    """Show the mistakes, repeats and rule changes of a session, or of all sessions."""
    from buildlog.reports import session_metrics

    metrics = session_metrics(resolve(state, create=False).backend, session_id)
    if as_json or output_format() != "table":
        emit(metrics, list(metrics), as_json=as_json)
        return
    click.echo(f"Session Metrics: {metrics['session_id']}")
    click.echo("=" * 40)
    click.echo(f"Total mistakes:     {metrics['total_mistakes']}")
    click.echo(f"Repeated mistakes:  {metrics['repeated_mistakes']}")
    click.echo(f"Repeat rate:        {metrics['repeated_mistake_rate']:.1%}")
    click.echo(f"Rules at start:     {metrics['rules_at_start']}")
    click.echo(f"Rules at end:       {metrics['rules_at_end']}")
    click.echo(f"Rules added:        {metrics['rules_added']:+d}")


@experiment.command("report")
@json_option
@pass_state
def experiment_report(state: CliState, as_json: bool) -> None:
    """Report the repeat rate overall, per session and per error class (--format csv and
    jsonl: one record per session)."""
    from buildlog.reports import experiment_report as build_report

    report = build_report(resolve(state, create=False).backend)
    chosen = "json" if as_json else output_format()
    if chosen == "json":
        echo_json(report)
        return
    if chosen != "table":
        emit(report["sessions"], _REPORT_COLUMNS, as_json=False)
        return
    summary = report["summary"]
    click.echo("Experiment Report")
    click.echo("=" * 50)
    click.echo(f"Total sessions:         {summary['total_sessions']}")
    click.echo(f"Total mistakes:         {summary['total_mistakes']}")
    click.echo(f"Repeated mistakes:      {summary['total_repeated']}")
    click.echo(f"Overall repeat rate:    {summary['overall_repeat_rate']:.1%}")
    click.echo()
    if report["sessions"]:
        click.echo("Per-Session Breakdown")
        click.echo("-" * 50)
        for row in report["sessions"]:
            click.echo(f"  {row['session_id']}")
            click.echo(
                f"    Mistakes: {row['total_mistakes']} ({row['repeated_mistakes']} repeats, "
                f"{row['repeated_mistake_rate']:.0%})"
            )
            click.echo(f"    Rules added: {row['rules_added']:+d}")
        click.echo()
    if report["error_classes"]:
        click.echo("Error Class Breakdown")
        click.echo("-" * 50)
        for name, counts in report["error_classes"].items():
            rate = counts["repeated"] / counts["total"] if counts["total"] else 0
            click.echo(
                f"  {name}: {counts['total']} mistakes ({counts['repeated']} repeats, {rate:.0%})"
            )


@click.command()
@json_option
@pass_state
def overview(state: CliState, as_json: bool) -> None:
    """Show the project at a glance: journal entries, skill decisions, the running session
    and how many records of each kind are stored."""
    from buildlog.reports import overview as build_overview

    resolution = resolve(state, create=False)
    data = build_overview(resolution.backend, resolution.identity.path)
    if as_json:
        echo_json(data)
        return
    if output_format() != "table":  # one flat record: skills.promoted, records.rewards, ...
        flat = {k: v for k, v in data.items() if not isinstance(v, dict)}
        flat.update({f"skills.{k}": v for k, v in data["skills"].items()})
        flat.update({f"records.{k}": v for k, v in data["records"].items()})
        emit(flat, list(flat), as_json=False)
        return
    click.echo("buildlog overview")
    click.echo("=" * 40)
    click.echo(f"  Project:     {data['project_id']} ({data['backend']})")
    click.echo(f"  Entries:     {data['entries']}")
    click.echo(f"  Promoted:    {data['skills']['promoted']}")
    click.echo(f"  Rejected:    {data['skills']['rejected']}")
    click.echo(f"  Session:     {data['active_session'] or 'none running'}")
    for name, count in data["records"].items():
        click.echo(f"  {(name.replace('_', ' ').capitalize() + ':').ljust(12)} {count}")


_REPORT_COLUMNS = (
    "session_id",
    "started_at",
    "error_class",
    "total_mistakes",
    "repeated_mistakes",
    "repeated_mistake_rate",
    "rules_added",
)
