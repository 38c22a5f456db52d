"""The diary command line through Click's runner: output, --json, exact errors."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from diary.cli import cli


def run(*args: str, input: str | None = None) -> Result:
    return CliRunner().invoke(cli, list(args), input=input, catch_exceptions=False)


def ok(*args: str, input: str | None = None) -> str:
    result = run(*args, input=input)
    assert result.exit_code == 0, result.output + result.stderr
    return result.stdout


def fails(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 1
    assert result.stdout == ""
    return result.stderr


def created_id(*args: str) -> str:
    data = json.loads(ok(*args, "--json"))
    return str(data["id"])


@pytest.fixture
def iteration_id() -> str:
    created_id("project", "create", "demo", "--description", "d")
    experiment = created_id("experiment", "create", "demo", "exp")
    return created_id("iteration", "start", experiment, "--notes", "first")


def test_walk_through(iteration_id: str, tmp_path: Path) -> None:
    ok("log", "param", iteration_id, "lr", "0.1")
    assert ok("log", "metric", iteration_id, "loss", "0.5") == "0\n"
    assert json.loads(
        ok("log", "metric", iteration_id, "loss", "0.25", "--step", "4", "--json")
    ) == {
        "key": "loss",
        "value": 0.25,
        "step": 4,
    }
    assert ok("metric", "keys", iteration_id) == "loss\n"
    history = json.loads(ok("metric", "history", iteration_id, "loss", "--json"))
    assert [(p["step"], p["value"]) for p in history] == [(0, 0.5), (4, 0.25)]
    csv_lines = ok("metric", "history", iteration_id, "loss", "--format", "csv").splitlines()
    assert csv_lines[0] == "step,value,timestamp"
    assert csv_lines[1].startswith("0,0.5,")
    table = ok("metric", "history", iteration_id, "loss").splitlines()
    assert table[0].split() == ["STEP", "VALUE", "TIMESTAMP"]

    ended = json.loads(
        ok("iteration", "end", iteration_id, "--status", "failed", "--error", "x", "--json")
    )
    assert (ended["status"], ended["error_message"]) == ("failed", "x")
    shown = ok("iteration", "show", iteration_id)
    assert "status          failed" in shown
    listed = json.loads(ok("iteration", "list", ended["experiment_id"], "--json"))
    assert [i["id"] for i in listed] == [iteration_id]
    assert (tmp_path / "deardiary.db").is_file()


def test_projects_and_experiments() -> None:
    project = created_id("project", "create", "alpha")
    assert ok("project", "create", "beta").strip() != project
    listed = json.loads(ok("project", "list", "--json"))
    assert [p["name"] for p in listed] == ["alpha", "beta"]
    assert ok("project", "list").splitlines()[0].split() == [
        "ID",
        "NAME",
        "CREATED_AT",
        "DESCRIPTION",
    ]
    assert json.loads(ok("project", "show", "alpha", "--json"))["id"] == project
    experiment = created_id("experiment", "create", project, "e1")
    assert [e["id"] for e in json.loads(ok("experiment", "list", "alpha", "--json"))] == [
        experiment
    ]
    ended = json.loads(ok("experiment", "end", experiment, "--status", "stopped", "--json"))
    assert ended["status"] == "stopped"
    assert json.loads(ok("experiment", "show", experiment, "--json"))["ended_at"] is not None


def test_log_metrics_from_csv_and_json_lines(iteration_id: str, tmp_path: Path) -> None:
    csv_file = tmp_path / "points.csv"
    csv_file.write_text("key,value,step\nloss,1.0,\nloss,0.5,\nacc,0.9,10\n")
    assert ok("log", "metrics", iteration_id, str(csv_file)) == "logged 3 points\n"
    lines = '{"key": "loss", "value": 0.25}\n{"key": "acc", "value": 0.95, "step": 11}\n'
    assert json.loads(ok("log", "metrics", iteration_id, "-", "--json", input=lines)) == {
        "logged": 2
    }
    history = json.loads(ok("metric", "history", iteration_id, "loss", "--format", "json"))
    assert [(p["step"], p["value"]) for p in history] == [(0, 1.0), (1, 0.5), (2, 0.25)]
    assert ok("metric", "keys", iteration_id, "--json").split() == ["[", '"acc",', '"loss"', "]"]


def test_log_metrics_errors_name_the_line(iteration_id: str, tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("key,value\nloss,1.0\nloss,high\n")
    assert fails("log", "metrics", iteration_id, str(bad)) == (
        f"Error: invalid value on line 3 of {bad} 'high': expected a number\n"
    )
    header = tmp_path / "header.csv"
    header.write_text("name,number\nloss,1\n")
    assert fails("log", "metrics", iteration_id, str(header)) == (
        f"Error: invalid header of {header} 'name,number': expected key,value,step (CSV) or "
        "JSON lines\n"
    )
    # Nothing of a refused file was logged.
    assert ok("metric", "keys", iteration_id) == ""


def test_models_and_versions(iteration_id: str) -> None:
    model = created_id("model", "create", "demo", "clf")
    assert json.loads(ok("model", "list", "demo", "--json"))[0]["name"] == "clf"
    first = created_id("model", "version", "create", model, "--iteration", iteration_id)
    second = created_id("model", "version", "create", model, "--iteration", iteration_id)
    ok("model", "version", "stage", first, "production")
    staged = json.loads(ok("model", "version", "stage", second, "production", "--json"))
    assert (staged["version"], staged["stage"]) == (2, "production")
    versions = json.loads(ok("model", "version", "list", model, "--json"))
    assert [(v["version"], v["stage"]) for v in versions] == [(1, "archived"), (2, "production")]
    assert fails("model", "create", "demo", "clf") == (
        f"Error: project {json.loads(ok('project', 'show', 'demo', '--json'))['id']} already has "
        "a model 'clf'\n"
    )
    missing = "00000000-0000-0000-0000-00000000abcd"
    assert fails(
        "model", "version", "create", model, "--iteration", iteration_id, "--artifact", missing
    ) == (f"Error: artifact not found: {missing}\n")


def test_errors_are_one_line_and_exit_1(iteration_id: str) -> None:
    assert fails("project", "show", "nope") == "Error: project not found: nope\n"
    assert fails("experiment", "show", "x") == "Error: experiment not found: x\n"
    ok("log", "param", iteration_id, "lr", "0.1")
    assert fails("log", "param", iteration_id, "lr", "0.2") == (
        f"Error: parameter 'lr' of iteration {iteration_id} is already '0.1'; refusing '0.2' "
        "(a parameter is set once per iteration)\n"
    )


def test_debug_shows_the_traceback() -> None:
    from diary.errors import NotFound

    with pytest.raises(NotFound):
        CliRunner().invoke(cli, ["--debug", "project", "show", "nope"], catch_exceptions=False)


def test_group_options_choose_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ok("--db", str(tmp_path / "a.db"), "project", "create", "in-a")
    env_file = tmp_path / "b.env"
    env_file.write_text(f"DEARDIARY_DB_FILE={tmp_path / 'b.db'}\n")
    ok("--env-file", str(env_file), "project", "create", "in-b")
    assert (
        json.loads(ok("--db", str(tmp_path / "a.db"), "project", "list", "--json"))[0]["name"]
        == "in-a"
    )
    assert (
        json.loads(ok("--env-file", str(env_file), "project", "list", "--json"))[0]["name"]
        == "in-b"
    )
    monkeypatch.setenv("DEARDIARY_LOCK_TIMEOUT", "never")
    assert fails("project", "list") == (
        "Error: invalid DEARDIARY_LOCK_TIMEOUT='never': expected a number of seconds\n"
    )


def test_db_commands(tmp_path: Path) -> None:
    database = tmp_path / "deardiary.db"
    assert fails("db", "current") == f"Error: database not found: {database}\n"
    assert ok("db", "upgrade") == f"created {database} at revision 0005_metric_summary\n"
    assert ok("db", "upgrade") == f"{database} is already at revision 0005_metric_summary\n"
    assert ok("db", "current") == "0005_metric_summary\n"
    assert json.loads(ok("db", "current", "--json")) == {"revision": "0005_metric_summary"}
    assert ok("db", "check") == f"{database} is up to date at revision 0005_metric_summary\n"
    ok("project", "create", "kept")
    assert ok("db", "backup", str(tmp_path / "copy.db")) == f"{tmp_path / 'copy.db'}\n"
    assert (
        json.loads(ok("--db", str(tmp_path / "copy.db"), "project", "list", "--json"))[0]["name"]
        == "kept"
    )


def test_foreign_file_is_refused_in_one_line(tmp_path: Path) -> None:
    database = tmp_path / "old.db"
    sqlite3.connect(database).execute("CREATE TABLE t (x)").connection.close()
    assert fails("--db", str(database), "project", "list") == (
        f"Error: {database} is a SQLite database (DearDiary.jl before v0.9 used SQLite), not a "
        "diary DuckDB database; nothing was written to it; use a new file, or "
        "DEARDIARY_DB_URL=sqlite:///... for a diary database kept in SQLite\n"
    )


def test_help_lists_every_command() -> None:
    assert ok("--help").count("\n  ") >= 7
    for group, commands in {
        "db": ["upgrade", "current", "check", "backup"],
        "project": ["create", "list", "show"],
        "experiment": ["create", "list", "show", "end"],
        "iteration": ["start", "end", "list", "show"],
        "log": ["param", "metric", "metrics"],
        "metric": ["keys", "history"],
        "model": ["create", "list", "version"],
    }.items():
        text = ok(group, "--help")
        for command in commands:
            assert f"  {command} " in text or f"  {command}\n" in text, (group, command)


def test_help_does_not_import_the_database_stack() -> None:
    import subprocess
    import sys

    code = (
        "import sys; from diary.cli import cli\n"
        "try:\n    cli(['--help'], prog_name='diary')\nexcept SystemExit:\n    pass\n"
        "heavy = [m for m in ('sqlalchemy', 'duckdb', 'alembic', 'pyarrow') if m in sys.modules]\n"
        "print('HEAVY', heavy)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True, timeout=60
    )
    assert done.stdout.splitlines()[-1] == "HEAVY []"
