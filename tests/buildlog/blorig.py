"""Databases as the original buildlog writes them, built from the reference's schema (7.2-7.4).

The DDL is written out here independently of the package's own schema module, so the
adoption tests compare the package against the reference, not against itself.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

NOW = "DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ','now'))"

V1 = f"""
CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY,
    applied_at TEXT NOT NULL {NOW});
CREATE TABLE IF NOT EXISTS projects (id TEXT PRIMARY KEY, name TEXT NOT NULL,
    path TEXT NOT NULL UNIQUE, created_at TEXT NOT NULL {NOW}, updated_at TEXT NOT NULL {NOW});
CREATE TABLE IF NOT EXISTS skill_decisions (project_id TEXT NOT NULL REFERENCES projects(id),
    skill_id TEXT NOT NULL, decision TEXT NOT NULL CHECK (decision IN ('promoted','rejected')),
    decided_at TEXT NOT NULL {NOW}, metadata TEXT, PRIMARY KEY (project_id, skill_id));
CREATE TABLE IF NOT EXISTS review_learnings (project_id TEXT NOT NULL REFERENCES projects(id),
    id TEXT NOT NULL, rule TEXT NOT NULL, category TEXT NOT NULL, severity TEXT NOT NULL,
    source TEXT NOT NULL, first_seen TEXT NOT NULL, last_reinforced TEXT NOT NULL,
    reinforcement_count INTEGER NOT NULL DEFAULT 1, contradiction_count INTEGER NOT NULL DEFAULT 0,
    functional_principle TEXT, PRIMARY KEY (project_id, id));
CREATE TABLE IF NOT EXISTS review_history (rowid INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL REFERENCES projects(id), timestamp TEXT NOT NULL, source TEXT,
    issues_count INTEGER NOT NULL DEFAULT 0, new_learning_ids TEXT, reinforced_learning_ids TEXT);
CREATE TABLE IF NOT EXISTS active_sessions (project_id TEXT PRIMARY KEY REFERENCES projects(id),
    data TEXT NOT NULL, created_at TEXT NOT NULL {NOW});
CREATE TABLE IF NOT EXISTS reward_events (project_id TEXT NOT NULL REFERENCES projects(id),
    id TEXT NOT NULL, timestamp TEXT NOT NULL, outcome TEXT NOT NULL, reward_value REAL NOT NULL,
    rules_active TEXT, revision_distance REAL, error_class TEXT, notes TEXT, source TEXT,
    PRIMARY KEY (project_id, id));
CREATE TABLE IF NOT EXISTS sessions (project_id TEXT NOT NULL REFERENCES projects(id),
    id TEXT NOT NULL, started_at TEXT NOT NULL, ended_at TEXT, entry_file TEXT,
    rules_at_start TEXT, rules_at_end TEXT, selected_rules TEXT, error_class TEXT, notes TEXT,
    PRIMARY KEY (project_id, id));
CREATE TABLE IF NOT EXISTS mistakes (project_id TEXT NOT NULL REFERENCES projects(id),
    id TEXT NOT NULL, session_id TEXT NOT NULL, timestamp TEXT NOT NULL,
    error_class TEXT NOT NULL, description TEXT NOT NULL, semantic_hash TEXT NOT NULL,
    was_repeat INTEGER NOT NULL DEFAULT 0, corrected_by_rule TEXT, PRIMARY KEY (project_id, id));
CREATE TABLE IF NOT EXISTS bandit_arms (project_id TEXT NOT NULL REFERENCES projects(id),
    context TEXT NOT NULL, rule_id TEXT NOT NULL, alpha REAL NOT NULL DEFAULT 1.0,
    beta REAL NOT NULL DEFAULT 1.0, is_seed INTEGER NOT NULL DEFAULT 0,
    updated_at TEXT NOT NULL {NOW}, PRIMARY KEY (project_id, context, rule_id));
