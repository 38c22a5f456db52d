"""``status``, ``diff`` and ``skills``: the skills of the project's markdown journal, printed
as the original buildlog prints them. The journal modules are imported inside the commands,
so ``buildlog --help`` does not load them."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import click

from buildlog.cli.common import CliState, pass_state, resolve
from buildlog.errors import UnsupportedOption

__all__ = ["diff", "project_root", "skills", "status"]


def project_root(state: CliState) -> Path:
    """The folder whose ``buildlog/`` journal to read: ``--project-root`` or the working
    directory, as the original reads ``./buildlog``."""
    return Path(state.project_root) if state.project_root else Path.cwd()


def _journal_root(
    state: CliState, as_json: bool, empty: dict[str, object], summary: str
) -> Path | None:
    """The project root when it has a journal; else print the original's empty answer."""
    from buildlog.journal.review import journal_exists

    resolve(state, create=False)  # a bad --project-root or database is an error even here
    root = project_root(state)
    if journal_exists(root):
        return root
    if as_json:
        click.echo(json.dumps(empty, indent=2))
    else:
        click.echo(summary)
        click.echo("  buildlog not initialized. Run 'buildlog init' first.")
    return None


def _echo_groups(groups: dict[str, list[dict[str, object]]]) -> None:
    for category, listed in groups.items():
        click.echo(f"  {category} ({len(listed)})")
        for skill in listed:
            rule = str(skill["rule"])[:70]
            click.echo(f"    [{skill.get('confidence', '?')}] {skill['id']}: {rule}")


@click.command()
@click.option(
    "--min-confidence", type=click.Choice(["low", "medium", "high"]), default="low",
    show_default=True, help="Only skills at this confidence or above.",
)  # fmt: skip
@click.option("--json", "as_json", is_flag=True, help="Print the original's JSON object.")
@pass_state
def status(state: CliState, min_confidence: str, as_json: bool) -> None:
    """Show the journal's skills by category and confidence (rejected ones left out).

    The skills come from the Improvements sections of buildlog/YYYY-MM-DD-*.md, merged with
    the project's review learnings; the output is the original buildlog's.
    """
    from buildlog.journal.review import UNINITIALIZED_STATUS, skill_status

    root = _journal_root(state, as_json, UNINITIALIZED_STATUS, "Skills: 0 total from 0 entries")
    if root is None:
        return
    report = skill_status(root, resolve(state, create=False).backend, min_confidence)  # type: ignore[arg-type]
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(f"Skills: {report.total_skills} total from {report.total_entries} entries")
    counts = ", ".join(f"{k}={v}" for k, v in report.by_confidence.items() if v > 0)
    click.echo(f"  By confidence: {counts}")
    click.echo()
    _echo_groups(report.skills)
    if report.promotable_ids:
        click.echo(f"\nPromotable: {', '.join(report.promotable_ids)}")


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the original's JSON object.")
@pass_state
def diff(state: CliState, as_json: bool) -> None:
    """Show the journal's skills not promoted or rejected yet."""
    from buildlog.journal.review import UNINITIALIZED_DIFF, skill_diff

    summary = "Pending: 0 | Promoted: 0 | Rejected: 0"
    root = _journal_root(state, as_json, UNINITIALIZED_DIFF, summary)
    if root is None:
        return
    report = skill_diff(root, resolve(state, create=False).backend)
    if as_json:
        click.echo(json.dumps(report.to_dict(), indent=2))
        return
    click.echo(
        f"Pending: {report.total_pending} | Promoted: {report.already_promoted} | "
        f"Rejected: {report.already_rejected}"
    )
    click.echo()
    _echo_groups(report.pending)


_UNINITIALIZED_JSON = {"initialized": False, "skills": {}, "total_skills": 0,
                       "message": "buildlog not initialized"}  # fmt: skip


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file.")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "json", "markdown", "rules", "settings"]),
    default="yaml", show_default=True,
    help="yaml, json, markdown, rules (CLAUDE.md-style) or settings (.claude/settings.json).",
)  # fmt: skip
@click.option(
    "--min-frequency", type=int, default=1, show_default=True,
    help="Only skills seen at least this many times.",
)  # fmt: skip
@click.option(
    "--since", type=click.DateTime(formats=["%Y-%m-%d"]),
    help="Only entries from this date onward (YYYY-MM-DD).",
)  # fmt: skip
@click.option(
    "--embeddings", type=click.Choice(["token", "sentence-transformers", "openai"]),
    help="Similarity backend for merging insights; only token (the default) is available.",
)  # fmt: skip
@click.option("--llm", is_flag=True, help="Not available in this toolkit (the original's LLM).")
@pass_state
def skills(
    state: CliState,
    output: str | None,
    fmt: str,
    min_frequency: int,
    since: datetime | None,
    embeddings: str | None,
    llm: bool,
) -> None:
    """Generate skills from the journal: merged insights with stable ids and confidence.

    The original buildlog's command and output. Promoted and rejected skills are listed
    by `buildlog decisions`.
    """
    if embeddings not in (None, "token"):
        raise UnsupportedOption(f"--embeddings {embeddings}", "only the token backend is available")
    if llm:
        raise UnsupportedOption("--llm", "no LLM extraction")
    from buildlog.journal.formats import format_skills
    from buildlog.journal.review import journal_exists, project_skills

    backend = resolve(state, create=False).backend
    root = project_root(state)
    if not journal_exists(root):
        if fmt == "json":
            click.echo(json.dumps(_UNINITIALIZED_JSON, indent=2))
        elif fmt == "yaml":
            click.echo("# buildlog not initialized - run 'buildlog init' first\n"
                       "skills: {}\ntotal_skills: 0")  # fmt: skip
        else:
            click.echo("No buildlog/ directory found. Run 'buildlog init' to extract skills.")
        return
    day = since.date() if since else None
    skill_set = project_skills(root, backend, min_frequency=min_frequency, since=day)
    text = format_skills(skill_set, fmt)
    if output is None:
        click.echo(text)
        return
    from storage_core.blobs.localfs import atomic_write

    try:
        # The original writes the text as it is, without a final newline.
        atomic_write(Path(output), [text.encode("utf-8")])
    except OSError as err:
        raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from None
    click.echo(
        f"Wrote {skill_set.total_skills} skills to {output} "
        f"(from {skill_set.source_entries} entries)"
    )
