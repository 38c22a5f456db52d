"""The StorageBackend protocol against both backends, and what only SQLiteBackend does."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import blsamples
import pytest

from buildlog.backends import StorageBackend
from buildlog.backends.legacy import LegacyBackend
from buildlog.backends.resolve import resolve_backend
from buildlog.backends.sqlite import SQLiteBackend
from buildlog.errors import InvalidRecord, ReadOnlyBackend
from buildlog.legacy import layout_for, read_legacy_file
from buildlog.project import identify_project
from buildlog.records import (
    BanditArm,
    Learning,
    Mistake,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    SkillDecision,
    parse_record,
)
from storage_core.errors import AlreadyExists


def _fill_sqlite(backend: StorageBackend, data: Path, buildlog_dir: Path) -> None:
    """Store the sample records through the protocol's write methods."""
    for kind, name in (
        ("rewards", "reward_events.jsonl"),
        ("sessions", "sessions.jsonl"),
        ("mistakes", "mistakes.jsonl"),
    ):
        records = read_legacy_file(data / name).records
        assert backend.append_events(kind, records) == len(records)  # type: ignore[arg-type]
    backend.decide_skills("promoted", blsamples.PROMOTED["skill_ids"])
    backend.decide_skills("rejected", blsamples.REJECTED["skill_ids"])
    mixed = read_legacy_file(data / "review_learnings.json").records
    backend.save_learnings(r for r in mixed if isinstance(r, Learning))
    backend.append_review_history(r for r in mixed if isinstance(r, ReviewHistoryEntry))
    backend.save_active_session(parse_record(Session, blsamples.ACTIVE))
    arms = read_legacy_file(buildlog_dir / "bandit_state.jsonl").records
    backend.save_bandit_state(a for a in arms if isinstance(a, BanditArm))


@pytest.fixture(params=["legacy", "sqlite"])
def filled(request: pytest.FixtureRequest, project: Path) -> Iterator[StorageBackend]:
    """A backend holding the sample records, either way."""
    backend: StorageBackend
    if request.param == "legacy":
        blsamples.write_legacy(project / "buildlog")
        backend = LegacyBackend(layout_for(project / "buildlog"), identify_project(project))
    else:
        source = project.parent / "source"
        data = blsamples.write_legacy(source)
        backend = resolve_backend(project).backend
        _fill_sqlite(backend, data, source)
    yield backend
    backend.close()


def test_events_read_back(filled: StorageBackend) -> None:
    rewards = filled.load_events("rewards")
    # Oldest first (the first two share a timestamp: the database orders them by id).
    assert sorted(r.id for r in rewards[:2]) == ["rew-9e945b24ce", "rew-e417076a9f"]
    assert rewards[2].id == "rew-0000000001"
    first = next(r for r in rewards if r.id == "rew-9e945b24ce")
    assert first == parse_record(RewardEvent, blsamples.REWARDS[0])
    assert filled.count_events("rewards") == 3
    assert filled.count_events("sessions") == 2
    assert filled.count_events("mistakes") == 2
    mistakes = filled.load_events("mistakes")
    expected = parse_record(Mistake, blsamples.MISTAKES[1])
    if not isinstance(filled, LegacyBackend):
        # The database keeps these as the original stores them, JSON text (NULL stays NULL).
        for name in ("related_concepts", "rules_consulted"):
            value = getattr(expected, name)
            setattr(expected, name, None if value is None else json.dumps(value))
    assert mistakes[-1] == expected
    assert [s.id for s in filled.load_events("sessions", limit=1)] == [
        "session-20260206-080000-000001"
    ]


