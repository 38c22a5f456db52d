"""The command line's direct DuckDB read path (diary.query.direct): the same answers as the
store's search, never a change to the file, a step aside whenever it is not certain, and no
SQLAlchemy in the processes it serves."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

import diary
from diary.cli import cli
from diary.cli.common import CliState
from diary.config import load_settings
from diary.query import metric_summaries, search_runs
from diary.query.direct import DirectReader, open_reader
from diary.query.selection import column_keys


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """Two projects, each with a "sweep"; iterations with parameters, metrics (NaN and
    repeated steps too), tags, a child, a failed one; an experiment with no iterations."""
    path = tmp_path / "d.db"
    with diary.open(path) as store:
        vision = store.get_or_create_project("vision")
        sweep = store.get_or_create_experiment(vision.id, "sweep")
        store.get_or_create_experiment(vision.id, "empty")
        nlp = store.get_or_create_experiment(store.get_or_create_project("nlp").id, "sweep")
        store.get_or_create_experiment(store.get_or_create_project("nlp").id, "bert")
        for number in range(6):
            with store.iteration(sweep.id, snapshot=False, tags=[f"run-{number}", "b", "a"]) as it:
                it.log_params({"lr": 10.0**-number, "optimizer": "adam" if number % 2 else "sgd"})
                store.log_points(
                    it.id, [("loss", 1 / (step + 1) + number, step) for step in range(20)]
                )
                it.log_metric("acc", math.nan if number == 3 else number / 10)
                if number == 2:
                    it.log_metric("only-two", 7.0, step=5)
                    it.log_metric("only-two", 8.0, step=5)  # the same step again: last wins
        child = store.create_iteration(sweep.id, parent=it.id, snapshot=False)
        store.log_param(child.id, "lr", "n/a")
        failed = store.create_iteration(nlp.id, snapshot=False)
        store.log_metric(failed.id, "acc", 0.5)
        store.end_iteration(failed.id, "failed", error="diverged")
    return path


@contextlib.contextmanager
def _reader(db: Path) -> Iterator[DirectReader]:
    """A reader of ``db`` (no store may be open in the process meanwhile: DuckDB refuses a
    second configuration of one file, so the command line closes one before the other)."""
    opened = open_reader(load_settings(db_file=db))
    assert opened is not None
    try:
        yield opened
    finally:
        opened.close()


def _digest(path: Path) -> dict[str, str]:
    return {
        file.name: hashlib.sha256(file.read_bytes()).hexdigest()
        for file in sorted(path.parent.iterdir())
        if file.name.startswith(path.name) and not file.name.endswith(".lock")
    }


@pytest.mark.parametrize(
    "columns", [None, ["metrics.loss", "params.lr"], ["metrics.acc"], ["tags"], []]
)
@pytest.mark.parametrize(("limit", "offset"), [(None, 0), (2, 1), (0, 0), (None, 6), (3, 50)])
def test_listing_equals_the_store_search(
    db: Path, columns: list[str] | None, limit: int | None, offset: int
) -> None:
    with diary.open(db) as store:
        sweep = store.find_experiment("sweep", project="vision")
        expected = search_runs(
            store, experiments=[sweep.id], limit=limit, offset=offset, columns=columns
        )
    with _reader(db) as reader:
        reader_result = reader.runs(
            experiments=[str(sweep.id)], keys=column_keys(columns), limit=limit, offset=offset
        )
    assert (reader_result.params, reader_result.metrics) == (expected.params, expected.metrics)
    assert repr(reader_result.rows) == repr(expected.rows)  # NaN equal to NaN, types the same


def test_project_scope_ids_summaries_and_history_equal_the_store(db: Path) -> None:
    with diary.open(db) as store:
        expected = search_runs(store, projects=["nlp"])
        everything = search_runs(store)
        ids = [str(row["id"]) for row in everything]
        summaries = {i: metric_summaries(store, i) for i in ids}
        history = store.metric_history(ids[2], "only-two")
        loss = store.metric_history(ids[0], "loss")
    with _reader(db) as reader:
        _check_reader(reader, ids, expected, everything, summaries, history, loss)


def _check_reader(reader: DirectReader, ids: list[str], *expected_results: Any) -> None:
    expected, everything, summaries, history, loss = expected_results
    nlp = reader.find_project("nlp")
    assert nlp is not None
    by_project = reader.runs(experiments=reader.project_experiments(nlp))
    assert repr(by_project.rows) == repr(expected.rows)
    by_ids = reader.runs(ids=list(reversed(ids)))  # ordered oldest first, as a search is
    assert repr(by_ids.rows) == repr(everything.rows)
    assert repr(reader.summaries(ids)) == repr(summaries)
    assert reader.history(ids[2], "only-two") == (list(history.steps), list(history.values))
    assert reader.history(ids[0], "loss") == (list(loss.steps), list(loss.values))
    assert reader.history(ids[0], "nothing") == ([], [])
    assert reader.runs(experiments=[]).rows == []


def test_finders_answer_only_when_certain(db: Path) -> None:
    with diary.open(db) as store:
        bert = store.find_experiment("bert")
        first = search_runs(store)[0]["id"]
    with _reader(db) as reader:
        _check_finders(reader, str(bert.id), str(first))


def _check_finders(reader: DirectReader, bert: str, first: str) -> None:
    assert reader.find_experiment("vision") is None  # a project's name, not an experiment's
    assert reader.find_experiment("bert") == bert
    assert reader.find_experiment(bert) == bert
    assert reader.find_experiment(f" {bert} ") == bert
    assert reader.find_experiment(bert[:13]) == bert  # a prefix, dash included
    assert reader.find_experiment("sweep") is None  # two experiments have the name
    assert reader.find_experiment("nothing") is None
    assert reader.find_project("vision") is not None
    assert reader.find_iteration(first[:8]) == first
    assert reader.find_iteration("00000000-0000-0000-0000-000000000000") is None  # not stored
    assert reader.resolve_id("iteration", "00000000-0000-0000-0000-000000000000") == (
        "00000000-0000-0000-0000-000000000000"  # a whole id is taken as it is, as the store does
    )
    assert reader.find_iteration("abc") is None  # too short for a prefix
    assert reader.find_iteration("sweep") is None  # iterations have no names
    with pytest.raises(ValueError, match="not a table"):
        reader.resolve_id("parameter; DROP TABLE iteration", "abcd")


def test_reading_changes_nothing_on_disk(db: Path) -> None:
    before = _digest(db)
    opened = open_reader(load_settings(db_file=db))
    assert opened is not None
    opened.runs(experiments=[opened.find_experiment("bert") or ""])
    opened.close()
    assert _digest(db) == before
    assert not Path(f"{db}.wal").exists()


def test_it_steps_aside_for_the_store(db: Path, tmp_path: Path) -> None:
    import duckdb

    assert open_reader(load_settings(db_file=tmp_path / "missing.db")) is None
    assert open_reader(load_settings(db_url=f"sqlite:///{tmp_path / 's.db'}")) is None
    sqlite_file = tmp_path / "s.db"
    import sqlite3

    sqlite3.connect(sqlite_file).close()
    sqlite3.connect(sqlite_file).execute("CREATE TABLE t (x)").connection.commit()
    assert open_reader(load_settings(db_file=sqlite_file)) is None
    foreign = tmp_path / "other.duckdb"
    duckdb.connect(str(foreign)).execute("CREATE TABLE t (x INT)").close()
    assert open_reader(load_settings(db_file=foreign)) is None
    with duckdb.connect(str(db)) as conn:  # as a database written before the last revision
        conn.execute("UPDATE diary_alembic_version SET version_num = '0004_environment'")
    assert open_reader(load_settings(db_file=db)) is None


def _run_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The CLI in a fresh interpreter, reporting whether SQLAlchemy was imported."""
    code = (
        "import sys\nfrom diary.cli import cli\n"
        "try:\n    cli(sys.argv[1:], prog_name='diary')\n"
        "finally:\n    print('SQLALCHEMY', 'sqlalchemy' in sys.modules, file=sys.stderr)\n"
    )
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        check=False,
    )


