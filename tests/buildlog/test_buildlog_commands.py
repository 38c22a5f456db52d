"""The buildlog command line through CliRunner: output, --json, exact errors."""

from __future__ import annotations

import json
from pathlib import Path

import blsamples
import pytest
from click.testing import CliRunner, Result

from buildlog.cli import cli


def run(project: Path, *args: str) -> Result:
    return CliRunner().invoke(cli, ["--project-root", str(project), *args], prog_name="buildlog")


def ok(project: Path, *args: str) -> Result:
    result = run(project, *args)
    assert result.exit_code == 0, (result.output, result.stderr)
    return result


def test_recording_flow(project: Path, database: str) -> None:
    # Skills the project knows (promote refuses others, as the original does).
    ok(project, "bandit", "update", "known", "arch-b0fcb62a1e", "--success")
    ok(project, "bandit", "update", "known", "wf-29c1110c75", "--success")
    ok(project, "promote", "arch-b0fcb62a1e", "wf-29c1110c75")
    started = json.loads(
        ok(project, "experiment", "start", "--error-class", "missing_test", "--json").stdout
    )
    assert started["selected_rules"] == ["arch-b0fcb62a1e", "wf-29c1110c75"]
    again = run(project, "experiment", "start")
    assert again.exit_code == 1
    assert again.stderr == (
        f"Error: an experiment is already running ({started['id']}); end it with "
        "'buildlog experiment end' first\n"
    )
    reward = json.loads(ok(project, "reward", "revision", "--distance", "0.3", "--json").stdout)
    assert reward["reward_value"] == pytest.approx(0.7)
    assert reward["session_id"] == started["id"]
    mistake = json.loads(
        ok(
            project,
            "experiment",
            "log-mistake",
            "--error-class",
            "missing_test",
            "--description",
            "Forgot tests for empty-input branch",
            "--json",
        ).stdout
    )
    assert mistake["semantic_hash"] == "05665d9e4e4cc3c0"
    assert mistake["was_repeat"] is False
    ended = ok(project, "experiment", "end", "--entry-file", "2026-02-05-auth.md", "--json")
    assert json.loads(ended.stdout)["entry_file"] == "2026-02-05-auth.md"
    assert ended.stderr == ""
    assert len(json.loads(ok(project, "sessions", "--json").stdout)) == 1
    arms = json.loads(ok(project, "bandit", "show", "--json").stdout)
    arms = [a for a in arms if a["context"] != "known"]
    # 0.7 from the reward, then 0.0 from the mistake, on both selected rules.
    assert [(a["rule_id"], a["alpha"], a["beta"]) for a in arms] == [
        ("arch-b0fcb62a1e", pytest.approx(1.7), pytest.approx(2.3)),
        ("wf-29c1110c75", pytest.approx(1.7), pytest.approx(2.3)),
    ]
    table = ok(project, "rewards").stdout.splitlines()
    assert table[0].split() == [
        "ID",
        "TIMESTAMP",
        "OUTCOME",
        "REWARD_VALUE",
        "SESSION_ID",
        "RULES_ACTIVE",
    ]
    assert table[1].endswith("arch-b0fcb62a1e, wf-29c1110c75")


def test_session_without_reward_gets_an_automatic_one(project: Path, database: str) -> None:
    ok(project, "experiment", "start")
    ended = ok(project, "experiment", "end")
    assert ended.stderr.startswith("buildlog: no reward in this session; logged rew-")
    (auto,) = json.loads(ok(project, "rewards", "--json").stdout)["events"]
    assert (auto["outcome"], auto["reward_value"], auto["source"]) == (
        "revision",
        0.5,
        "auto:end_session",
    )


def test_errors_are_one_line(project: Path) -> None:
    result = run(project, "experiment", "end")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: no experiment is running; start one with 'buildlog experiment start'\n",
    )
    result = run(project, "export", "--tables", "rewards,skills")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: unknown table 'skills'; valid tables: rewards, sessions, mistakes, "
        "bandit_state, learnings, skill_decisions, posterior_snapshots, gauntlet_credits, "
        "emission_edges, gauntlet_rules\n",
    )
    result = run(project, "export", "--project", "000000000000", "--all-projects")
    assert (result.exit_code, result.stderr) == (
        1,
        "Error: no project '000000000000' (see 'buildlog projects')\n",
    )