def test_sets_learnings_session_bandit_read_back(filled: StorageBackend) -> None:
    promoted = filled.load_skill_decisions("promoted")
    assert [d.skill_id for d in promoted] == sorted(blsamples.PROMOTED["skill_ids"])
    all_decisions = filled.load_skill_decisions()
    assert {d.skill_id: d.decision for d in all_decisions}["tool-288da7b6a1"] == "rejected"
    learnings = filled.load_learnings()
    assert sorted(learnings) == ["secu-c9a6113da5", "test-a230a80e7c"]
    assert learnings["test-a230a80e7c"].reinforcement_count == 2
    history = filled.load_review_history()
    assert [h.issues_count for h in history] == [4, 11]
    session = filled.load_active_session()
    assert session is not None
    assert session.id == "session-20260207-101010-000042"
    arms = filled.load_bandit_state()
    assert [(a.context, a.rule_id, a.alpha) for a in arms] == [
        ("general", "security_karen:3b1f0a9c", 3.0),
        ("missing_test", "arch-b0fcb62a1e", 3.0),
    ]
    assert [p.id for p in filled.list_projects()] == [filled.project_id]


def test_legacy_backend_refuses_every_write(project: Path) -> None:
    data = blsamples.write_legacy(project)
    backend = LegacyBackend(layout_for(project), identify_project(project))
    expected = (
        "cannot {}: this project still uses the read-only legacy files in "
        f"{data.resolve()}; run 'buildlog migrate' to move them into the database"
    )
    attempts = [
        ("record rewards", lambda: backend.append_events("rewards", [])),
        ("record promoted skills", lambda: backend.decide_skills("promoted", ["x"])),
        ("save learnings", lambda: backend.save_learnings([])),
        ("append review history", lambda: backend.append_review_history([])),
        ("start a session", lambda: backend.save_active_session(Session("s", "t"))),
        ("end the session", backend.delete_active_session),
        ("save bandit state", lambda: backend.save_bandit_state([])),
        ("update a bandit arm", lambda: backend.update_arm("c", "r", 1.0)),
    ]
    for operation, attempt in attempts:
        with pytest.raises(ReadOnlyBackend) as info:
            attempt()
        assert str(info.value) == expected.format(operation)
    assert (data / "reward_events.jsonl").read_text() == blsamples.jsonl(blsamples.REWARDS)


def test_legacy_backend_counts_malformed_lines(project: Path) -> None:
    data = blsamples.write_legacy(project)
    with (data / "reward_events.jsonl").open("a") as handle:
        handle.write("{broken\n")
    backend = LegacyBackend(layout_for(project), identify_project(project))
    assert backend.count_events("rewards") == 3
    backend.count_events("rewards")
    assert [str(i) for i in backend.issues] == [
        f"{(data / 'reward_events.jsonl').resolve()}:4: invalid JSON: "
        "Expecting property name enclosed in double quotes (column 2)"
    ]
    assert backend.scan()["reward_events.jsonl"] == 3


@pytest.fixture
def sqlite_backend(project: Path) -> Iterator[SQLiteBackend]:
    backend = resolve_backend(project).backend
    assert isinstance(backend, SQLiteBackend)
    yield backend
    backend.close()


def test_event_appends_are_idempotent(sqlite_backend: SQLiteBackend) -> None:
    records = [parse_record(RewardEvent, r) for r in blsamples.REWARDS]
    assert sqlite_backend.append_events("rewards", records) == 3
    assert sqlite_backend.append_events("rewards", records) == 0
    assert sqlite_backend.append_events("rewards", records[:1] * 2) == 0
    assert sqlite_backend.count_events("rewards") == 3
    with pytest.raises(
        InvalidRecord, match=r"^append rewards: takes RewardEvent records, not Session$"
    ):
        sqlite_backend.append_events("rewards", [Session("s", "t")])


def test_decisions_replace_each_other(sqlite_backend: SQLiteBackend) -> None:
    assert sqlite_backend.decide_skills("promoted", ["a", "b", "a"]) == 2
    assert sqlite_backend.decide_skills("promoted", ["a"]) == 0
    assert sqlite_backend.decide_skills("rejected", ["a"]) == 1
    decisions = sqlite_backend.load_skill_decisions()
    assert [(d.skill_id, d.decision) for d in decisions] == [("a", "rejected"), ("b", "promoted")]
    assert isinstance(decisions[0], SkillDecision)
    assert decisions[0].metadata == decisions[0].decided_at


