"""Realistic legacy buildlog files, as the original tool writes them (formats reference, 2)."""

from __future__ import annotations

import json
from pathlib import Path

REWARDS = [
    {
        "id": "rew-9e945b24ce",
        "timestamp": "2026-02-05T14:45:00.123456+00:00",
        "outcome": "revision",
        "reward_value": 0.7,
        "rules_active": ["arch-b0fcb62a1e"],
        "revision_distance": 0.3,
        "error_class": "missing_test",
        "notes": "forgot edge case",
        "source": "cli",
        "session_id": "session-20260205-143012-123456",
    },
    {
        "id": "rew-e417076a9f",
        "timestamp": "2026-02-05T14:45:00.123456+00:00",
        "outcome": "accepted",
        "reward_value": 1.0,
    },
    {
        "id": "rew-0000000001",
        "timestamp": "2026-02-06T09:00:00+00:00",
        "outcome": "rejected",
        "reward_value": 0.0,
        "rules_active": [],
        "source": "manual",
    },
]
SESSIONS = [
    {
        "id": "session-20260205-143012-123456",
        "started_at": "2026-02-05T14:30:12.123456+00:00",
        "ended_at": "2026-02-05T15:10:40.004211+00:00",
        "rules_at_start": ["arch-b0fcb62a1e", "wf-96f12966f1"],
        "rules_at_end": ["arch-b0fcb62a1e", "wf-96f12966f1"],
        "selected_rules": ["arch-b0fcb62a1e"],
        "error_class": "missing_test",
        "entry_file": "2026-02-05-auth-api.md",
    },
    {
        "id": "session-20260206-080000-000001",
        "started_at": "2026-02-06T08:00:00.000001+00:00",
        "ended_at": "2026-02-06T08:30:00+00:00",
        "rules_at_start": [],
        "rules_at_end": [],
    },
]
MISTAKES = [
    {
        "id": "mistake-missing_te-20260205-144000-482913",
        "session_id": "session-20260205-143012-123456",
        "timestamp": "2026-02-05T14:40:00.482913+00:00",
        "error_class": "missing_test",
        "description": "Forgot tests for empty-input branch",
        "semantic_hash": "05665d9e4e4cc3c0",
        "was_repeat": False,
        "corrected_by_rule": "wf-96f12966f1",
        "severity": "medium",
    },
    {
        "id": "mistake-gauntlet_s-20260214-101500-000123",
        "session_id": "session-20260214-100000-000001",
        "timestamp": "2026-02-14T10:15:00.000123+00:00",
        "error_class": "gauntlet_security",
        "description": "SQL injection in query builder",
        "semantic_hash": "6b3e73f08ade93de",
        "was_repeat": True,
        "related_concepts": ["sql", "injection"],
        "rules_consulted": ["security_karen:3b1f0a9c"],
        "severity": "critical",
    },
]
ACTIVE = {
    "id": "session-20260207-101010-000042",
    "started_at": "2026-02-07T10:10:10.000042+00:00",
    "ended_at": None,
    "rules_at_start": ["arch-b0fcb62a1e"],
    "rules_at_end": [],
    "selected_rules": ["arch-b0fcb62a1e"],
    "error_class": "missing_test",
}
PROMOTED = {
    "skill_ids": ["arch-b0fcb62a1e", "dk-37bed7291f", "wf-5a531bf437"],
    "promoted_at": {
        "arch-b0fcb62a1e": "2026-01-16T14:59:56.452983",
        "wf-5a531bf437": "2026-01-16T14:59:56.452983",
        "dk-37bed7291f": "2026-01-16T14:59:56.452983",
    },
}
REJECTED = {
    "skill_ids": ["tool-288da7b6a1"],
    "rejected_at": {"tool-288da7b6a1": "2026-02-05T10:12:03.118204+00:00"},
}
LEARNINGS = {
    "learnings": {
        "test-a230a80e7c": {
            "id": "test-a230a80e7c",
            "rule": "Use property-based testing for code with mathematical invariants",
            "category": "testing",
            "severity": "major",
            "source": "review:gauntlet:iteration-2",
            "first_seen": "2026-02-01T00:54:02.594426+00:00",
            "last_reinforced": "2026-02-01T00:54:21.698814+00:00",
            "reinforcement_count": 2,
            "contradiction_count": 0,
        },
        "secu-c9a6113da5": {
            "id": "secu-c9a6113da5",
            "rule": "Parameterise every SQL query",
            "category": "security",
            "severity": "critical",
            "source": "review:gauntlet:iteration-2",
            "first_seen": "2026-02-01T00:54:21.698814+00:00",
            "last_reinforced": "2026-02-01T00:54:21.698814+00:00",
            "functional_principle": "untrusted input never becomes code",
        },
    },
    "review_history": [
        {
            "timestamp": "2026-02-01T00:54:02.594426+00:00",
            "source": "review:gauntlet:iteration-1",
            "issues_count": 4,
            "new_learning_ids": ["test-a230a80e7c"],
            "reinforced_learning_ids": [],
        },
        {
            "timestamp": "2026-02-01T00:54:21.698814+00:00",
            "source": "review:gauntlet:iteration-2",
            "issues_count": 11,
            "new_learning_ids": ["secu-c9a6113da5"],
            "reinforced_learning_ids": ["test-a230a80e7c"],
        },
    ],
}
BANDIT = [
    {
        "context": "missing_test",
        "rule_id": "arch-b0fcb62a1e",
        "alpha": 2.0,
        "beta": 1.0,
        "is_seed": True,
        "updated_at": "2026-02-05T14:40:00.512345+00:00",
    },
    {
        "context": "missing_test",
        "rule_id": "arch-b0fcb62a1e",
        "alpha": 3.0,
        "beta": 1.0,
        "is_seed": True,
        "updated_at": "2026-02-05T14:45:00.512345+00:00",
    },
    {
        "context": "general",
        "rule_id": "security_karen:3b1f0a9c",
        "alpha": 3.0,
        "beta": 1.0,
        "is_seed": True,
        "updated_at": "2026-02-14T10:15:00.100000+00:00",
    },
]
SNAPSHOTS = [
    {
        "rule_id": "security_karen:3b1f0a9c",
        "alpha": 3.0,
        "beta": 1.5,
        "mean": 0.667,
        "trigger": "gauntlet_credit",
        "iteration": 1,
        "batch_id": "gauntlet-1-2026-03-10",
        "timestamp": "2026-03-10T00:00:00Z",
    },
]