def test_learning_reinforcement_and_skills(project: Path, database: str) -> None:
    args = ("learning", "add", "--rule", "Write the failing test before the fix")
    args += ("--category", "workflow", "--severity", "major", "--source", "review:pr-1")
    first = ok(project, *args)
    assert first.stderr == "buildlog: added wf-29c1110c75\n"
    second = ok(project, *args)
    assert second.stderr == "buildlog: reinforced wf-29c1110c75\n"
    (learning,) = json.loads(ok(project, "learnings", "--json").stdout)
    assert learning["reinforcement_count"] == 2
    unknown = run(project, "promote", "a", "b")
    assert (unknown.exit_code, unknown.stdout) == (1, "")  # as the original: nothing stored
    assert unknown.stderr.startswith(
        "Error: promote: no valid skill ids provided: 'a' is not a skill of this project "
        "(known: wf-29c1110c75)"
    )
    for arm in ("a", "b"):
        ok(project, "bandit", "update", "general", arm, "--failure")
    partly = ok(project, "promote", "a", "b", "zz-nonexistent")
    assert partly.stderr.startswith("buildlog: skipped unknown skill ids: zz-nonexistent\n")
    rejected = ok(project, "reject", "a")
    assert rejected.stderr == "buildlog: 1 of 1 skills rejected\n"
    skills = json.loads(ok(project, "decisions", "--json").stdout)
    assert [(s["skill_id"], s["decision"]) for s in skills] == [
        ("a", "rejected"),
        ("b", "promoted"),
    ]


def test_legacy_backend_is_read_only(project: Path, isolated_home: Path) -> None:
    data = blsamples.write_legacy(project)
    with (data / "sessions.jsonl").open("a") as handle:
        handle.write("not json\n")
    info = json.loads(ok(project, "info", "--json").stdout)
    assert (info["backend"], info["resolution_case"], info["database_exists"]) == (
        "legacy",
        3,
        False,
    )
    assert info["counts"]["rewards"] == 3
    assert info["legacy_malformed_lines"] == [
        f"{(data / 'sessions.jsonl').resolve()}:3: invalid JSON: Expecting value (column 1)"
    ]
    assert json.loads(ok(project, "rewards", "--json").stdout)["total_events"] == 3
    result = run(project, "reward", "accepted")
    assert result.exit_code == 1
    assert result.stderr == (
        "Error: cannot record rewards: this project still uses the read-only legacy files in "
        f"{data.resolve()}; run 'buildlog migrate' to move them into the database\n"
    )
    assert not isolated_home.exists()


def test_migrate_reports_and_exit_status(project: Path) -> None:
    data = blsamples.write_legacy(project)
    (data / "notes.txt").write_text("x")
    dry = ok(project, "migrate", "--dry-run")
    assert f"{(data / 'reward_events.jsonl').resolve()}: would import 3 records" in dry.stdout
    with (data / "mistakes.jsonl").open("a") as handle:
        handle.write('{"id": 1}\n')
    result = run(project, "migrate")
    assert result.exit_code == 1
    assert f"{(data / 'notes.txt').resolve()}: not a buildlog file, left alone" in result.stdout
    assert result.stderr.splitlines() == [
        f"buildlog: {(data / 'mistakes.jsonl').resolve()}:3: "
        "field 'id' must be a string, got number",
        f"Error: migration incomplete: 1 malformed line in {(data / 'mistakes.jsonl').resolve()} "
        "(first: line 3: field 'id' must be a string, got number); nothing was imported from "
        "that file; fix and run 'buildlog migrate' again",
    ]
    (data / "mistakes.jsonl").write_text(blsamples.jsonl(blsamples.MISTAKES))
    fixed = json.loads(ok(project, "migrate", "--json").stdout)
    # Nothing of the file came in while it had a malformed line: now all of it does.
    assert [(f["status"], f["added"], f["unchanged"]) for f in fixed["files"]] == [
        ("migrated", 2, 0)
    ]
    nothing = ok(project, "migrate")
    assert nothing.stdout == "nothing to migrate: no legacy files pending\n"


