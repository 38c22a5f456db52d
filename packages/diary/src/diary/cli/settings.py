"""``diary config``: the effective settings, and where each one came from."""

from __future__ import annotations

import os
from dataclasses import fields

import click

from diary.cli.common import CliState
from storage_core.cli_support import echo_json, echo_table, json_option

__all__ = ["config"]

_SECRETS = {"artifact_s3_access_key", "artifact_s3_secret_key"}


@click.command()
@json_option
@click.pass_context
def config(ctx: click.Context, as_json: bool) -> None:
    """Print the effective settings: each DEARDIARY_* variable, its value (secrets masked)
    and where it came from (flag, environment, .env file or default)."""
    from diary.config import ENV_PREFIX, _read_env_file

    state = ctx.find_object(CliState) or CliState()
    settings = state.settings()
    from_file = _read_env_file(state.env_file) if state.env_file else {}
    rows = []
    for spec in fields(settings):
        variable = ENV_PREFIX + spec.name.upper()
        value = getattr(settings, spec.name)
        if spec.name == "db_file" and state.db_path is not None:
            origin = "flag --db"
        elif os.environ.get(variable):
            origin = "environment"
        elif from_file.get(variable):
            origin = f".env file {state.env_file}"
        else:
            origin = "default"
        if spec.name == "db_url" and value:
            value = settings.describe()  # the password masked
        elif spec.name in _SECRETS and value:
            value = "***"
        rows.append({"variable": variable, "value": "" if value is None else str(value),
                     "origin": origin})  # fmt: skip
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ["variable", "value", "origin"])
