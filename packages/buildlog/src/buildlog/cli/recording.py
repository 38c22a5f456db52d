"""Commands that record and read the six record kinds (thin wrappers over operations)."""

from __future__ import annotations

import copy

import click

from buildlog.cli.common import CliState, as_rows, emit, pass_state, resolve
from buildlog.errors import InvalidRecord
from storage_core.cli_support import json_option

__all__ = [
    "bandit",
    "decisions",
    "experiment",
    "learning",
    "learnings",
    "mistakes",
    "promote",
    "reject",
    "reward",
    "rewards",
    "sessions",
]

REWARD_COLUMNS = ("id", "timestamp", "outcome", "reward_value", "session_id", "rules_active")
SESSION_COLUMNS = ("id", "started_at", "ended_at", "error_class", "selected_rules")
MISTAKE_COLUMNS = ("id", "timestamp", "error_class", "was_repeat", "description")
LEARNING_COLUMNS = ("id", "category", "severity", "reinforcement_count", "rule")
SKILL_COLUMNS = ("skill_id", "decision", "decided_at")
ARM_COLUMNS = ("context", "rule_id", "alpha", "beta", "mean", "is_seed", "updated_at")

_limit_option = click.option(
    "--limit", "-n", type=click.IntRange(min=1), help="Only the newest N records."
)


@click.command()
@click.argument("outcome", type=click.Choice(["accepted", "revision", "rejected"]))
@click.option(
    "--distance",
    "-d",
    type=click.FloatRange(0.0, 1.0),
    help="For revisions: how far the result was from the proposal (0-1, default 0.5).",
)
@click.option("--error-class", "-e", help="The kind of error (the bandit's context).")
@click.option(
    "--rule", "--rules", "-r", "rules", multiple=True,
    help="A rule that was active (repeatable) [default: the rules of the latest gauntlet "
    "credit, else the running experiment's].",
)  # fmt: skip
@click.option("--notes", "-n", help="Free text.")
@click.option("--session", "-s", help="Session id [default: the running experiment].")
@json_option
@pass_state
def reward(
    state: CliState,
    outcome: str,
    distance: float | None,
    error_class: str | None,
    rules: tuple[str, ...],
    notes: str | None,
    session: str | None,
    as_json: bool,
) -> None:
    """Record the outcome of a piece of work: accepted, revision or rejected.

    The original buildlog's options work unchanged (-d, -e, -n, -r/--rules, -s).
    """
    from buildlog.operations import record_reward

    event = record_reward(
        resolve(state).backend,
        outcome,
        revision_distance=distance,
        rules=list(rules) if rules else None,  # none given: the latest gauntlet credit's
        notes=notes,
        session=session,
        error_class=error_class,
    )
    emit(as_rows([event])[0], REWARD_COLUMNS, as_json=as_json)


@click.command()
@_limit_option
@click.option("--session", "-s", help="Only the rewards of this session.")
@json_option
@pass_state
def rewards(state: CliState, limit: int | None, session: str | None, as_json: bool) -> None:
    """List the project's rewards, oldest first.

    JSON (``--json``) is the original buildlog's object: the counts, the mean reward and the
    ``events``, newest first.
    """
    backend = resolve(state, create=False).backend
    if as_json:
        from buildlog.reports import reward_summary

        emit(reward_summary(backend, limit=limit, session_id=session), (), as_json=True)
        return
    if session is None:
        records = backend.load_events("rewards", limit=limit)
    else:
        found = [r for r in backend.load_events("rewards") if r.session_id == session]  # type: ignore[union-attr]
        records = found[-limit:] if limit else found
    emit(as_rows(records), REWARD_COLUMNS, as_json=as_json)


@click.command()
@_limit_option
@json_option
@pass_state
def sessions(state: CliState, limit: int | None, as_json: bool) -> None:
    """List the project's finished sessions, oldest first."""
    records = resolve(state, create=False).backend.load_events("sessions", limit=limit)
    emit(as_rows(records), SESSION_COLUMNS, as_json=as_json)


@click.command()
@_limit_option
@json_option
@pass_state
def mistakes(state: CliState, limit: int | None, as_json: bool) -> None:
    """List the project's mistakes, oldest first."""
    records = resolve(state, create=False).backend.load_events("mistakes", limit=limit)
    emit(as_rows(records), MISTAKE_COLUMNS, as_json=as_json)


@click.group()
def experiment() -> None:
    """Run experiments: a session groups the rewards and mistakes of one piece of work."""


@experiment.command("start")
@click.option("--error-class", "-e", help="The kind of error this session is about.")
@click.option("--notes", "-n", help="Free text.")
@json_option
@pass_state
def experiment_start(
    state: CliState, error_class: str | None, notes: str | None, as_json: bool
) -> None:
    """Start a session; the promoted skills become its rules."""
    from buildlog.operations import start_experiment

    session = start_experiment(resolve(state).backend, error_class=error_class, notes=notes)
    emit(as_rows([session])[0], SESSION_COLUMNS, as_json=as_json)


@experiment.command("end")
@click.option("--entry-file", "-f", help="The journal entry written for the session.")
@click.option("--notes", "-n", help="Free text.")
@json_option
@pass_state
def experiment_end(
    state: CliState, entry_file: str | None, notes: str | None, as_json: bool
) -> None:
    """End the running session (a session without reward gets an automatic revision)."""
    from buildlog.operations import end_experiment

    session, auto = end_experiment(resolve(state).backend, entry_file=entry_file, notes=notes)
    if auto is not None:
        click.echo(f"buildlog: no reward in this session; logged {auto.id} (revision)", err=True)
    emit(as_rows([session])[0], SESSION_COLUMNS, as_json=as_json)