def test_export_import_and_db_commands(project: Path, database: str, tmp_path: Path) -> None:
    ok(project, "reward", "accepted")
    info = json.loads(ok(project, "info", "--json").stdout)
    assert info["backend"] == ("postgresql" if database.startswith("postgresql") else "sqlite")
    out = tmp_path / "export"
    exported = json.loads(ok(project, "export", "-o", str(out), "--json").stdout)
    assert exported["tables"]["rewards"] == 1
    assert exported["schema_revision"] == "0004"
    other = tmp_path / "other.db"
    imported = CliRunner().invoke(
        cli, ["--db", str(other), "--project-root", str(project), "import", str(out), "--json"]
    )
    assert imported.exit_code == 0, imported.stderr
    assert json.loads(imported.stdout)["added"]["rewards"] == 1
    assert ok(project, "db", "check").stdout == "ok: at revision 0004\n"
    assert ok(project, "db", "current").stdout == "0004 (head)\n"
    absent = run(project, "--db", str(tmp_path / "none.db"), "db", "check")
    assert (absent.exit_code, absent.stderr) == (
        1,
        f"Error: database not found: {tmp_path / 'none.db'}\n",
    )


def test_info_says_in_words_how_the_backend_was_chosen(
    project: Path, tmp_path: Path, isolated_home: Path
) -> None:
    def backend_line(root: Path) -> str:
        lines = ok(root, "info").stdout.splitlines()
        return next(line for line in lines if line.startswith("backend:"))

    blsamples.write_legacy(project)
    assert backend_line(project) == (
        "backend:      legacy (no database yet: reading the legacy files, read-only)"
    )
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    # info only reads: it creates no database and registers no project.
    assert backend_line(fresh) == (
        "backend:      legacy (nothing recorded yet: no database, no legacy files (the first "
        "write creates it))"
    )
    assert not isolated_home.exists()
    ok(fresh, "reward", "accepted")
    assert backend_line(fresh) == "backend:      sqlite (found this project in the database)"
    other = tmp_path / "other"
    other.mkdir()
    before = ok(fresh, "projects", "--format", "csv").stdout
    assert backend_line(other) == (
        "backend:      sqlite (this project is not in the database yet (the first write "
        "registers it))"
    )
    assert "case" not in ok(other, "info").stdout
    assert ok(other, "projects", "--format", "csv").stdout == before  # nothing registered
    ok(other, "reward", "accepted")
    assert backend_line(other) == "backend:      sqlite (found this project in the database)"


def test_learnings_are_listed_by_their_group_and_the_old_spelling_still_works(
    project: Path,
) -> None:
    ok(project, "learning", "add", "--rule", "Test first", "--category", "testing",
       "--severity", "major", "--source", "review:1")  # fmt: skip
    listed = json.loads(ok(project, "learning", "list", "--json").stdout)
    assert [item["rule"] for item in listed] == ["Test first"]
    assert json.loads(ok(project, "learnings", "--json").stdout) == listed
    commands = ok(project, "--help").stdout.split("Commands:")[1]
    assert "learnings" not in commands
    assert "  learning " in commands


def test_the_original_tools_option_spellings_work_unchanged(project: Path) -> None:
    """Scripts and agent hooks written for the original buildlog run as they are."""
    started = json.loads(ok(project, "experiment", "start", "-e", "missing_test", "-n", "go",
                            "--json").stdout)  # fmt: skip
    assert (started["error_class"], started["notes"]) == ("missing_test", "go")
    reward = json.loads(
        ok(project, "reward", "revision", "-d", "0.3", "-e", "missing_test", "-r", "wf-1",
           "--rules", "wf-2", "-n", "close", "--json").stdout
    )  # fmt: skip
    assert (reward["reward_value"], reward["error_class"], reward["rules_active"]) == (
        pytest.approx(0.7), "missing_test", ["wf-1", "wf-2"]
    )  # fmt: skip
    assert reward["notes"] == "close"
    mistake = json.loads(
        ok(project, "experiment", "log-mistake", "--error-class", "missing_test", "-d",
           "forgot a test", "-r", "wf-1", "--json").stdout
    )  # fmt: skip
    assert (mistake["description"], mistake["corrected_by_rule"]) == ("forgot a test", "wf-1")
    ended = json.loads(ok(project, "experiment", "end", "-f", "entry.md", "-n", "done",
                          "--json").stdout)  # fmt: skip
    assert (ended["entry_file"], ended["notes"]) == ("entry.md", "go\ndone")  # notes add up
    ok(project, "reward", "accepted", "-s", started["id"])
    ok(project, "reward", "rejected")
    lines = ok(project, "rewards", "-s", started["id"], "--format", "jsonl").stdout
    assert [json.loads(line)["outcome"] for line in lines.splitlines()] == ["revision", "accepted"]
    assert [
        r["outcome"]
        for r in json.loads(ok(project, "rewards", "-n", "1", "--json").stdout)["events"]
    ] == ["rejected"]


