"""``buildlog gauntlet``: the reviewer rules and the credits of reviews."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from buildlog.cli.common import CliState, as_rows, emit, pass_state, resolve
from storage_core.cli_support import FORMATS, echo_json, json_option, output_format

if TYPE_CHECKING:
    from buildlog.gauntlet import Persona

__all__ = ["gauntlet", "import_seed", "ingest_seeds"]

CREDIT_COLUMNS = ("timestamp", "iteration", "rules")
RULE_COLUMNS = ("persona", "rule", "category", "context", "tags")


def _personas(state: CliState, persona: str | None = None) -> dict[str, Persona]:
    """The personas of the database (none while the project still uses legacy files)."""
    from buildlog.backends.sqlite import SQLiteBackend
    from buildlog.gauntlet import load_personas

    backend = resolve(state, create=False).backend
    if not isinstance(backend, SQLiteBackend):
        return {}
    return load_personas(backend.engine, persona)


@click.group()
def gauntlet() -> None:
    """The review gauntlet's reviewer rules (shared by every project) and the rules each
    review credited (per project)."""


@gauntlet.command("list")
@json_option
@pass_state
def gauntlet_list(state: CliState, as_json: bool) -> None:
    """List the reviewer personas with their rule counts."""
    personas = _personas(state)
    total = sum(len(p.rules) for p in personas.values())
    if as_json:
        data: dict[str, Any] = {
            "personas": {
                name: {"description": p.description, "rules_count": len(p.rules),
                       "version": p.version}
                for name, p in personas.items()
            },
            "total_rules": total,
        }  # fmt: skip
        if not personas:
            data["error"] = "No rules found"
        echo_json(data)
        return
    if output_format() != "table":
        rows = [
            {"persona": name, "description": p.description, "rules_count": len(p.rules),
             "version": p.version}
            for name, p in sorted(personas.items())
        ]  # fmt: skip
        emit(rows, ("persona", "description", "rules_count", "version"), as_json=False)
        return
    if not personas:
        click.echo("No rules found.")
        click.echo("Import a seed file with: buildlog import-seed FILE")
        return
    click.echo("Review Gauntlet Personas")
    click.echo("=" * 50)
    for name, p in sorted(personas.items()):
        click.echo(f"\n  {name}")
        click.echo(f"    {p.description}")
        click.echo(f"    Rules: {len(p.rules)} (v{p.version})")
    click.echo(f"\nTotal: {len(personas)} personas, {total} rules")


@gauntlet.command("rules")
@click.option("--persona", "-p", default="all", show_default=True, help="A persona, or 'all'.")
@click.option(
    "--format", "fmt", type=click.Choice(["yaml", "markdown", *FORMATS]), default="yaml",
    show_default=True,
    help="yaml, json and markdown as the original prints them; table, jsonl and csv: one "
    "row per rule.",
)  # fmt: skip
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file.")
@pass_state
def gauntlet_rules(state: CliState, persona: str, fmt: str, output: str | None) -> None:
    """Show the rules of the reviewer personas."""
    from storage_core.errors import NotFound

    chosen = None if persona == "all" else persona
    personas = _personas(state, chosen)
    if not personas:
        if chosen is not None and _personas(state):
            known = ", ".join(sorted(_personas(state)))
            raise NotFound("persona", chosen, f"unknown persona {chosen!r}; known: {known}")
        raise NotFound("rules", persona, "no gauntlet rules found; import a seed file first")
    text = _render(personas, fmt)
    if output is None:
        click.echo(text)
        return
    from storage_core.blobs.localfs import atomic_write

    try:
        atomic_write(Path(output), [(text + "\n").encode("utf-8")])
    except OSError as err:
        raise click.ClickException(f"cannot write {output}: {err.strerror or err}") from None
    total = sum(len(p.rules) for p in personas.values())
    click.echo(f"Wrote {total} rules to {output}")


def _render(personas: dict[str, Persona], fmt: str) -> str:
    if fmt == "json":
        data = {
            name: {"version": p.version, "rules": p.rules_as_dicts()}
            for name, p in personas.items()
        }
        return json.dumps(data, indent=2)
    if fmt == "yaml":
        import yaml

        data = {
            name: {"version": p.version, "rules": p.rules_as_dicts(references=False)}
            for name, p in personas.items()
        }
        return str(yaml.dump(data, default_flow_style=False, sort_keys=False))
    if fmt == "markdown":
        return _markdown(personas)
    import io

    from storage_core.cli_support import echo_rows, echo_table

    rows = [
        {"persona": name, **rule} for name, p in personas.items() for rule in p.rules_as_dicts()
    ]
    buffer = io.StringIO()
    if fmt == "table":
        shown = [{**row, "tags": ", ".join(row["tags"])} for row in rows]
        echo_table(shown, RULE_COLUMNS, file=buffer)
    else:
        echo_rows(rows, RULE_COLUMNS, fmt, file=buffer)
    return buffer.getvalue().rstrip("\n")


def _markdown(personas: dict[str, Persona]) -> str:
    lines = ["# Review Gauntlet Rules\n"]
    for name, p in personas.items():
        lines.append(f"## {name.replace('_', ' ').title()}\n")
        lines.append(f"*{len(p.rules)} rules, v{p.version}*\n")
        for number, rule in enumerate(p.rules_as_dicts(), 1):
            lines.append(f"### {number}. {rule['rule']}\n")
            lines.append(f"**Category**: {rule['category']}  ")
            lines.append(f"**Tags**: {', '.join(rule['tags'])}\n")
            if rule["context"]:
                lines.append(f"**When**: {rule['context']}\n")
            if rule["antipattern"]:
                lines.append(f"**Antipattern**: {rule['antipattern']}\n")
            if rule["rationale"]:
                lines.append(f"**Why**: {rule['rationale']}\n")
            if rule["references"]:
                lines.append("**References**:")
                lines.extend(f"- [{ref['title']}]({ref['url']})" for ref in rule["references"])
            lines.append("")
    return "\n".join(lines)


@gauntlet.command("credits")
@json_option
@pass_state
def gauntlet_credits(state: CliState, as_json: bool) -> None:
    """List the project's gauntlet credits (the rules each review credited), oldest first."""
    from buildlog.backends.sqlite import SQLiteBackend
    from buildlog.gauntlet import load_credits

    backend = resolve(state, create=False).backend
    credits = (
        load_credits(backend.engine, backend.project_id)
        if isinstance(backend, SQLiteBackend)
        else []
    )
    emit(as_rows(credits), CREDIT_COLUMNS, as_json=as_json)