def test_bandit_updates_and_replacement(sqlite_backend: SQLiteBackend) -> None:
    arm = sqlite_backend.update_arm("general", "r1", 1.0)
    assert (arm.alpha, arm.beta) == (2.0, 1.0)
    arm = sqlite_backend.update_arm("general", "r1", 0.0)
    assert (arm.alpha, arm.beta, arm.mean) == (2.0, 2.0, 0.5)
    assert sqlite_backend.load_bandit_state() == [arm]
    sqlite_backend.save_bandit_state([BanditArm("c", "r2", 4.0, 1.0, True, "2026-01-01")])
    assert sqlite_backend.load_bandit_state() == [
        BanditArm("c", "r2", 4.0, 1.0, True, "2026-01-01")
    ]


def test_learnings_upsert_and_history_dedupe(sqlite_backend: SQLiteBackend) -> None:
    learning = Learning("sk-1", "rule", "testing", "major", "src", "t1", "t1")
    sqlite_backend.save_learnings([learning])
    learning.reinforcement_count = 3
    learning.last_reinforced = "t2"
    learning.category = "ignored-on-update"
    sqlite_backend.save_learnings([learning])
    stored = sqlite_backend.load_learnings()["sk-1"]
    assert (stored.reinforcement_count, stored.last_reinforced, stored.category) == (
        3,
        "t2",
        "testing",
    )
    entry = ReviewHistoryEntry("t1", "src", 2, ["sk-1"], [])
    assert sqlite_backend.append_review_history([entry, entry]) == 1
    assert sqlite_backend.append_review_history([entry]) == 0


def test_active_session_lifecycle(sqlite_backend: SQLiteBackend) -> None:
    assert sqlite_backend.load_active_session() is None
    session = parse_record(Session, blsamples.ACTIVE)
    sqlite_backend.save_active_session(session)
    sqlite_backend.save_active_session(session)
    assert sqlite_backend.load_active_session() == session
    sqlite_backend.delete_active_session()
    assert sqlite_backend.load_active_session() is None


def test_starting_a_session_refuses_a_running_one_atomically(
    sqlite_backend: SQLiteBackend,
) -> None:
    first, second = Session("session-1", "t1"), Session("session-2", "t2")
    sqlite_backend.save_active_session(first, replace=False)
    with pytest.raises(AlreadyExists) as refused:
        sqlite_backend.save_active_session(second, replace=False)
    assert str(refused.value) == (
        "an experiment is already running (session-1); end it with 'buildlog experiment end' first"
    )
    assert sqlite_backend.load_active_session() == first


def test_projects_are_isolated(tmp_path: Path) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    one.mkdir()
    two.mkdir()
    a = resolve_backend(one).backend
    b = resolve_backend(two).backend
    try:
        a.append_events("rewards", [parse_record(RewardEvent, blsamples.REWARDS[0])])
        a.decide_skills("promoted", ["x"])
        a.update_arm("general", "x", 1.0)
        a.save_active_session(Session("s", "t"))
        a.save_learnings([Learning("sk-1", "rule", "testing", "major", "src", "t1", "t1")])
        assert b.count_events("rewards") == 0
        assert b.load_events("rewards") == []
        assert b.load_skill_decisions() == []
        assert b.load_bandit_state() == []
        assert b.load_active_session() is None
        assert b.load_learnings() == {}
        # The same record id in another project is a different record.
        assert b.append_events("rewards", [parse_record(RewardEvent, blsamples.REWARDS[0])]) == 1
        assert sorted(p.name for p in b.list_projects()) == ["one", "two"]
    finally:
        a.close()
        b.close()