@experiment.command("log-mistake")
@click.option("--error-class", required=True, help="The kind of error.")
@click.option("--description", "-d", required=True, help="What went wrong.")
@click.option("--rule", "-r", help="The rule that corrects it.")
@json_option
@pass_state
def experiment_log_mistake(
    state: CliState, error_class: str, description: str, rule: str | None, as_json: bool
) -> None:
    """Log a mistake in the running session."""
    from buildlog.operations import log_mistake

    mistake = log_mistake(
        resolve(state).backend, error_class=error_class, description=description, rule=rule
    )
    emit(as_rows([mistake])[0], MISTAKE_COLUMNS, as_json=as_json)


@click.group()
def learning() -> None:
    """Record and list rules learned from reviews."""


@learning.command("add")
@click.option("--rule", required=True, help="The rule, in one sentence.")
@click.option("--category", required=True, help="architectural, workflow, testing, ...")
@click.option("--severity", required=True, help="critical, major, minor, ...")
@click.option("--source", required=True, help="Where it was learned (e.g. review:pr-12).")
@json_option
@pass_state
def learning_add(
    state: CliState, rule: str, category: str, severity: str, source: str, as_json: bool
) -> None:
    """Add a learning; adding the same rule again reinforces it."""
    from buildlog.operations import add_learning

    result = add_learning(
        resolve(state).backend, rule=rule, category=category, severity=severity, source=source
    )
    if not as_json:
        verb = "reinforced" if result.reinforced else "added"
        click.echo(f"buildlog: {verb} {result.learning.id}", err=True)
    emit(as_rows([result.learning])[0], LEARNING_COLUMNS, as_json=as_json)


@learning.command("list")
@json_option
@pass_state
def learning_list(state: CliState, as_json: bool) -> None:
    """List the project's learnings."""
    records = resolve(state, create=False).backend.load_learnings().values()
    emit(as_rows(records), LEARNING_COLUMNS, as_json=as_json)


# `buildlog learnings`, the earlier spelling of `buildlog learning list`: kept for scripts,
# hidden so that no group name differs from a command's only by a plural.
learnings = copy.copy(learning_list)
learnings.name = "learnings"
learnings.hidden = True


def _decide(state: CliState, decision: str, ids: tuple[str, ...], as_json: bool) -> None:
    from buildlog.records import check_text

    for skill in ids:
        check_text("skill id", skill, required=True)  # a malformed id before an unknown one
    from buildlog.cli.journal import project_root
    from buildlog.journal.review import journal_skill_ids

    backend = resolve(state).backend
    # As the original: the ids of the skills its journal yields count as well as stored ones.
    known = backend.known_skill_ids() | journal_skill_ids(project_root(state))
    unknown = [skill for skill in dict.fromkeys(ids) if skill not in known]
    if len(unknown) == len(set(ids)):
        # As the original ("No valid skill IDs provided"): nothing is stored.
        listed = ", ".join(sorted(known)[:20]) + (" ..." if len(known) > 20 else "")
        command = "promote" if decision == "promoted" else "reject"
        raise InvalidRecord(
            command,
            f"no valid skill ids provided: {unknown[0]!r} is not a skill of this project"
            + (f" (known: {listed})" if known else " (it knows no skills yet)"),
        )
    if unknown:
        click.echo(f"buildlog: skipped unknown skill ids: {', '.join(unknown)}", err=True)
        ids = tuple(skill for skill in ids if skill in known)
    changed = backend.decide_skills("promoted" if decision == "promoted" else "rejected", ids)
    click.echo(f"buildlog: {changed} of {len(set(ids))} skills {decision}", err=True)
    records = [d for d in backend.load_skill_decisions() if d.skill_id in ids]
    emit(as_rows(records), SKILL_COLUMNS, as_json=as_json)


@click.command()
@click.argument("ids", nargs=-1, required=True)
@json_option
@pass_state
def promote(state: CliState, ids: tuple[str, ...], as_json: bool) -> None:
    """Promote skills (a rejected one stops being rejected)."""
    _decide(state, "promoted", ids, as_json)


@click.command()
@click.argument("ids", nargs=-1, required=True)
@json_option
@pass_state
def reject(state: CliState, ids: tuple[str, ...], as_json: bool) -> None:
    """Reject skills (a promoted one stops being promoted)."""
    _decide(state, "rejected", ids, as_json)


@click.command()
@json_option
@pass_state
def decisions(state: CliState, as_json: bool) -> None:
    """List the project's promoted and rejected skills, with when each was decided."""
    emit(
        as_rows(resolve(state, create=False).backend.load_skill_decisions()),
        SKILL_COLUMNS,
        as_json=as_json,
    )


@click.group()
def bandit() -> None:
    """The per-rule Beta posteriors that pick rules for sessions."""


def _arm_row(arm: object) -> dict[str, object]:
    row = as_rows([arm])[0]
    row["mean"] = getattr(arm, "mean", None)
    return row


@bandit.command("update")
@click.argument("context")
@click.argument("rule_id")
@click.option("--success/--failure", required=True, help="Whether the rule helped.")
@json_option
@pass_state
def bandit_update(
    state: CliState, context: str, rule_id: str, success: bool, as_json: bool
) -> None:
    """Add a success or a failure to the arm of RULE_ID in CONTEXT."""
    arm = resolve(state).backend.update_arm(context, rule_id, 1.0 if success else 0.0)
    emit(_arm_row(arm), ARM_COLUMNS, as_json=as_json)


@bandit.command("show")
@json_option
@pass_state
def bandit_show(state: CliState, as_json: bool) -> None:
    """List the project's arms."""
    arms = resolve(state, create=False).backend.load_bandit_state()
    emit([_arm_row(arm) for arm in arms], ARM_COLUMNS, as_json=as_json)
