"""Concurrent use of one buildlog database, beyond tests/buildlog/test_buildlog_concurrency.py.

That test has eight library writers append rewards and update one arm. Here eight
processes run the real command line at the same moment (rewards, learnings, bandit updates
and promotions on one project, released together), and groups of four processes do their
first use of a database nobody has created yet at the same instant. No process may see an
error, and no record may be lost.
"""

from __future__ import annotations

import json
import stat
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    current_isolation,
    isolated_buildlog,
    release,
    start_children,
)
from click.testing import CliRunner

from buildlog.cli import cli
from buildlog.db import open_engine
from buildlog.identifiers import rule_id
from buildlog.paths import database_location

WRITERS = 8
ROUNDS = 6
FIRST_USERS = 4
FIRST_USE_RACES = 3


def _json(root: Path, *args: str) -> list[dict[str, object]]:
    """The records a listing prints (JSON lines: ``rewards --json`` is the original's object)."""
    result = CliRunner().invoke(cli, ["--project-root", str(root), *args, "--format", "jsonl"])
    assert result.exit_code == 0, result.stderr
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.mark.slow
def test_eight_cli_writers_at_once_lose_nothing(tmp_path: Path) -> None:
    root = tmp_path / "widgets"
    root.mkdir()
    children = start_children(
        [["writer-child", str(w), str(ROUNDS), str(root)] for w in range(WRITERS)],
        current_isolation().env(),
    )
    outcomes = release(children)
    for code, out, err in outcomes:
        assert (code, out.split()[-2:]) == (0, ["done", "0"]), err
        assert "Error" not in err, err
        assert "Traceback" not in err, err
    tags = {f"w{w}-n{n}" for w in range(WRITERS) for n in range(ROUNDS)}
    rewards = _json(root, "rewards")
    assert sorted(str(r["notes"]) for r in rewards) == sorted(tags)
    assert len({r["id"] for r in rewards}) == len(tags)
    learnings = _json(root, "learnings")
    assert {learning["rule"] for learning in learnings} == {f"rule {t}" for t in tags}
    skills = _json(root, "decisions")
    assert {s["skill_id"] for s in skills} == {rule_id(f"rule {t}", "testing") for t in tags}
    (arm,) = _json(root, "bandit", "show")
    # Every read-modify-write of the shared arm counted, half successes, half failures.
    assert (arm["alpha"], arm["beta"]) == (1 + len(tags) / 2, 1 + len(tags) / 2)


@pytest.mark.slow
def test_four_processes_first_use_of_a_new_database_at_once(tmp_path: Path) -> None:
    isolation = current_isolation()
    for race in range(FIRST_USE_RACES):
        db = tmp_path / f"race-{race}" / "home" / "buildlog.db"
        roots = []
        for n in range(FIRST_USERS):
            root = tmp_path / f"race-{race}" / f"project-{n}"
            root.mkdir(parents=True)
            roots.append(root)
        children = start_children(
            [["first-use-child", str(root), str(db)] for root in roots], isolation.env()
        )
        outcomes = release(children)
        for code, out, err in outcomes:
            assert (code, err) == (0, ""), (race, out, err)
        cases = sorted(int(out.split()[-1]) for _code, out, _err in outcomes)
        # One process created the database (case 4); the others found it (case 2), or also
        # saw no file when they looked (case 4): never an error, never a half-made schema.
        assert set(cases) <= {2, 4}, (race, cases)
        assert 4 in cases, (race, cases)
        engine, status = open_engine(database_location(str(db)))
        try:
            assert status.action == "none"
            with engine.connect() as conn:
                projects = conn.exec_driver_sql("SELECT path FROM projects").scalars().all()
                notes = conn.exec_driver_sql("SELECT notes FROM reward_events").scalars().all()
        finally:
            engine.dispose()
        assert sorted(projects) == sorted(str(r) for r in roots), race
        assert sorted(notes) == sorted(str(r) for r in roots), race
        assert stat.S_IMODE(db.stat().st_mode) == 0o600
        assert stat.S_IMODE(db.parent.stat().st_mode) == 0o700


def test_same_outcome_in_the_same_microsecond_keeps_both_rewards(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two processes recording one outcome in one microsecond made the same id (a hash of
    outcome and timestamp) and the second reward was silently dropped; the clock is frozen
    here to make that instant happen every time."""
    import buildlog.operations
    from buildlog.backends.resolve import resolve_backend
    from buildlog.identifiers import reward_id
    from buildlog.operations import record_reward

    stamp = "2026-02-05T14:45:00.123456+00:00"
    monkeypatch.setattr(buildlog.operations, "format_timestamp", _frozen(stamp))
    root = tmp_path / "widgets"
    root.mkdir()
    backend = resolve_backend(root).backend
    try:
        first = record_reward(backend, "accepted", notes="one")
        second = record_reward(backend, "accepted", notes="two")
        stored = backend.load_events("rewards")
    finally:
        backend.close()
    assert (first.id, first.timestamp) == (reward_id("accepted", stamp), stamp)
    later = "2026-02-05T14:45:00.123457+00:00"
    assert (second.id, second.timestamp) == (reward_id("accepted", later), later)
    assert [(r.id, getattr(r, "notes", None)) for r in stored] == [
        (first.id, "one"),
        (second.id, "two"),
    ]


def _frozen(stamp: str) -> Callable[[datetime | None], str]:
    from buildlog.identifiers import format_timestamp

    def clock(instant: datetime | None = None) -> str:
        return stamp if instant is None else format_timestamp(instant)

    return clock


@pytest.mark.slow
def test_sessions_started_at_once_leave_exactly_one_running(tmp_path: Path) -> None:
    root = tmp_path / "widgets"
    root.mkdir()
    assert CliRunner().invoke(cli, ["--project-root", str(root), "rewards"]).exit_code == 0
    children = start_children([["session-child", str(root)] for _ in range(4)],
                              current_isolation().env())  # fmt: skip
    outcomes = release(children)
    assert all(code == 0 for code, _, _ in outcomes), outcomes
    lines = sorted(out.strip().splitlines()[-1] for _, out, _ in outcomes)
    started = [line for line in lines if line == "started"]
    refused = [
        line
        for line in lines
        if line.startswith("refused ClickException: an experiment is already running (")
    ]
    assert (len(started), len(refused)) == (1, 3), lines
    info = json.loads(
        CliRunner().invoke(cli, ["--project-root", str(root), "info", "--json"]).stdout
    )
    running = info["active_session"]
    assert running is not None
    assert all(f"({running})" in line for line in refused), (refused, running)