def test_a_reward_without_rules_credits_the_latest_gauntlet_credit(
    project: Path, isolated_home: Path
) -> None:
    """As the original: no --rule takes the rules of the latest gauntlet_credits row and
    updates their bandit arms."""
    import sqlite3

    from buildlog.project import identify_project

    # A first write creates the database and registers the project.
    ok(project, "learning", "add", "--rule", "Test first", "--category", "testing",
       "--severity", "minor", "--source", "review")  # fmt: skip
    project_id = identify_project(project).id
    with sqlite3.connect(isolated_home / "buildlog.db") as conn:
        conn.executemany(
            "INSERT INTO gauntlet_credits (project_id, timestamp, iteration, rules) "
            "VALUES (?, ?, ?, ?)",
            [
                (project_id, "2026-02-05T10:00:00+00:00", 1, '["sec:old"]'),
                (project_id, "2026-02-05T11:00:00+00:00", 2, '["sec:1a2b3c4d", "test:5e6f"]'),
                ("someoneelse", "2026-02-05T12:00:00+00:00", 3, '["other:rule"]'),
            ],
        )
    stored = json.loads(ok(project, "reward", "accepted", "-e", "missing_test", "--json").stdout)
    assert stored["rules_active"] == ["sec:1a2b3c4d", "test:5e6f"]
    arms = json.loads(ok(project, "bandit", "show", "--json").stdout)
    assert [(a["context"], a["rule_id"], a["alpha"]) for a in arms] == [
        ("missing_test", "sec:1a2b3c4d", 2.0),
        ("missing_test", "test:5e6f", 2.0),
    ]
    # Rules given on the command line win.
    given = json.loads(ok(project, "reward", "rejected", "-r", "x:1", "--json").stdout)
    assert given["rules_active"] == ["x:1"]


def test_experiment_metrics_and_report(project: Path, database: str) -> None:
    import csv
    import io

    assert json.loads(ok(project, "experiment", "report", "--json").stdout) == {
        "summary": {"total_sessions": 0, "total_mistakes": 0, "total_repeated": 0,
                    "overall_repeat_rate": 0.0},
        "sessions": [],
        "error_classes": {},
    }  # fmt: skip
    for description in ("off by one", "off by one"):
        ok(project, "experiment", "start", "-e", "logic")
        ok(project, "experiment", "log-mistake", "--error-class", "logic", "-d", description)
        ok(project, "experiment", "end")
    first = json.loads(ok(project, "sessions", "--format", "json").stdout)[0]["id"]
    metrics = json.loads(ok(project, "experiment", "metrics", "--session", first, "--json").stdout)
    assert (metrics["session_id"], metrics["total_mistakes"], metrics["repeated_mistakes"]) == (
        first,
        1,
        0,
    )
    overall = json.loads(ok(project, "experiment", "metrics", "--format", "json").stdout)
    assert (overall["session_id"], overall["repeated_mistake_rate"]) == ("aggregate", 0.5)
    text = ok(project, "experiment", "metrics").stdout
    assert "Repeat rate:        50.0%" in text
    rows = list(csv.DictReader(io.StringIO(ok(project, "experiment", "report", "--format",
                                              "csv").stdout)))  # fmt: skip
    assert [row["repeated_mistakes"] for row in rows] == ["0", "1"]
    assert "logic: 2 mistakes (1 repeats, 50%)" in ok(project, "experiment", "report").stdout
    missing = run(project, "experiment", "metrics", "--session", "nope")
    assert (missing.exit_code, missing.stderr) == (1, "Error: session not found: nope\n")


def _store_rules(project: Path) -> None:
    import sqlalchemy as sa

    from buildlog.backends.resolve import resolve_backend
    from buildlog.backends.sqlite import SQLiteBackend
    from buildlog.models import metadata

    backend = resolve_backend(project).backend
    assert isinstance(backend, SQLiteBackend)
    now = "2026-02-01T00:00:00.000Z"
    with backend.engine.begin() as conn:
        for number, (persona, rule) in enumerate(
            [("karen", "Check input"), ("karen", "Escape output"), ("zed", "Pin versions")]
        ):
            conn.execute(
                sa.insert(metadata.tables["gauntlet_rules"]).values(
                    rule_id=f"{persona}:{number}", persona=persona, rule=rule,
                    category="security", tags='["web"]', version=2, created_at=now,
                    updated_at=now,
                )
            )  # fmt: skip
    backend.close()