def test_list_compare_and_plot_start_without_sqlalchemy(db: Path) -> None:
    listed = _run_cli("--db", str(db), "iteration", "list", "bert", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr.endswith("SQLALCHEMY False\n")
    rows = json.loads(
        _run_cli("--db", str(db), "iteration", "list", "--project", "vision", "--json").stdout
    )
    ids = [row["id"] for row in rows]
    compared = _run_cli("--db", str(db), "compare", ids[0][:8], ids[1])
    assert compared.returncode == 0, compared.stderr
    assert compared.stderr.endswith("SQLALCHEMY False\n")
    plotted = _run_cli("--db", str(db), "metric", "plot", ids[0][:8], ids[1], "loss")
    assert plotted.returncode == 0, plotted.stderr
    assert plotted.stderr.endswith("SQLALCHEMY False\n")
    assert f"{ids[0][:8]} loss" in plotted.stdout
    # What the reader is not sure of goes to the store, with the store's error.
    ambiguous = _run_cli("--db", str(db), "iteration", "list", "sweep")
    assert ambiguous.returncode == 1
    assert ambiguous.stderr.splitlines()[0].startswith("Error: invalid experiment name 'sweep'")
    # Filters and orders are plain SQL too (diary.query.duckdb_sql).
    filtered = _run_cli(
        "--db", str(db), "iteration", "list", "bert", "--filter", "status='x'",
        "--order-by", "metrics.loss",
    )  # fmt: skip
    assert (filtered.returncode, filtered.stderr.endswith("SQLALCHEMY False\n")) == (0, True)
    searched = _run_cli("--db", str(db), "iteration", "search", "metrics.loss < 1")
    assert (searched.returncode, searched.stderr.endswith("SQLALCHEMY False\n")) == (0, True)
    assert ambiguous.stderr.endswith("SQLALCHEMY True\n")


def _outputs(db: Path, commands: list[list[str]]) -> list[tuple[int, str, str]]:
    runner = CliRunner()
    found = []
    for args in commands:
        result = runner.invoke(cli, ["--db", str(db), *args])
        found.append((result.exit_code, result.stdout, result.stderr))
    return found


def _commands(db: Path) -> list[list[str]]:
    with diary.open(db) as store:
        ids = [str(row["id"]) for row in search_runs(store)]
        sweep = str(store.find_experiment("sweep", project="vision").id)
    commands: list[list[str]] = []
    for form in (["--format", "table"], ["--json"], ["--format", "jsonl"], ["--format", "csv"]):
        commands += [
            ["iteration", "list", sweep, *form],
            ["iteration", "list", sweep[:8], "--columns", "metrics.acc,params.lr", *form],
            ["iteration", "list", "--project", "vision", "--limit", "3", "--offset", "2", *form],
            ["iteration", "list", "bert", *form],
            ["iteration", "list", sweep, "--columns", "metrics.nothing", *form],
            ["compare", *ids[:4], *form],
            ["compare", ids[0][:6], ids[-1], "--all", "--maximize", "acc", *form],
            ["iteration", "list", sweep, "--filter", "params.lr > 0.001 or tag = 'best'",
             "--order-by", "metrics.loss desc", "--limit", "4", *form],
            ["iteration", "search", "metrics.acc >= 0", "--project", "vision",
             "--order-by", "params.lr", "--offset", "1", *form],
            ["iteration", "search", "--experiment", sweep, "--experiment", "bert", *form],
        ]  # fmt: skip
    commands += [
        ["iteration", "list", "--project", "nothing"],
        ["iteration", "list", "0000"],
        ["compare", ids[0], "00000000-0000-0000-0000-000000000000"],
        ["metric", "plot", ids[0], ids[2], "--key", "loss", "--key", "acc", "--width", "60"],
        ["metric", "plot", ids[2], "only-two", "--width", "40", "--height", "8"],
        ["metric", "plot", ids[0], "nothing"],
        ["metric", "plot", "ffff", "loss"],
        ["iteration", "list", sweep, "--filter", "params.nope = 1"],
        ["iteration", "list", sweep, "--order-by", "tags.stage"],
        ["iteration", "search", "params.lr >"],
        ["iteration", "search", "metrics.loss = 'low'"],
        ["iteration", "search", "--experiment", "sweep"],
        ["iteration", "search", "--project", "nothing"],
    ]
    return commands


def test_every_output_equals_the_store_path(db: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    commands = _commands(db)
    direct = _outputs(db, commands)
    monkeypatch.setattr(CliState, "reader", lambda self: None)  # as on PostgreSQL or SQLite
    assert _outputs(db, commands) == direct
    failed = [args for (code, _, _), args in zip(direct, commands, strict=True) if code]
    # The errors are compared too: 4 unknown columns, 5 more, and 6 of searches.
    assert len(failed) == 15, failed
