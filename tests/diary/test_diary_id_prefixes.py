"""Ids as people use them: a unique prefix names a row, as git takes commit ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

import diary
from diary import models as m
from diary.cli import cli
from diary.errors import InvalidValue, NotFound
from diary.store import Store

# Two ids sharing their first five digits, and a third that shares only the first two.
TWINS = (
    UUID("abcde111-0000-4000-8000-000000000001"),
    UUID("abcde222-0000-4000-8000-000000000002"),
)
LONER = UUID("ab123456-0000-4000-8000-000000000003")


def _plant(store: Store) -> UUID:
    """An experiment whose iterations have the ids above (inserted as rows with chosen ids)."""
    project = store.create_project("p")
    experiment = store.create_experiment(project.id, "e")
    with store.engine.begin() as conn:
        for key in (*TWINS, LONER):
            conn.execute(
                sa.insert(m.iteration).values(
                    id=key, experiment_id=experiment.id, created_at=datetime.now(UTC)
                )
            )
    return experiment.id


def test_a_unique_prefix_names_one_iteration(any_store: Store) -> None:
    _plant(any_store)
    assert any_store.resolve_id("iteration", "ab12") == LONER
    assert any_store.resolve_id("iteration", "AB12-34") == LONER  # case and dashes ignored
    assert any_store.resolve_id("iteration", "abcde2") == TWINS[1]
    assert any_store.resolve_id("iteration", str(TWINS[0])) == TWINS[0]


def test_an_ambiguous_prefix_lists_the_candidates(any_store: Store) -> None:
    _plant(any_store)
    with pytest.raises(InvalidValue) as caught:
        any_store.resolve_id("iteration", "abcde")
    message = str(caught.value)
    assert "2 ids start with it" in message
    assert f"({TWINS[0]}, {TWINS[1]})" in message
    assert "give more characters" in message


@pytest.mark.parametrize(
    "given", ["abc", "ab1x", "ffff", "", "abcde111-0000-4000-8000-00000000000199"]
)
def test_a_short_foreign_or_unknown_prefix_is_not_found(any_store: Store, given: str) -> None:
    _plant(any_store)
    with pytest.raises(NotFound):
        any_store.resolve_id("iteration", given)


def test_projects_and_experiments_take_prefixes_after_names(any_store: Store) -> None:
    experiment = _plant(any_store)
    project = any_store.get_experiment(experiment).project_id
    assert any_store.find_experiment(str(experiment)[:8]).id == experiment
    assert any_store.find_project(str(project)[:8]).id == project
    # A name that looks like a prefix wins over the prefix.
    named = any_store.create_project(str(project)[:8])
    assert any_store.find_project(str(project)[:8]).id == named.id


def _run(db: str, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--db", db, *args], catch_exceptions=False)


def test_every_command_that_takes_an_iteration_takes_a_prefix(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    with diary.open(db) as store:
        _plant(store)
    for args in (
        ["log", "param", "ab12", "lr", "0.1"],
        ["log", "metric", "ab12", "loss", "0.5"],
        ["iteration", "tag", "ab12", "best"],
        ["iteration", "end", "ab12"],
    ):
        done = _run(db, *args)
        assert done.exit_code == 0, done.output
    shown = json.loads(_run(db, "iteration", "show", "ab12", "--json").stdout)
    assert (shown["id"], shown["params"], shown["tags"]) == (str(LONER), {"lr": "0.1"}, ["best"])
    assert shown["status"] == "succeeded"
    history = json.loads(_run(db, "metric", "history", "ab123", "loss", "--json").stdout)
    assert [point["value"] for point in history] == [0.5]
    compared = json.loads(_run(db, "compare", "ab12", "abcde1", "--json").stdout)
    assert set(compared[0]["values"]) == {str(LONER), str(TWINS[0])}
    child = _run(db, "iteration", "start", "e", "--parent", "abcde2", "--json")
    assert json.loads(child.stdout)["parent_id"] == str(TWINS[1])
    assert _run(db, "metric", "plot", "ab12", "loss", "--width", "40").exit_code == 0


def test_an_ambiguous_or_unknown_prefix_is_one_error_line(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    with diary.open(db) as store:
        _plant(store)
    ambiguous = _run(db, "iteration", "show", "abcde")
    assert (ambiguous.exit_code, ambiguous.stdout) == (1, "")
    assert ambiguous.stderr.startswith("Error: invalid iteration id prefix 'abcde': 2 ids start")
    assert len(ambiguous.stderr.splitlines()) == 1
    unknown = _run(db, "log", "metric", "0000", "loss", "1")
    assert (unknown.exit_code, unknown.stderr) == (1, "Error: iteration not found: 0000\n")
    with diary.open(db) as store:  # nothing was written by the failed commands
        assert store.metric_keys(LONER) == []