CREATE INDEX IF NOT EXISTS idx_review_history_project
    ON review_history(project_id, timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_reward_events_ts ON reward_events(project_id, timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_sessions_ts ON sessions(project_id, started_at DESC);
CREATE INDEX IF NOT EXISTS idx_mistakes_session ON mistakes(project_id, session_id);
CREATE INDEX IF NOT EXISTS idx_mistakes_hash ON mistakes(project_id, semantic_hash);
CREATE INDEX IF NOT EXISTS idx_bandit_context ON bandit_arms(project_id, context);
"""
STEPS = {
    2: """ALTER TABLE mistakes ADD COLUMN related_concepts TEXT;
ALTER TABLE mistakes ADD COLUMN relation_to_prior TEXT;
ALTER TABLE mistakes ADD COLUMN resolution_action TEXT;
ALTER TABLE mistakes ADD COLUMN context TEXT;
ALTER TABLE mistakes ADD COLUMN severity TEXT;""",
    3: """ALTER TABLE reward_events ADD COLUMN session_id TEXT;
CREATE INDEX IF NOT EXISTS idx_reward_events_session ON reward_events(project_id, session_id);""",
    4: f"""CREATE TABLE IF NOT EXISTS gauntlet_rules (rule_id TEXT PRIMARY KEY,
    persona TEXT NOT NULL, rule TEXT NOT NULL, category TEXT NOT NULL,
    context TEXT NOT NULL DEFAULT '', antipattern TEXT NOT NULL DEFAULT '',
    rationale TEXT NOT NULL DEFAULT '', tags TEXT NOT NULL DEFAULT '[]', refs TEXT DEFAULT '[]',
    provenance TEXT, version INTEGER NOT NULL DEFAULT 1, active INTEGER NOT NULL DEFAULT 1,
    created_at TEXT NOT NULL {NOW}, updated_at TEXT NOT NULL {NOW}, seed_file_hash TEXT,
    seed_filename TEXT);
CREATE INDEX IF NOT EXISTS idx_gauntlet_rules_persona ON gauntlet_rules(persona);
CREATE INDEX IF NOT EXISTS idx_gauntlet_rules_active ON gauntlet_rules(active);""",
    5: """CREATE TABLE IF NOT EXISTS emission_edges (id INTEGER PRIMARY KEY AUTOINCREMENT,
    source_id TEXT NOT NULL, target_id TEXT NOT NULL, relation_type TEXT NOT NULL,
    confidence REAL, artifact_type TEXT NOT NULL, project_id TEXT NOT NULL,
    emitted_at TEXT NOT NULL, consumed_at TEXT NOT NULL, properties TEXT,
    UNIQUE (source_id, target_id, relation_type, emitted_at));
CREATE INDEX IF NOT EXISTS idx_emission_edges_relation ON emission_edges(relation_type);
CREATE INDEX IF NOT EXISTS idx_emission_edges_target ON emission_edges(target_id);
CREATE INDEX IF NOT EXISTS idx_emission_edges_project ON emission_edges(project_id);""",
    6: """CREATE TABLE IF NOT EXISTS gauntlet_credits (
    project_id TEXT NOT NULL REFERENCES projects(id), timestamp TEXT NOT NULL,
    iteration INTEGER NOT NULL, rules TEXT NOT NULL, PRIMARY KEY (project_id, timestamp));
CREATE INDEX IF NOT EXISTS idx_gauntlet_credits_ts
    ON gauntlet_credits(project_id, timestamp DESC);""",
    7: """ALTER TABLE mistakes ADD COLUMN rules_consulted TEXT;
CREATE TABLE IF NOT EXISTS posterior_snapshots (id INTEGER PRIMARY KEY AUTOINCREMENT,
    project_id TEXT NOT NULL REFERENCES projects(id), timestamp TEXT NOT NULL,
    rule_id TEXT NOT NULL, alpha REAL NOT NULL, beta REAL NOT NULL, mean REAL NOT NULL,
    trigger TEXT NOT NULL, iteration INTEGER, batch_id TEXT);
CREATE INDEX IF NOT EXISTS idx_posterior_snapshots_rule
    ON posterior_snapshots(project_id, rule_id, timestamp);
CREATE INDEX IF NOT EXISTS idx_posterior_snapshots_ts
    ON posterior_snapshots(project_id, timestamp DESC);
CREATE INDEX IF NOT EXISTS idx_posterior_snapshots_batch
    ON posterior_snapshots(project_id, batch_id);""",
}

PROJECT = ("aebd4fffcb28", "widgets", "/home/alice/src/widgets")


def create_original_db(path: Path, version: int = 7) -> Path:
    """An original-tool database at ``version`` with one project and a record of each kind."""
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.executescript(V1)
    conn.execute("INSERT OR REPLACE INTO schema_version (version) VALUES (1)")
    for step in range(2, version + 1):
        conn.executescript(STEPS[step])
        conn.execute("INSERT OR REPLACE INTO schema_version (version) VALUES (?)", (step,))
    conn.execute("INSERT INTO projects (id, name, path) VALUES (?, ?, ?)", PROJECT)
    pid = PROJECT[0]
    conn.execute(
        "INSERT INTO reward_events (project_id, id, timestamp, outcome, reward_value, rules_active,"
        " revision_distance, error_class, notes, source) VALUES (?,?,?,?,?,?,?,?,?,?)",
        (
            pid,
            "rew-9e945b24ce",
            "2026-02-05T14:45:00.123456+00:00",
            "revision",
            0.7,
            json.dumps(["arch-b0fcb62a1e"]),
            0.3,
            "missing_test",
            "forgot edge case",
            "cli",
        ),
    )
    conn.execute(
        "INSERT INTO sessions (project_id, id, started_at, ended_at, rules_at_start,"
        " rules_at_end, selected_rules) VALUES (?,?,?,?,?,?,?)",
        (
            pid,
            "session-20260205-143012-123456",
            "2026-02-05T14:30:12.123456+00:00",
            "2026-02-05T15:10:40.004211+00:00",
            '["a"]',
            '["a"]',
            '["a"]',
        ),
    )
    conn.execute(
        "INSERT INTO mistakes (project_id, id, session_id, timestamp, error_class, description,"
        " semantic_hash, was_repeat) VALUES (?,?,?,?,?,?,?,?)",
        (
            pid,
            "mistake-missing_te-20260205-144000-482913",
            "session-20260205-143012-123456",
            "2026-02-05T14:40:00.482913+00:00",
            "missing_test",
            "Forgot tests for empty-input branch",
            "05665d9e4e4cc3c0",
            0,
        ),
    )
    conn.execute(
        "INSERT INTO bandit_arms (project_id, context, rule_id, alpha, beta, is_seed) "
        "VALUES (?, 'general', 'arch-b0fcb62a1e', 3.0, 1.0, 1)",
        (pid,),
    )
    conn.execute(
        "INSERT INTO skill_decisions (project_id, skill_id, decision, metadata) "
        "VALUES (?, 'arch-b0fcb62a1e', 'promoted', '\"2026-01-16T14:59:56.452983\"')",
        (pid,),
    )
    conn.execute(
        "INSERT INTO review_learnings (project_id, id, rule, category, severity, source,"
        " first_seen, last_reinforced) VALUES (?, 'sk-850b50c8c3', 'Always validate input',"
        " 'security', 'major', 'review', '2026-02-01T00:00:00+00:00', '2026-02-01T00:00:00+00:00')",
        (pid,),
    )
    conn.execute(
        "INSERT INTO review_history (project_id, timestamp, source, issues_count,"
        " new_learning_ids, reinforced_learning_ids) VALUES (?, '2026-02-01T00:00:00+00:00',"
        " 'review', 3, '[\"sk-850b50c8c3\"]', '[]')",
        (pid,),
    )
    conn.execute(
        "INSERT INTO active_sessions (project_id, data) VALUES (?, ?)",
        (
            pid,
            json.dumps(
                {
                    "id": "session-20260207-101010-000042",
                    "started_at": "2026-02-07T10:10:10.000042+00:00",
                    "ended_at": None,
                    "rules_at_start": [],
                    "rules_at_end": [],
                    "selected_rules": [],
                }
            ),
        ),
    )
    if version >= 6:
        conn.execute(
            "INSERT INTO gauntlet_credits VALUES (?, '2026-03-07T00:00:00+00:00', 1, '[]')", (pid,)
        )
    if version >= 7:
        conn.execute(
            "INSERT INTO posterior_snapshots (project_id, timestamp, rule_id, alpha, beta, mean,"
            " trigger) VALUES (?, '2026-03-10T00:00:00Z', 'r', 3.0, 1.5, 0.667, 'gauntlet_credit')",
            (pid,),
        )
    conn.commit()
    conn.close()
    return path


def dump(path: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every row of every table of the original schema present in the file."""
    conn = sqlite3.connect(path)
    try:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: sorted(conn.execute(f'SELECT * FROM "{n}"').fetchall(), key=repr) for n in names}
    finally:
        conn.close()
