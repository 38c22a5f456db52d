"""The shared CLI error boundary: one line, exit 1, traceback only with --debug."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

import click
import pytest
from click.testing import CliRunner

from storage_core.cli_support import (
    ErrorBoundaryGroup,
    debug_option,
    echo_json,
    echo_table,
    json_option,
)
from storage_core.errors import NotFound


@click.group(cls=ErrorBoundaryGroup)
@debug_option
def cli() -> None:
    """A group for tests."""


@cli.command()
def missing() -> None:
    raise NotFound("project", "p-123")


@cli.command()
def crash() -> None:
    raise RuntimeError("boom\nsecond line")


@cli.group()
def nested() -> None:
    """A subgroup inherits the boundary."""


@nested.command()
def deep() -> None:
    raise NotFound("experiment", "e-1")


@cli.command()
@json_option
def show(as_json: bool) -> None:
    record = {"id": UUID(int=1), "at": datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), "n": 3}
    if as_json:
        echo_json(record)
    else:
        echo_table([record], ["id", "n", "at"])


def test_storage_error_is_one_line_and_exit_1() -> None:
    result = CliRunner().invoke(cli, ["missing"])
    assert result.exit_code == 1
    assert result.stderr == "Error: project not found: p-123\n"
    assert result.stdout == ""


def test_nested_groups_report_once() -> None:
    result = CliRunner().invoke(cli, ["nested", "deep"])
    assert result.exit_code == 1
    assert result.stderr == "Error: experiment not found: e-1\n"


def test_unexpected_errors_are_one_line_too() -> None:
    result = CliRunner().invoke(cli, ["crash"])
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: internal error (RuntimeError): boom second line; rerun with --debug for details\n"
    )


def test_debug_shows_the_original_exception() -> None:
    result = CliRunner().invoke(cli, ["--debug", "missing"])
    assert result.exit_code == 1
    assert isinstance(result.exception, NotFound)


def test_json_and_table_output() -> None:
    runner = CliRunner()
    as_json = runner.invoke(cli, ["show", "--json"])
    assert as_json.exit_code == 0
    assert '"id": "00000000-0000-0000-0000-000000000001"' in as_json.stdout
    assert '"at": "2026-01-02T03:04:05+00:00"' in as_json.stdout
    table = runner.invoke(cli, ["show"])
    assert table.stdout.splitlines() == [
        "ID                                    N  AT",
        "00000000-0000-0000-0000-000000000001  3  2026-01-02T03:04:05+00:00",
    ]


@pytest.mark.parametrize("argv", [["diary", "--help"], ["buildlog", "--help"]])
def test_help_does_not_import_heavy_modules(argv: list[str]) -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        f"from {argv[0]}.cli import cli\n"
        "try:\n"
        "    cli(['--help'], prog_name='x')\n"
        "except SystemExit:\n"
        "    pass\n"
        "heavy = ('sqlalchemy', 'duckdb', 'alembic', 's3fs', 'pyarrow')\n"
        "heavy = [m for m in heavy if m in sys.modules]\n"
        "print('HEAVY=' + ','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines()[-1] == "HEAVY="


def test_tables_fit_a_terminal_and_are_never_clipped_in_a_pipe() -> None:
    import io

    from storage_core import cli_support

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    rows = [{"id": "x" * 36, "name": "y" * 40, "n": "1"}]
    piped = io.StringIO()
    cli_support.echo_table(rows, ["id", "name", "n"], file=piped)
    assert "x" * 36 in piped.getvalue()
    assert "y" * 40 in piped.getvalue()
    screen = Terminal()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "50")  # what shutil.get_terminal_size reads first
        cli_support.echo_table(rows, ["id", "name", "n"], file=screen)
    lines = screen.getvalue().splitlines()
    assert max(len(line) for line in lines) <= 50
    assert lines[1].endswith("1")  # the narrow column is whole
    assert "…" in lines[1]
