"""Export bundles, the rules join, and restoring them with import."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import blsamples
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from buildlog.backends.resolve import resolve_backend
from buildlog.backends.sqlite import SQLiteBackend
from buildlog.db import open_engine
from buildlog.errors import ExportError, UnknownTable
from buildlog.export import TABLES, export_bundle, parse_tables
from buildlog.migrate import migrate_legacy
from buildlog.models import metadata
from buildlog.paths import database_location
from buildlog.restore import import_bundle
from storage_core.errors import IntegrityError

SEED = """persona: test_persona
version: 1
rules:
  - rule: "Always validate input"
    category: security
    context: "Request handlers"
    tags: [validation]
    provenance: {source_id: q-001, source_domain: qortex, graph_version: "2", confidence: 0.9}
  - rule: "Keep modules small"
    category: architectural
    provenance: {id: up-7, domain: design, source_confidence: 0.4}
"""


@pytest.fixture
def migrated(project: Path, database: str) -> Path:
    """A project whose sample legacy data is in the database (a SQLite file, then a database
    on a PostgreSQL server); returns the project root."""
    blsamples.write_legacy(project)
    migrate_legacy(project)
    return project


def _backend(root: Path) -> SQLiteBackend:
    backend = resolve_backend(root).backend
    assert isinstance(backend, SQLiteBackend)
    return backend


def _lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_export_shapes_and_manifest(migrated: Path, tmp_path: Path) -> None:
    seeds = migrated / ".buildlog" / "seeds"
    seeds.mkdir()
    (seeds / "test.yaml").write_text(SEED)
    (seeds / "broken.yaml").write_text("rules: [1, 2]\n")
    backend = _backend(migrated)
    out = tmp_path / "out"
    try:
        result = export_bundle(
            backend.engine, out, project_id=backend.project_id, project_root=migrated
        )
    finally:
        backend.close()
    assert result.warnings == [
        f"{seeds / 'broken.yaml'}: 'rules' must be a list of mappings, each with a 'rule' string"
    ]
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["tables"] == {
        "rewards": 3,
        "sessions": 2,
        "mistakes": 2,
        "bandit_state": 2,
        "learnings": 2,
        "skill_decisions": 4,
        "posterior_snapshots": 1,
        "gauntlet_credits": 0,
        "emission_edges": 0,
        "gauntlet_rules": 0,
    }
    assert manifest["project_id"] == backend.project_id
    assert (manifest["tool"], manifest["schema_revision"]) == ("buildlog", None)
    for name, digest in manifest["sha256"].items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
    rewards = _lines(out / "rewards.jsonl")
    assert rewards[2] == {
        "id": "rew-0000000001",
        "timestamp": "2026-02-06T09:00:00+00:00",
        "outcome": "rejected",
        "reward_value": 0.0,
        "rules_active": [],
        "revision_distance": None,
        "error_class": None,
        "notes": None,
        "source": "manual",
        "session_id": None,
    }
    mistakes = _lines(out / "mistakes.jsonl")
    # As the original exports them: the stored JSON text (and null for NULL).
    assert mistakes[1]["related_concepts"] == '["sql", "injection"]'
    assert mistakes[1]["was_repeat"] is True
    assert _lines(out / "bandit_state.jsonl")[0] == {
        "context": "general",
        "rule_id": "security_karen:3b1f0a9c",
        "alpha": 3.0,
        "beta": 1.0,
        "mean": 0.75,
        "is_seed": True,
        "updated_at": "2026-02-14T10:15:00.100000+00:00",
    }
    learning = _lines(out / "learnings.jsonl")[0]
    assert learning["key"] == learning["id"] == "secu-c9a6113da5"
    assert _lines(out / "skill_decisions.jsonl")[0] == {
        "skill_id": "arch-b0fcb62a1e",
        "decision": "promoted",
        "decided_at": "2026-01-16T14:59:56.452983",
        "metadata": "2026-01-16T14:59:56.452983",
    }
    assert _lines(out / "rules.jsonl") == [
        {
            "buildlog_id": "sk-850b50c8c3",
            "rule": "Always validate input",
            "category": "security",
            "confidence": "high",
            "persona": "test_persona",
            "source_id": "q-001",
            "source_domain": "qortex",
            "graph_version": "2",
            "source_confidence": 0.9,
            "origin": "seeds",
        },
        {
            "buildlog_id": "arch-" + hashlib.sha256(b"keep modules small").hexdigest()[:10],
            "rule": "Keep modules small",
            "category": "architectural",
            "confidence": "high",
            "persona": "test_persona",
            "source_confidence": 0.4,
            "id": "up-7",
            "domain": "design",
            "origin": "seeds",
        },
    ]


def _store_gauntlet_rules(engine: Engine, rules: list[dict[str, Any]]) -> None:
    table = metadata.tables["gauntlet_rules"]
    now = "2026-02-01T00:00:00.000Z"
    with engine.begin() as conn:
        for rule in rules:
            conn.execute(
                sa.insert(table).values(
                    created_at=now, updated_at=now, tags="[]", refs="[]", version=1, **rule
                )
            )


def test_rules_join_carries_the_databases_gauntlet_rules(migrated: Path, tmp_path: Path) -> None:
    """As the original 0.23 builds rules.jsonl: active gauntlet rules, persona by persona in
    stored order, provenance mapped (its own source_confidence winning), for any project and
    with no seed files; the seed rules follow, each row saying where it came from."""
    backend = _backend(migrated)
    both = {"source_id": "q-9", "confidence": 0.2, "source_confidence": 0.7, "id": "zed:1"}
    _store_gauntlet_rules(
        backend.engine,
        [
            {"rule_id": "zed:1", "persona": "zed", "rule": "Pin versions",
             "category": "workflow", "provenance": json.dumps(both), "active": 1},
            {"rule_id": "ann:2", "persona": "ann", "rule": "Name things",
             "category": "general", "provenance": "not json", "active": 1},
            {"rule_id": "ann:1", "persona": "ann", "rule": "Retired rule",
             "category": "general", "provenance": None, "active": 0},
            {"rule_id": "ann:0", "persona": "ann", "rule": "Test the edges",
             "category": "testing", "provenance": json.dumps({"graph_version": "3"}), "active": 1},
        ],
    )  # fmt: skip
    out = tmp_path / "out"
    try:
        export_bundle(backend.engine, out, project_id=backend.project_id, project_root=migrated)
        everything = tmp_path / "all"
        export_bundle(backend.engine, everything, project_id=None)
    finally:
        backend.close()

    def rule(persona: str, text: str, category: str, prefix: str, **extra: Any) -> dict[str, Any]:
        digest = hashlib.sha256(text.lower().encode()).hexdigest()[:10]
        row = {"buildlog_id": f"{prefix}-{digest}", "rule": text, "category": category,
               "confidence": "high", "persona": persona, **extra}  # fmt: skip
        return {**row, "origin": "gauntlet_rules"}

    expected = [
        rule("ann", "Name things", "general", "sk"),
        rule("ann", "Test the edges", "testing", "sk", graph_version="3"),
        rule("zed", "Pin versions", "workflow", "wf", source_id="q-9", source_confidence=0.7,
             id="zed:1"),
    ]  # fmt: skip
    assert _lines(out / "rules.jsonl") == expected
    assert _lines(everything / "rules.jsonl") == expected
    manifest = json.loads((out / "manifest.json").read_text())
    digest = hashlib.sha256((out / "rules.jsonl").read_bytes()).hexdigest()
    assert manifest["sha256"]["rules.jsonl"] == digest


def test_round_trip_gives_identical_files(migrated: Path, tmp_path: Path) -> None:
    backend = _backend(migrated)
    first = tmp_path / "first"
    try:
        export_bundle(backend.engine, first, project_id=backend.project_id)
    finally:
        backend.close()
    engine, _ = open_engine(database_location(str(tmp_path / "empty.db")))
    try:
        imported = import_bundle(engine, first)
        assert imported.added == {
            "rewards": 3,
            "sessions": 2,
            "mistakes": 2,
            "bandit_state": 2,
            "learnings": 2,
            "skill_decisions": 4,
            "posterior_snapshots": 1,
            "gauntlet_credits": 0,
            "emission_edges": 0,
            "gauntlet_rules": 0,
        }
        again = import_bundle(engine, first)
        assert set(again.added.values()) == {0}
        second = tmp_path / "second"
        export_bundle(engine, second, project_id=backend.project_id)
    finally:
        engine.dispose()
    for name in TABLES:
        assert (second / f"{name}.jsonl").read_bytes() == (first / f"{name}.jsonl").read_bytes()


def test_all_projects_export_carries_project_ids(tmp_path: Path, database: str) -> None:
    one, two = tmp_path / "one", tmp_path / "two"
    for root in (one, two):
        blsamples.write_legacy(root)
        migrate_legacy(root)
    backend = _backend(one)
    try:
        export_bundle(backend.engine, tmp_path / "all", project_id=None)
        only = export_bundle(backend.engine, tmp_path / "one-only", project_id=backend.project_id)
    finally:
        backend.close()
    rows = _lines(tmp_path / "all" / "rewards.jsonl")
    assert len(rows) == 6
    assert len({row["project_id"] for row in rows}) == 2
    assert only.manifest["tables"]["rewards"] == 3
    engine, _ = open_engine(database_location(str(tmp_path / "restored.db")))
    try:
        result = import_bundle(engine, tmp_path / "all")
        assert len(result.projects) == 2
        assert result.added["rewards"] == 6
    finally:
        engine.dispose()


def test_import_refuses_a_tampered_export(migrated: Path, tmp_path: Path) -> None:
    backend = _backend(migrated)
    out = tmp_path / "out"
    try:
        export_bundle(backend.engine, out, project_id=backend.project_id)
        with (out / "rewards.jsonl").open("a") as handle:
            handle.write("{}\n")
        with pytest.raises(IntegrityError) as info:
            import_bundle(backend.engine, out)
        assert str(info.value).startswith(f"sha256 mismatch for {out / 'rewards.jsonl'}: expected ")
        (out / "manifest.json").unlink()
        with pytest.raises(ExportError) as missing:
            import_bundle(backend.engine, out)
        assert str(missing.value) == f"{out}: no manifest.json; not a buildlog export"
    finally:
        backend.close()


def test_unknown_table_names() -> None:
    assert parse_tables("rewards, bandit_state,rewards") == ["rewards", "bandit_state"]
    assert parse_tables(None) == list(TABLES)
    with pytest.raises(UnknownTable) as info:
        parse_tables("rewards,skills")
    assert str(info.value) == (
        "unknown table 'skills'; valid tables: rewards, sessions, mistakes, bandit_state, "
        "learnings, skill_decisions, posterior_snapshots, gauntlet_credits, emission_edges, "
        "gauntlet_rules"
    )


@pytest.mark.slow
def test_export_streams_many_rows(project: Path, tmp_path: Path) -> None:
    from buildlog.records import RewardEvent

    backend = _backend(project)
    try:
        records = [
            RewardEvent(f"rew-{n:010d}", f"2026-01-01T00:00:{n % 60:02d}+00:00", "accepted", 1.0)
            for n in range(20000)
        ]
        assert backend.append_events("rewards", records) == 20000
        result = export_bundle(
            backend.engine, tmp_path / "big", project_id=backend.project_id, tables=["rewards"]
        )
    finally:
        backend.close()
    assert result.manifest["tables"] == {"rewards": 20000}
    with (tmp_path / "big" / "rewards.jsonl").open() as handle:
        assert sum(1 for _ in handle) == 20000


@pytest.mark.parametrize("all_projects", [False, True])
def test_export_lines_equal_the_record_route(
    migrated: Path, tmp_path: Path, all_projects: bool
) -> None:
    """The fast row-to-line path writes exactly what record -> export_row -> json gives,
    including odd values a hand-edited or original database may hold."""

    from buildlog.backends.rows import from_row
    from buildlog.export import export_row, table_spec
    from buildlog.models import metadata

    backend = _backend(migrated)
    odd = [
        ("rew-odd1", "not json", '"a string"', None),
        ("rew-odd2", "[1, true, null]", "", "ünï ☃ \u2028"),
        ("rew-odd3", '["ok", "é"]', '{"k": 1}', "x" * 3000),
    ]
    with backend.engine.begin() as conn:  # behind the library's back, on either engine
        for rid, rules, notes_col, notes in odd:
            conn.execute(
                sa.text(
                    "INSERT INTO reward_events (project_id, id, timestamp, outcome, "
                    "reward_value, rules_active, notes, source) VALUES (:project, :id, "
                    "'2026-03-01T00:00:00+00:00', 'accepted', 1, :rules, :notes, :source)"
                ),
                {"project": backend.project_id, "id": rid, "rules": rules, "notes": notes,
                 "source": notes_col},
            )  # fmt: skip
        conn.execute(
            sa.text(
                "UPDATE skill_decisions SET metadata = 'not json' WHERE skill_id = 'dk-37bed7291f'"
            )
        )
        conn.execute(
            sa.text(
                "UPDATE bandit_arms SET is_seed = 0, alpha = 0, beta = 0 WHERE context = 'general'"
            )
        )
    out = tmp_path / "out"
    try:
        export_bundle(backend.engine, out, project_id=None if all_projects else backend.project_id)
        with backend.engine.connect() as sql:
            for name in TABLES:
                spec = table_spec(name)
                table = metadata.tables[spec.table]
                scope = (table.c.project_id,) if spec.scoped else ()
                order = (*scope, *(table.c[c] for c in spec.order))
                expected = []
                for row in sql.execute(sa.select(table).order_by(*order)).mappings():
                    line = export_row(spec, from_row(spec.record, row))
                    if all_projects and spec.scoped:
                        line = {"project_id": row["project_id"], **line}
                    expected.append(json.dumps(line, ensure_ascii=False) + "\n")
                assert (out / spec.filename).read_text(encoding="utf-8") == "".join(expected)
    finally:
        backend.close()


def test_an_export_of_the_original_tool_is_read_unverified(project: Path, tmp_path: Path) -> None:
    """The original writes no checksums: its export imports with a notice, and
    --require-checksums refuses it."""
    from click.testing import CliRunner

    from buildlog.cli import cli
    from buildlog.project import identify_project

    project_id = identify_project(project).id
    out = tmp_path / "original"
    out.mkdir()
    reward = {
        "id": "rew-9e945b24ce", "timestamp": "2026-02-05T14:45:00.123456+00:00",
        "outcome": "revision", "reward_value": 0.7, "rules_active": ["arch-b0fcb62a1e"],
        "revision_distance": 0.3, "error_class": "missing_test", "notes": None,
        "source": "cli", "session_id": None,
    }  # fmt: skip
    (out / "rewards.jsonl").write_text(json.dumps(reward) + "\n")
    (out / "skill_decisions.jsonl").write_text(
        json.dumps({"skill_id": "arch-b0fcb62a1e", "decision": "promoted"}) + "\n"
    )
    (out / "manifest.json").write_text(
        json.dumps(
            {
                "exported_at": "2026-02-05T18:00:00.123456+00:00",
                "project_id": project_id,
                "tables": {"rewards": 1, "skill_decisions": 1},
            },
            indent=2,
        )
    )
    strict = CliRunner().invoke(
        cli, ["--project-root", str(project), "import", str(out), "--require-checksums"]
    )
    assert strict.exit_code == 1
    assert "cannot be verified" in strict.stderr
    loose = CliRunner().invoke(cli, ["--project-root", str(project), "import", str(out)])
    assert loose.exit_code == 0, loose.output
    assert loose.stderr.startswith("buildlog: this export has no checksums")
    assert loose.stdout.splitlines() == [
        "rewards: 1 added, 0 already present",
        "skill_decisions: 1 added, 0 already present",
    ]
    listed = CliRunner().invoke(cli, ["--project-root", str(project), "rewards", "--json"])
    assert [r["id"] for r in json.loads(listed.stdout)["events"]] == ["rew-9e945b24ce"]


def test_null_empty_and_text_values_survive_adoption_export_and_import(
    project: Path, tmp_path: Path, isolated_home: Path
) -> None:
    """A mistake's related_concepts and rules_consulted stay exactly as the original stored
    them: NULL, '[]', a JSON list, or any text; its export shows the stored text."""
    import sqlite3

    import blorig
    from click.testing import CliRunner

    from buildlog.cli import cli
    from buildlog.project import identify_project

    database = isolated_home / "buildlog.db"
    blorig.create_original_db(database, 7)
    project_id = identify_project(project).id
    values = [(None, None), ("[]", "[]"), ('["sql", "injection"]', '["sk-1"]'), ("free", "x")]
    with sqlite3.connect(database) as conn:
        conn.execute("INSERT INTO projects (id, name, path) VALUES (?, 'w', ?)",
                     (project_id, str(project.resolve())))  # fmt: skip
        for n, (concepts, consulted) in enumerate(values):
            conn.execute(
                "INSERT INTO mistakes (project_id, id, session_id, timestamp, error_class, "
                "description, semantic_hash, was_repeat, related_concepts, rules_consulted) "
                "VALUES (?, ?, 's', ?, 'e', 'd', 'h', 0, ?, ?)",
                (project_id, f"m-{n}", f"2026-02-05T14:4{n}:00+00:00", concepts, consulted),
            )

    def stored(path: Path) -> list[tuple[object, object]]:
        with sqlite3.connect(path) as conn:
            return conn.execute(
                "SELECT related_concepts, rules_consulted FROM mistakes WHERE id LIKE 'm-%' "
                "ORDER BY id"
            ).fetchall()

    runner = CliRunner()
    out = tmp_path / "bundle"
    exported = runner.invoke(cli, ["--project-root", str(project), "export", "-o", str(out)])
    assert exported.exit_code == 0, exported.output  # adopts the original's database first
    assert stored(database) == values
    lines = [m for m in _lines(out / "mistakes.jsonl") if m["id"].startswith("m-")]
    assert [(m["related_concepts"], m["rules_consulted"]) for m in lines] == values
    other = tmp_path / "other.db"
    imported = runner.invoke(
        cli, ["--db", str(other), "--project-root", str(project), "import", str(out)]
    )
    assert imported.exit_code == 0, imported.output
    assert stored(other) == values


def test_the_originals_other_tables_export_and_import(migrated: Path, tmp_path: Path) -> None:
    """gauntlet credits, emission edges, gauntlet rules and posterior snapshots the original
    wrote (without a record key) go out and come back exactly, and never twice."""
    backend = _backend(migrated)
    project = backend.project_id
    rule = {
        "rule_id": "karen:1",
        "persona": "karen",
        "rule": "Check input",
        "category": "security",
        "provenance": json.dumps({"confidence": 0.5}),
        "active": 1,
    }
    _store_gauntlet_rules(backend.engine, [rule])
    with backend.engine.begin() as conn:
        conn.execute(
            sa.text(
                "INSERT INTO gauntlet_credits (project_id, timestamp, iteration, rules) "
                "VALUES (:p, '2026-03-01T00:00:00+00:00', 2, '[\"sk-1\", \"wf-2\"]')"
            ),
            {"p": project},
        )
        conn.execute(
            sa.text(
                "INSERT INTO emission_edges (source_id, target_id, relation_type, confidence, "
                "artifact_type, project_id, emitted_at, consumed_at, properties) VALUES ('a', 'b', "
                "'repeats', 0.8, 'mistake_manifest', :p, '2026-03-01', '2026-03-02', "
                "'{\"k\": [1, 2]}')"
            ),
            {"p": project},
        )
        conn.execute(
            sa.text(
                "INSERT INTO posterior_snapshots (project_id, timestamp, rule_id, alpha, beta, "
                "mean, trigger, iteration) "
                "VALUES (:p, '2026-03-03', 'sk-1', 2, 1, 0.6667, 'reward', 4)"
            ),
            {"p": project},
        )
    first = tmp_path / "first"
    try:
        export_bundle(backend.engine, first, project_id=project)
        back_home = import_bundle(backend.engine, first)  # the same database: nothing new
    finally:
        backend.close()
    assert set(back_home.added.values()) == {0}
    assert _lines(first / "gauntlet_credits.jsonl") == [
        {"timestamp": "2026-03-01T00:00:00+00:00", "iteration": 2, "rules": ["sk-1", "wf-2"]}
    ]
    assert _lines(first / "emission_edges.jsonl") == [
        {"source_id": "a", "target_id": "b", "relation_type": "repeats",
         "artifact_type": "mistake_manifest", "emitted_at": "2026-03-01",
         "consumed_at": "2026-03-02", "confidence": 0.8, "properties": {"k": [1, 2]}}
    ]  # fmt: skip
    (exported_rule,) = _lines(first / "gauntlet_rules.jsonl")
    assert "project_id" not in exported_rule
    assert (exported_rule["rule_id"], exported_rule["provenance"]) == (
        "karen:1",
        {"confidence": 0.5},
    )
    assert len(_lines(first / "posterior_snapshots.jsonl")) == 2
    engine, _ = open_engine(database_location(str(tmp_path / "empty.db")))
    try:
        imported = import_bundle(engine, first)
        again = import_bundle(engine, first)
        second = tmp_path / "second"
        export_bundle(engine, second, project_id=project)
    finally:
        engine.dispose()
    assert {name: imported.added[name] for name in TABLES[6:]} == {
        "posterior_snapshots": 2, "gauntlet_credits": 1, "emission_edges": 1, "gauntlet_rules": 1
    }  # fmt: skip
    assert set(again.added.values()) == {0}
    for name in TABLES:
        assert (second / f"{name}.jsonl").read_bytes() == (first / f"{name}.jsonl").read_bytes()
