"""buildlog migrate: every file imported once, renamed, merged, malformed lines reported."""

from __future__ import annotations

import json
from pathlib import Path

import blsamples
import pytest

from buildlog.backends.resolve import resolve_backend
from buildlog.backends.sqlite import SQLiteBackend
from buildlog.migrate import migrate_legacy
from buildlog.records import BanditArm, RewardEvent, parse_record


def _backend(project: Path) -> SQLiteBackend:
    resolution = resolve_backend(project)
    assert isinstance(resolution.backend, SQLiteBackend)
    return resolution.backend


def _snapshot_count(backend: SQLiteBackend) -> int:
    with backend.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT count(*) FROM posterior_snapshots").scalar_one())


def test_migrate_imports_everything_and_renames(project: Path, isolated_home: Path) -> None:
    data = blsamples.write_legacy(project / "buildlog")
    (data / "notes.txt").write_text("mine")
    result = migrate_legacy(project)
    assert [f.path.name for f in result.files] == list(blsamples.COUNTS)
    assert {f.path.name: f.added for f in result.files} == blsamples.COUNTS
    assert all(f.status == "migrated" for f in result.files)
    assert result.unknown == [data.resolve() / "notes.txt"]
    assert result.issues == []
    assert result.changed
    assert (data / "notes.txt").read_text() == "mine"
    assert sorted(p.name for p in data.iterdir()) == sorted(
        [f"{name}.migrated" for name in blsamples.COUNTS if name != "bandit_state.jsonl"]
        + ["notes.txt"]
    )
    assert (project / "buildlog" / "bandit_state.jsonl.migrated").read_text() == blsamples.jsonl(
        blsamples.BANDIT
    )
    backend = _backend(project)
    try:
        assert backend.count_events("rewards") == 3
        assert backend.count_events("sessions") == 2
        assert backend.count_events("mistakes") == 2
        assert backend.load_events("rewards")[-1] == parse_record(RewardEvent, blsamples.REWARDS[2])
        assert len(backend.load_skill_decisions("promoted")) == 3
        assert len(backend.load_learnings()) == 2
        assert len(backend.load_review_history()) == 2
        session = backend.load_active_session()
        assert session is not None
        assert session.id == blsamples.ACTIVE["id"]
        assert len(backend.load_bandit_state()) == 2
        assert _snapshot_count(backend) == 1
    finally:
        backend.close()


def test_second_run_changes_nothing(project: Path) -> None:
    blsamples.write_legacy(project)
    first = migrate_legacy(project)
    assert first.changed
    second = migrate_legacy(project)
    assert (second.files, second.changed) == ([], False)


def test_reappearing_file_is_merged_and_archived_again(project: Path) -> None:
    data = blsamples.write_legacy(project)
    migrate_legacy(project)
    (data / "rejected.json").write_text(json.dumps({"skill_ids": ["sk-new0000001"]}))
    result = migrate_legacy(project)
    (outcome,) = result.files
    assert (outcome.added, outcome.unchanged) == (1, 0)
    assert outcome.archived_to == data.resolve() / "rejected.json.migrated.2"
    assert (data / "rejected.json.migrated").exists()


def test_the_originals_tracking_file_beside_a_database_is_merged_and_left(
    project: Path,
) -> None:
    """The original writes promoted.json on every promotion, even with its database: it is
    not pending legacy data, migrate merges what is new and leaves it for the original."""
    from click.testing import CliRunner

    from buildlog.backends.resolve import resolve_backend
    from buildlog.cli import cli

    data = blsamples.write_legacy(project)
    migrate_legacy(project)  # no database yet: promoted.json is legacy data, imported, renamed
    tracking = data / "promoted.json"
    tracking.write_text(
        json.dumps({"skill_ids": ["arch-b0fcb62a1e", "sk-new0000001"], "promoted_at": {}})
    )
    resolution = resolve_backend(project)
    try:
        assert resolution.layout is None  # nothing pending, no notice
        assert not any("legacy" in notice for notice in resolution.notices)
    finally:
        resolution.backend.close()
    shown = CliRunner().invoke(cli, ["--project-root", str(project), "info", "--json"])
    assert json.loads(shown.stdout)["legacy_files_pending"] == []
    result = migrate_legacy(project)
    (outcome,) = result.files
    assert (outcome.status, outcome.added, outcome.unchanged) == ("merged", 1, 1)
    assert outcome.archived_to is None
    assert tracking.exists()
    again = migrate_legacy(project)  # nothing new: nothing changes, the file stays
    assert [(f.added, f.unchanged) for f in again.files] == [(0, 2)]
    assert tracking.exists()