# Records per file once read (the bandit file compacts 3 lines into 2 arms; learnings holds
# 2 learnings and 2 history entries).
COUNTS = {
    "promoted.json": 3,
    "rejected.json": 1,
    "review_learnings.json": 4,
    "reward_events.jsonl": 3,
    "sessions.jsonl": 2,
    "mistakes.jsonl": 2,
    "active_session.json": 1,
    "bandit_state.jsonl": 2,
    "posterior_snapshots.jsonl": 1,
}


def jsonl(rows: list[dict[str, object]]) -> str:
    """Compact JSON lines, one per record, as the original appends them."""
    return "".join(json.dumps(row) + "\n" for row in rows)


def write_legacy(buildlog_dir: Path, *, snapshots: bool = True) -> Path:
    """Write a full set of legacy files into ``buildlog_dir``; returns its ``.buildlog`` folder."""
    data = buildlog_dir / ".buildlog"
    data.mkdir(parents=True, exist_ok=True)
    (data / "promoted.json").write_text(json.dumps(PROMOTED, indent=2))
    (data / "rejected.json").write_text(json.dumps(REJECTED, indent=2))
    (data / "review_learnings.json").write_text(json.dumps(LEARNINGS, indent=2))
    (data / "reward_events.jsonl").write_text(jsonl(REWARDS))
    (data / "sessions.jsonl").write_text(jsonl(SESSIONS))
    (data / "mistakes.jsonl").write_text(jsonl(MISTAKES))
    (data / "active_session.json").write_text(json.dumps(ACTIVE, indent=2))
    (buildlog_dir / "bandit_state.jsonl").write_text(jsonl(BANDIT))
    if snapshots:
        (data / "posterior_snapshots.jsonl").write_text(jsonl(SNAPSHOTS))
    return data