def test_gauntlet_rules_and_credits(project: Path, database: str, tmp_path: Path) -> None:
    import csv
    import io

    empty = json.loads(ok(project, "gauntlet", "list", "--json").stdout)
    assert empty == {"personas": {}, "total_rules": 0, "error": "No rules found"}
    missing = run(project, "gauntlet", "rules")
    assert (missing.exit_code, missing.stderr) == (
        1,
        "Error: no gauntlet rules found; import a seed file first\n",
    )
    _store_rules(project)
    listed = json.loads(ok(project, "gauntlet", "list", "--json").stdout)
    assert listed["total_rules"] == 3
    assert listed["personas"]["karen"] == {
        "description": "Custom persona",
        "rules_count": 2,
        "version": 2,
    }
    rows = list(csv.DictReader(io.StringIO(ok(project, "gauntlet", "rules", "--format",
                                              "csv").stdout)))  # fmt: skip
    assert [(r["persona"], r["rule"], r["tags"]) for r in rows] == [
        ("karen", "Check input", '["web"]'),
        ("karen", "Escape output", '["web"]'),
        ("zed", "Pin versions", '["web"]'),
    ]
    only = json.loads(ok(project, "gauntlet", "rules", "-p", "zed", "--format", "json").stdout)
    assert list(only) == ["zed"]
    unknown = run(project, "gauntlet", "rules", "-p", "nobody")
    assert unknown.stderr == "Error: unknown persona 'nobody'; known: karen, zed\n"
    written = tmp_path / "rules.md"
    assert ok(project, "gauntlet", "rules", "--format", "markdown", "-o", str(written)).stdout == (
        f"Wrote 3 rules to {written}\n"
    )
    assert written.read_text().startswith("# Review Gauntlet Rules\n")
    (tmp_path / "a-file").write_text("")
    nowhere = run(project, "gauntlet", "rules", "-o", str(tmp_path / "a-file" / "x.yaml"))
    assert nowhere.exit_code == 1
    assert nowhere.stderr.startswith("Error: cannot write ")
    credit = json.loads(ok(project, "gauntlet", "credit", "wf-2", "sk-1", "wf-2", "--json").stdout)
    assert (credit["iteration"], credit["rules"]) == (1, ["sk-1", "wf-2"])
    reward = json.loads(ok(project, "reward", "accepted", "--json").stdout)
    assert reward["rules_active"] == ["sk-1", "wf-2"]
    blank = run(project, "gauntlet", "credit", " ")
    assert (blank.exit_code, blank.stderr) == (1, "Error: rule id must not be empty\n")
    assert len(json.loads(ok(project, "gauntlet", "credits", "--json").stdout)) == 1


