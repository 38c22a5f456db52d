"""Reading the original tool's per-project files: every format, layouts, malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import blsamples
import pytest

from buildlog.legacy import find_layout, layout_for, read_legacy_file
from buildlog.records import (
    BanditArm,
    Learning,
    Mistake,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    SkillDecision,
    record_to_dict,
)


def test_every_format_reads_with_the_expected_counts(project: Path) -> None:
    data = blsamples.write_legacy(project / "buildlog")
    layout = find_layout(project)
    assert layout is not None
    assert layout.buildlog_dir == (project / "buildlog").resolve()
    pending = layout.pending_files()
    assert [p.name for p in pending] == list(blsamples.COUNTS)
    for path in pending:
        result = read_legacy_file(path)
        assert result.issues == [], path
        assert len(result.records) == blsamples.COUNTS[path.name], path.name
    assert layout.bandit_file.parent == data.parent


def test_records_keep_their_values(project: Path) -> None:
    data = blsamples.write_legacy(project)
    rewards = read_legacy_file(data / "reward_events.jsonl").records
    assert isinstance(rewards[0], RewardEvent)
    assert record_to_dict(rewards[0]) == blsamples.REWARDS[0]
    assert record_to_dict(rewards[1])["rules_active"] == []
    assert record_to_dict(rewards[1])["notes"] is None
    mistakes = read_legacy_file(data / "mistakes.jsonl").records
    assert isinstance(mistakes[1], Mistake)
    assert mistakes[1].was_repeat is True
    assert mistakes[1].related_concepts == ["sql", "injection"]
    sessions = read_legacy_file(data / "sessions.jsonl").records
    assert isinstance(sessions[0], Session)
    assert sessions[0].selected_rules == ["arch-b0fcb62a1e"]
    active = read_legacy_file(data / "active_session.json").records
    assert isinstance(active[0], Session)
    assert active[0].ended_at is None
    promoted = read_legacy_file(data / "promoted.json").records
    assert promoted[0] == SkillDecision(
        "arch-b0fcb62a1e", "promoted", "2026-01-16T14:59:56.452983", "2026-01-16T14:59:56.452983"
    )
    learnings = read_legacy_file(data / "review_learnings.json").records
    kinds = [type(r) for r in learnings]
    assert kinds == [Learning, Learning, ReviewHistoryEntry, ReviewHistoryEntry]
    assert isinstance(learnings[1], Learning)
    assert learnings[1].reinforcement_count == 1
    assert learnings[1].functional_principle == "untrusted input never becomes code"


def test_bandit_compaction_keeps_latest_and_earlier_on_tie(tmp_path: Path) -> None:
    path = tmp_path / "bandit_state.jsonl"
    path.write_text(
        blsamples.jsonl(
            [
                {"context": "c", "rule_id": "r", "alpha": 2.0, "updated_at": "2026-01-02"},
                {"context": "c", "rule_id": "r", "alpha": 5.0, "updated_at": "2026-01-01"},
                {"context": "c", "rule_id": "r", "alpha": 7.0, "updated_at": "2026-01-02"},
                {"context": "g", "rule_id": "r"},
            ]
        )
    )
    arms = read_legacy_file(path).records
    assert arms == [
        BanditArm("c", "r", 2.0, 1.0, False, "2026-01-02"),
        BanditArm("g", "r", 1.0, 1.0, False, None),
    ]


def test_malformed_lines_are_reported_and_good_ones_kept(tmp_path: Path) -> None:
    path = tmp_path / "reward_events.jsonl"
    good = json.dumps(blsamples.REWARDS[0]).encode()
    lines = [
        good,
        b"{not json",
        b"",
        json.dumps({"id": "rew-x", "timestamp": "t", "outcome": "accepted"}).encode(),
        json.dumps({**blsamples.REWARDS[1], "reward_value": "high"}).encode(),
        b'{"id": "rew-\xff"}',
        b"[1, 2]",
        json.dumps({**blsamples.REWARDS[2], "rules_active": ["a", 3]}).encode(),
        json.dumps(blsamples.REWARDS[1]).encode(),
    ]
    path.write_bytes(b"\n".join(lines) + b"\n")
    result = read_legacy_file(path)
    assert [r.id for r in result.records if isinstance(r, RewardEvent)] == [
        "rew-9e945b24ce",
        "rew-e417076a9f",
    ]
    assert [str(issue) for issue in result.issues] == [
        f"{path}:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)",
        f"{path}:4: missing required field 'reward_value'",
        f"{path}:5: field 'reward_value' must be a number, got string",
        f"{path}:6: invalid UTF-8 at byte 12",
        f"{path}:7: expected a JSON object, got list",
        f"{path}:8: field 'rules_active' must be a list of strings",
    ]


def test_malformed_json_documents(tmp_path: Path) -> None:
    data = tmp_path / ".buildlog"
    data.mkdir()
    (data / "promoted.json").write_text('{"skill_ids": ["a", 5, "b"]}')
    (data / "rejected.json").write_text('{\n  "skill_ids": [\n}')
    (data / "review_learnings.json").write_text(
        json.dumps({"learnings": {"x": {"id": "x", "rule": "r"}}, "review_history": [{}]})
    )
    (data / "active_session.json").write_text("")
    promoted = read_legacy_file(data / "promoted.json")
    assert [r.skill_id for r in promoted.records if isinstance(r, SkillDecision)] == ["a", "b"]
    assert [str(i) for i in promoted.issues] == [
        f"{data / 'promoted.json'}: skill_ids[1] must be a non-empty string"
    ]
    rejected = read_legacy_file(data / "rejected.json")
    assert [str(i) for i in rejected.issues] == [
        f"{data / 'rejected.json'}:3: invalid JSON: Expecting value (column 1)"
    ]
    learnings = read_legacy_file(data / "review_learnings.json")
    assert [str(i) for i in learnings.issues] == [
        f"{data / 'review_learnings.json'}: learning 'x': missing required field 'category'",
        f"{data / 'review_learnings.json'}: review_history[0]: missing required field 'timestamp'",
    ]
    empty = read_legacy_file(data / "active_session.json")
    assert (empty.records, empty.issues) == ([], [])


def test_layouts(tmp_path: Path) -> None:
    flat = tmp_path / "flat"
    blsamples.write_legacy(flat)
    layout = find_layout(flat)
    assert layout is not None
    assert layout.buildlog_dir == flat.resolve()
    assert layout.bandit_file == flat.resolve() / "bandit_state.jsonl"
    explicit = layout_for(flat)
    assert explicit == layout


@pytest.mark.parametrize("entry", ["seeds", "gauntlet_cleared", "2026-02-05-auth.md"])
def test_non_data_entries_are_not_legacy_data(project: Path, entry: str) -> None:
    data = project / ".buildlog"
    data.mkdir()
    if entry == "seeds":
        (data / "seeds").mkdir()
        (data / "seeds" / "p.yaml").write_text("persona: p\n")
    else:
        (data / entry).write_text("x")
    (data / "reward_events.jsonl.migrated").write_text("{}\n")
    assert find_layout(project) is None
    layout = layout_for(project)
    assert layout.unknown_files() == []
    assert layout.archived_files() == [data.resolve() / "reward_events.jsonl.migrated"]


def test_unknown_files_are_listed(project: Path) -> None:
    data = project / ".buildlog"
    data.mkdir()
    (data / "notes.txt").write_text("x")
    (data / "sessions.jsonl").write_text("")
    layout = find_layout(project)
    assert layout is not None
    assert [p.name for p in layout.unknown_files()] == ["notes.txt"]


def test_unknown_name_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a legacy buildlog file"):
        read_legacy_file(tmp_path / "notes.txt")