@gauntlet.command("credit")
@click.argument("rules", metavar="RULE...", nargs=-1, required=True)
@click.option(
    "--iteration", "-i", type=click.IntRange(min=0), default=1, show_default=True,
    help="The review iteration that credited them.",
)  # fmt: skip
@json_option
@pass_state
def gauntlet_credit(state: CliState, rules: tuple[str, ...], iteration: int, as_json: bool) -> None:
    """Record the rules a review credited: a reward given without --rules credits them."""
    from buildlog.cli.common import resolve_sqlite
    from buildlog.gauntlet import record_credit

    backend = resolve_sqlite(state, "gauntlet credit")
    credit = record_credit(backend.engine, backend.project_id, iteration, list(rules))
    emit(as_rows([credit])[0], CREDIT_COLUMNS, as_json=as_json)


# The original's option for where its bandit state lives: ours is in the database.
_buildlog_dir_option = click.option(
    "--buildlog-dir", hidden=True,
    help="Accepted for the original's scripts; the bandit arms are in the database.",
)  # fmt: skip


def _seeds_folder(state: CliState) -> Path:
    """The project's seeds folder, where imported seed files are copied."""
    return resolve(state).identity.path / ".buildlog" / "seeds"


@click.command("import-seed")
@click.argument("source", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--target-dir", type=click.Path(file_okay=False, path_type=Path),
    help="Where to copy the seed file [default: .buildlog/seeds in the project].",
)  # fmt: skip
@_buildlog_dir_option
@json_option
@pass_state
def import_seed(
    state: CliState,
    source: Path,
    target_dir: Path | None,
    buildlog_dir: str | None,
    as_json: bool,
) -> None:
    """Import a seed file of reviewer rules, such as one from qortex: its rules go into the
    database, the file into the seeds folder, and the bandit arms of rules whose upstream
    graph_version changed are decayed."""
    from buildlog.cli.common import resolve_sqlite
    from buildlog.seed_import import import_seed_file

    backend = resolve_sqlite(state, "import-seed")
    folder = target_dir or _seeds_folder(state)
    result = import_seed_file(backend.engine, backend.project_id, source, folder)
    if as_json or output_format() != "table":
        emit(result.to_dict(), list(result.to_dict()), as_json=as_json)
        return
    click.echo(f"\u2713 {result.message}")
    click.echo(f"  Target: {result.target_path}")
    if result.version_changed:
        click.echo(f"  Decayed: {result.decayed_rules} bandit arms")


@click.command("ingest-seeds")
@click.option("--source", "source_name", help="Only this source [default: every source].")
@_buildlog_dir_option
@json_option
@pass_state
def ingest_seeds(
    state: CliState, source_name: str | None, buildlog_dir: str | None, as_json: bool
) -> None:
    """Import the seed files producers left pending (sources in ~/.buildlog/interop.yaml,
    default ~/.qortex/seeds/pending): imported ones move to processed/, invalid ones to
    failed/ with a .error file beside them."""
    from buildlog.cli.common import resolve_sqlite
    from buildlog.seed_ingest import ingest_pending

    backend = resolve_sqlite(state, "ingest-seeds")
    folder = _seeds_folder(state)
    results = ingest_pending(backend.engine, backend.project_id, folder, source_name=source_name)
    if as_json:
        echo_json([result.to_dict() for result in results])
        return
    if output_format() != "table":
        rows = [{"source": r.source, **asdict(f)} for r in results for f in r.files]
        emit(rows, ("source", "file", "status", "persona", "rule_count", "error"), as_json=False)
        return
    icons = {"ingested": "\u2713", "failed": "\u2717", "skipped": "\u2298"}
    for result in results:
        click.echo(result.message)
        for item in result.files:
            line = f"  {icons[item.status]} {item.file}"
            if item.persona:
                line += f" ({item.persona}, {item.rule_count} rules)"
            if item.error:
                line += f" \u2014 {item.error}"
            click.echo(line)
    if not results:
        click.echo("No sources configured.")