def test_import_seed(project: Path, database: str, tmp_path: Path) -> None:
    seed = tmp_path / "upstream.yaml"
    rule = "persona: up\nversion: {v}\nrules:\n  - rule: Check input\n    category: security\n"
    rule += '    provenance: {{graph_version: "{g}"}}\n'
    added = ok(project, "learning", "add", "--rule", "Check input", "--category", "security",
               "--severity", "major", "--source", "s", "--json")  # fmt: skip
    skill = json.loads(added.stdout)
    ok(project, "bandit", "update", "general", skill["id"], "--success")
    ok(project, "bandit", "update", "general", skill["id"], "--success")
    for version, graph in ((1, "a"), (2, "b"), (2, "b")):
        seed.write_text(rule.format(v=version, g=graph))
        ok(project, "import-seed", str(seed))
    arms = json.loads(ok(project, "bandit", "show", "--format", "json").stdout)
    # alpha 3 decayed once (the second run of the same file decays nothing more).
    assert [(a["rule_id"], a["alpha"]) for a in arms] == [(skill["id"], 2.0)]
    listed = json.loads(ok(project, "gauntlet", "rules", "--format", "json").stdout)
    assert listed == {
        "up": {"version": 2, "rules": [{"rule": "Check input", "category": "security",
               "context": "", "antipattern": "", "rationale": "", "tags": [],
               "references": []}]}
    }  # fmt: skip
    assert (project / ".buildlog" / "seeds" / "upstream.yaml").read_text() == seed.read_text()
    missing = run(project, "import-seed", str(tmp_path / "nope.yaml"))
    assert (missing.exit_code, missing.stderr) == (
        1,
        f"Error: seed file not found: {tmp_path / 'nope.yaml'}\n",
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text("rules: 3\n")
    refused = run(project, "import-seed", str(bad))
    assert refused.exit_code == 1
    assert refused.stderr.startswith(f"Error: {bad}: not a seed file: 'rules' must be a list")
    assert not (project / ".buildlog" / "seeds" / "bad.yaml").exists()


def test_ingest_seeds_reads_the_sources_of_interop_yaml(
    project: Path, database: str, tmp_path: Path
) -> None:
    home = tmp_path / "home"  # the isolated HOME of the buildlog tests
    (home / ".buildlog").mkdir(parents=True, exist_ok=True)
    drop = tmp_path / "drop"
    (drop / "pending").mkdir(parents=True)
    (home / ".buildlog" / "interop.yaml").write_text(
        "sources:\n"
        f"  - {{name: team, pending_dir: {drop / 'pending'}, processed_dir: {drop / 'done'},\n"
        f"     failed_dir: {drop / 'failed'}}}\n"
        "max_rules_per_file: 1\n"
    )
    seed = "persona: team\nrules:\n  - rule: One\n"
    (drop / "pending" / "one.yaml").write_text(seed)
    (drop / "pending" / "two.yaml").write_text(seed + "  - rule: Two\n")
    assert json.loads(ok(project, "ingest-seeds", "--source", "other", "--json").stdout) == []
    (report,) = json.loads(ok(project, "ingest-seeds", "--json").stdout)
    assert (report["source"], report["ingested"], report["failed"]) == ("team", 1, 1)
    assert report["files"][1]["error"] == "Too many rules: 2 (max 1)"
    assert sorted(p.name for p in (drop / "failed").iterdir()) == ["two.yaml", "two.yaml.error"]
    assert [p.name for p in (drop / "done").iterdir()] == ["one.yaml"]
    again = ok(project, "ingest-seeds").stdout
    assert again == "No pending files\n"
    rules = json.loads(ok(project, "gauntlet", "rules", "--format", "json").stdout)
    assert [r["rule"] for r in rules["team"]["rules"]] == ["One"]


def test_overview(project: Path, database: str) -> None:
    import csv
    import io

    ok(project, "reward", "accepted")
    ok(project, "experiment", "start")
    data = json.loads(ok(project, "overview", "--json").stdout)
    assert (data["initialized"], data["entries"], data["skills"]) == (
        False,
        0,
        {"promoted": 0, "rejected": 0},
    )
    assert data["active_session"].startswith("session-")
    assert data["records"] == {
        "rewards": 1, "sessions": 0, "mistakes": 0, "learnings": 0, "bandit_arms": 0,
    }  # fmt: skip
    (project / "buildlog").mkdir()
    (project / "buildlog" / "2026-02-01-first.md").write_text("# entry\n")
    (row,) = csv.DictReader(io.StringIO(ok(project, "overview", "--format", "csv").stdout))
    assert (row["initialized"], row["entries"], row["records.rewards"]) == ("True", "1", "1")
    assert "Rewards:     1" in ok(project, "overview").stdout


READING_COMMANDS = [
    ["rewards"], ["rewards", "--json"], ["sessions"], ["mistakes", "--format", "csv"],
    ["learnings"], ["decisions"], ["bandit", "show"], ["experiment", "metrics"],
    ["experiment", "report", "--json"], ["status"], ["diff", "--json"], ["skills"],
]  # fmt: skip


def test_commands_that_read_create_no_database(project: Path, isolated_home: Path) -> None:
    """Nothing recorded anywhere: a listing prints an empty project and leaves no file."""
    for args in READING_COMMANDS:
        ok(project, *args)
        assert not isolated_home.exists(), args
    assert json.loads(ok(project, "rewards", "--json").stdout)["events"] == []
    ok(project, "reward", "accepted")  # the first write creates it
    assert (isolated_home / "buildlog.db").exists()
    assert json.loads(ok(project, "rewards", "--json").stdout)["total_events"] == 1
    # In an existing database, a project that only reads is not registered either.
    other = project.parent / "only-reads"
    other.mkdir()
    registry = ok(project, "projects", "--format", "csv").stdout
    more = [["info"], ["info", "--json"], ["projects"], ["overview"], ["gauntlet", "list"],
            ["gauntlet", "credits"]]  # fmt: skip
    for args in [*READING_COMMANDS, *more]:
        ok(other, *args)
        assert ok(project, "projects", "--format", "csv").stdout == registry, args