def test_malformed_line_keeps_file_and_rerun_completes(project: Path) -> None:
    data = blsamples.write_legacy(project)
    rewards = data / "reward_events.jsonl"
    good = [json.dumps(r) for r in blsamples.REWARDS]
    rewards.write_text(f"{good[0]}\n{{oops\n{good[1]}\n")
    result = migrate_legacy(project)
    outcome = next(f for f in result.files if f.path.name == "reward_events.jsonl")
    assert outcome.status == "kept"
    # Nothing of a file with a malformed line is imported (it may be a record cut short).
    assert (outcome.records, outcome.added) == (2, 0)
    assert outcome.archived_to is None
    assert result.kept == [str(rewards.resolve())]
    assert result.issues == [
        f"{rewards.resolve()}:2: invalid JSON: Expecting property name enclosed in double "
        "quotes (column 2)"
    ]
    assert rewards.exists()
    # The user fixes the line (and the file gained a record meanwhile): the rest comes in.
    rewards.write_text(f"{good[0]}\n{good[2]}\n{good[1]}\n")
    rerun = migrate_legacy(project)
    (fixed,) = rerun.files
    assert (fixed.status, fixed.added, fixed.unchanged) == ("migrated", 3, 0)
    backend = _backend(project)
    try:
        assert backend.count_events("rewards") == 3
    finally:
        backend.close()


def test_sets_and_bandit_merge_with_the_database(project: Path) -> None:
    backend = _backend(project)
    try:
        backend.decide_skills("promoted", ["sk-db0000001"])
        backend.decide_skills("promoted", ["tool-288da7b6a1"])
        backend.update_arm("missing_test", "arch-b0fcb62a1e", 1.0)  # newer than file
        backend.save_learnings([])
    finally:
        backend.close()
    blsamples.write_legacy(project)
    result = migrate_legacy(project)
    assert result.warnings == [
        "rejected.json: tool-288da7b6a1 is promoted in the database but listed in "
        "rejected.json; kept the database's decision"
    ]
    backend = _backend(project)
    try:
        decisions = {d.skill_id: d.decision for d in backend.load_skill_decisions()}
        assert decisions == {
            "arch-b0fcb62a1e": "promoted",
            "dk-37bed7291f": "promoted",
            "sk-db0000001": "promoted",
            "tool-288da7b6a1": "promoted",
            "wf-5a531bf437": "promoted",
        }
        arms = {(a.context, a.rule_id): a for a in backend.load_bandit_state()}
        # The database's arm was updated now (newer than the file's line): it is kept.
        assert (arms["missing_test", "arch-b0fcb62a1e"].alpha) == 2.0
        assert arms["general", "security_karen:3b1f0a9c"] == BanditArm(
            "general", "security_karen:3b1f0a9c", 3.0, 1.0, True, "2026-02-14T10:15:00.100000+00:00"
        )
    finally:
        backend.close()


def test_dry_run_writes_nothing(project: Path, isolated_home: Path) -> None:
    data = blsamples.write_legacy(project)
    with (data / "mistakes.jsonl").open("a") as handle:
        handle.write('{"id": "m"}\n')
    before = {p: p.read_bytes() for p in data.iterdir()}
    result = migrate_legacy(project, dry_run=True)
    assert not isolated_home.exists()
    assert {p: p.read_bytes() for p in data.iterdir()} == before
    assert {f.path.name: f.records for f in result.files} == blsamples.COUNTS
    assert all(f.status == "planned" for f in result.files)
    assert result.issues == [
        f"{(data / 'mistakes.jsonl').resolve()}:3: missing required field 'session_id'"
    ]
    assert result.report is not None
    assert result.report.planned == len(blsamples.COUNTS)


def test_explicit_buildlog_dir_and_template_layout(project: Path) -> None:
    blsamples.write_legacy(project / "buildlog", snapshots=False)
    result = migrate_legacy(project, buildlog_dir=project / "buildlog")
    assert len(result.files) == len(blsamples.COUNTS) - 1
    assert (project / "buildlog" / "bandit_state.jsonl.migrated").exists()


def test_nothing_to_migrate(project: Path) -> None:
    result = migrate_legacy(project)
    assert (result.files, result.changed, result.report) == ([], False, None)


@pytest.mark.parametrize(
    ("name", "where"),
    [("sessions.jsonl", "sessions.jsonl:1"), ("review_learnings.json", "review_learnings.json")],
)
def test_invalid_utf8_is_reported(project: Path, name: str, where: str) -> None:
    data = blsamples.write_legacy(project)
    (data / name).write_bytes(b'{"id": "\xff\xfe"}\n')
    result = migrate_legacy(project)
    outcome = next(f for f in result.files if f.path.name == name)
    assert outcome.status == "kept"
    assert outcome.issues == [f"{data.resolve()}/{where}: invalid UTF-8 at byte 8"]
