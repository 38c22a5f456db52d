"""Ours against the original buildlog 0.23.0, each driven through its own command line on the
same home folder: the same ids, the same rows, exports that read both ways."""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from original_tool import Tools

from buildlog.project import identify_project

pytestmark = pytest.mark.timeout(900)

ORIGINS = [
    "https://github.com/acme/widgets.git",
    "https://github.com/acme/widgets",  # no .git suffix
    "https://alice@github.com/acme/widgets.git",  # a user, no token
    "https://alice:tok123@github.com/acme/secret.git",  # user and token
    "https://ghp_0123456789abcdef@github.com/acme/secret.git",  # a lone token
    "git@github.com:acme/widgets.git",  # scp form
    "ssh://git@github.com/acme/widgets.git",
    "ssh://alice:pw@host.example:2222/srv/widgets.git",
    "file:///srv/git/widgets.git",
]


def _git(root: Path, *args: str, env: dict[str, str]) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, env=env, capture_output=True)


def _repo(root: Path, origin: str | None, env: dict[str, str]) -> Path:
    root.mkdir(parents=True)
    _git(root, "init", "-q", env=env)
    if origin is not None:
        _git(root, "remote", "add", "origin", origin, env=env)
    return root


def test_project_ids_equal_the_originals(tools: Tools, tmp_path: Path) -> None:
    env = tools.env
    roots = [_repo(tmp_path / f"repo-{n}", url, env) for n, url in enumerate(ORIGINS)]
    sub = roots[0] / "src" / "deep"
    sub.mkdir(parents=True)  # a subfolder of a repository
    no_origin = _repo(tmp_path / "no-origin", None, env)
    plain = tmp_path / "plain folder with spaces"
    plain.mkdir()
    linked = tmp_path / "linked"
    linked.symlink_to(no_origin)  # a symlinked path resolves to its target
    corpus = [*roots, sub, no_origin, plain, linked]
    theirs = tools.original_ids(corpus)
    ours = [identify_project(root).id for root in corpus]
    assert ours == theirs
    # And the registry never holds a credential (the URL is not stored at all).
    project = roots[3]
    tools.ours(project, "reward", "accepted", "-r", "arch-1")
    with sqlite3.connect(tools.database) as conn:
        dumped = "\n".join(str(row) for row in conn.execute("SELECT * FROM projects"))
    assert "tok123" not in dumped


def _original_writes_legacy_files(tools: Tools, project: Path) -> None:
    """Drive the original while it has no database: it writes its legacy files itself."""
    tools.original(project, "init", "--defaults", "--no-mcp", "--no-hooks", "--no-claude-md")
    tools.original(project, "reward", "accepted", "--rules", "arch-b0fcb62a1e")
    tools.original(project, "reward", "revision", "-d", "0.3", "-e", "missing_test", "-n", "n1")
    tools.original(project, "experiment", "start", "--error-class", "missing_test")
    tools.original(project, "experiment", "log-mistake", "--error-class", "missing_test",
                   "--description", "forgot the test")  # fmt: skip
    tools.original(project, "experiment", "end")


_ISSUES = [
    {"severity": "major", "category": "testing", "description": "No test for the parser",
     "rule_learned": "Every parser change gets a test", "location": "src/parser.py",
     "rules_consulted": ["test_terrorist:tt-1"]},
    {"severity": "minor", "category": "style", "description": "A long function",
     "rule_learned": "Keep functions short"},
]  # fmt: skip
_PROCESS_ISSUES = """
import json, sys
from pathlib import Path
from buildlog.core import gauntlet_process_issues
gauntlet_process_issues(Path("buildlog"), json.loads(sys.argv[1]), iteration=1,
                        source="gauntlet:PR#3", valid_rule_ids={"test_terrorist:tt-1"})
"""


def _original_writes_the_rest(tools: Tools, project: Path) -> None:
    """Drive the original, on its database, through learnings (a gauntlet review, twice, so
    they are reinforced), a promotion and a rejection of skills of its example journal entry,
    and a processed gauntlet review (a credit, a posterior snapshot)."""
    issues = project / "issues.json"
    issues.write_text(json.dumps(_ISSUES))
    tools.original(project, "gauntlet", "learn", str(issues), "--source", "gauntlet:PR#1")
    tools.original(project, "gauntlet", "learn", str(issues), "--source", "gauntlet:PR#2")
    skills = json.loads(tools.original(project, "skills", "--format", "json").stdout)["skills"]
    first, second = [skill["id"] for group in skills.values() for skill in group][:2]
    tools.original(project, "promote", first)
    tools.original(project, "reject", second)
    subprocess.run(
        [str(tools.original_python), "-c", _PROCESS_ISSUES, json.dumps(_ISSUES)],
        cwd=project, env=tools.env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip


_COMPARED = {
    "reward_events": "id",
    "sessions": "id",
    "mistakes": "id",
}


def _rows(database: Path, table: str) -> list[dict[str, object]]:
    with sqlite3.connect(database) as conn:
        conn.row_factory = sqlite3.Row
        order = _COMPARED[table]
        return [dict(row) for row in conn.execute(f"SELECT * FROM {table} ORDER BY {order}")]


def test_migrate_of_the_originals_files_equals_the_originals_migrate(
    tools: Tools, tmp_path: Path
) -> None:
    project = _repo(tmp_path / "widgets", "https://github.com/acme/widgets.git", tools.env)
    _original_writes_legacy_files(tools, project)
    legacy = sorted(p.name for p in (project / "buildlog" / ".buildlog").iterdir() if p.is_file())
    assert "reward_events.jsonl" in legacy
    copy = tmp_path / "copy" / "widgets"
    shutil.copytree(project, copy, symlinks=True)
    other = Tools(tmp_path / "home-ours", tools.original_python)
    other.home.mkdir()
    tools.original(project, "migrate")
    other.ours(copy, "migrate")
    for table in _COMPARED:
        theirs, ours = _rows(tools.database, table), _rows(other.database, table)
        assert theirs, table
        assert ours == theirs, table


def _dump(database: Path) -> dict[str, list[tuple[object, ...]]]:
    """Every table of the original's schema, row for row."""
    with sqlite3.connect(database) as conn:
        names = [row[0] for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "AND name <> 'buildlog_alembic_version' ORDER BY name"
        )]  # fmt: skip
        return {
            name: sorted(conn.execute(f"SELECT * FROM {name}").fetchall(), key=repr)
            for name in names
        }


def test_both_tools_share_one_database_both_ways(tools: Tools, tmp_path: Path) -> None:
    project = _repo(tmp_path / "widgets", "https://alice:tok123@github.com/acme/w.git", tools.env)
    _original_writes_legacy_files(tools, project)
    tools.original(project, "migrate")  # the original's database, at its schema 7
    written = _dump(tools.database)
    before = json.loads(tools.original(project, "rewards", "--json").stdout)["events"]
    # Ours adopts it in place and sees every record, through the same project id.
    ours = json.loads(tools.ours(project, "rewards", "--format", "json").stdout)["events"]
    assert sorted(r["id"] for r in ours) == sorted(r["id"] for r in before)
    info = json.loads(tools.ours(project, "info", "--json").stdout)
    assert info["project_id"] == tools.original_ids([project])[0]
    # Adoption kept every row of every table (our additions are new, nullable columns). The
    # project's own registry row is brought up to date (updated_at, and our id_source and
    # id_alias); its id, name, path and creation time stay.
    adopted = _dump(tools.database)
    for table, rows in written.items():
        assert len(adopted[table]) == len(rows), table
        for old_row, new_row in zip(rows, adopted[table], strict=True):
            if table == "projects":
                assert new_row[:4] == old_row[:4]
            else:
                assert new_row[: len(old_row)] == old_row, table
    # Ours writes; the original reads it, and writes again; ours reads that.
    tools.ours(project, "reward", "rejected", "-n", "from ours", "-e", "missing_test")
    seen = json.loads(tools.original(project, "rewards", "--json").stdout)["events"]
    assert "from ours" in [r.get("notes") for r in seen]
    tools.original(project, "reward", "accepted", "--rules", "wf-29c1110c75", "-n", "again")
    ours = json.loads(tools.ours(project, "rewards", "--format", "jsonl").stdout.splitlines()[-1])
    assert ours["notes"] == "again"
    # A script reading the original's `rewards --json` reads ours unchanged.
    session = next(r["session_id"] for r in seen if r.get("session_id"))
    for args in ([], ["--limit", "2"], ["-n", "1"], ["--session", session]):
        theirs = json.loads(tools.original(project, "rewards", *args, "--json").stdout)
        assert json.loads(tools.ours(project, "rewards", *args, "--json").stdout) == theirs
    mistakes = json.loads(tools.ours(project, "mistakes", "--format", "json").stdout)
    assert [m["description"] for m in mistakes] == ["forgot the test"]


def test_experiment_metrics_and_report_equal_the_originals(tools: Tools, tmp_path: Path) -> None:
    project = _repo(tmp_path / "widgets", "https://github.com/acme/widgets.git", tools.env)
    _original_writes_legacy_files(tools, project)
    tools.original(project, "migrate")
    # A second session, by ours, repeats the first session's mistake.
    tools.ours(project, "experiment", "start", "-e", "missing_test")
    tools.ours(project, "experiment", "log-mistake", "--error-class", "missing_test",
               "-d", "forgot the test")  # fmt: skip
    tools.ours(project, "experiment", "log-mistake", "--error-class", "typo", "-d", "a typo")
    tools.ours(project, "experiment", "end")
    sessions = json.loads(tools.ours(project, "sessions", "--format", "json").stdout)
    assert len(sessions) == 2
    for args in (
        ["experiment", "metrics"],
        ["experiment", "metrics", "--session", sessions[1]["id"]],
        ["experiment", "report"],
    ):
        theirs = tools.original(project, *args, "--json").stdout
        assert json.loads(tools.ours(project, *args, "--json").stdout) == json.loads(theirs)
        assert tools.ours(project, *args).stdout == tools.original(project, *args).stdout, args
    report = json.loads(tools.ours(project, "experiment", "report", "--json").stdout)
    assert report["summary"]["total_repeated"] == 1
    assert report["error_classes"] == {
        "missing_test": {"total": 2, "repeated": 1},
        "typo": {"total": 1, "repeated": 0},
    }


def test_gauntlet_rules_and_credits_equal_the_originals(tools: Tools, tmp_path: Path) -> None:
    project = _repo(tmp_path / "widgets", "https://github.com/acme/widgets.git", tools.env)
    _original_writes_legacy_files(tools, project)
    tools.original(project, "migrate")
    # Its first look at the rules imports its bundled seed files into the shared database.
    tools.original(project, "gauntlet", "list")
    for args in (
        ["gauntlet", "list", "--json"],
        ["gauntlet", "list"],
        ["gauntlet", "rules"],
        ["gauntlet", "rules", "--format", "json"],
        ["gauntlet", "rules", "--format", "markdown"],
        ["gauntlet", "rules", "-p", "security_karen", "--format", "json"],
    ):
        assert tools.ours(project, *args).stdout == tools.original(project, *args).stdout, args
    assert json.loads(tools.ours(project, "gauntlet", "list", "--json").stdout)["total_rules"]
    # A credit ours records is what the original's reward without --rules credits.
    tools.ours(project, "gauntlet", "credit", "wf-2", "sk-1", "--iteration", "2")
    tools.original(project, "reward", "accepted", "-n", "credited")
    rewards = json.loads(tools.ours(project, "rewards", "--format", "json").stdout)["events"]
    (credited,) = [r for r in rewards if r.get("notes") == "credited"]
    assert credited["rules_active"] == ["sk-1", "wf-2"]
    credits = json.loads(tools.ours(project, "gauntlet", "credits", "--json").stdout)
    assert [(c["iteration"], c["rules"]) for c in credits] == [(2, ["sk-1", "wf-2"])]


_SEED = """persona: upstream
version: {version}
rules:
  - rule: "Validate every input"
    category: security
    provenance: {{source_id: q-1, graph_version: "{graph}"}}
  - rule: "Keep functions short"
    category: architectural
"""


def _arms(database: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(database) as conn:
        return conn.execute(
            "SELECT context, rule_id, alpha, beta FROM bandit_arms ORDER BY context, rule_id"
        ).fetchall()


def test_import_seed_decays_arms_as_the_original_does(tools: Tools, tmp_path: Path) -> None:
    """Both tools, each in a home of its own: the same imports give the same arms, output."""
    skill = "sk-" + hashlib.sha256(b"validate every input").hexdigest()[:10]
    other = Tools(tmp_path / "home-ours", tools.original_python)
    other.home.mkdir()
    # Its own bandit, which keeps arms in the database (its default learner is external).
    tools.extra_env["BUILDLOG_LEARNING_BACKEND"] = "builtin"
    results = []
    for run, home in ((tools.original, tools), (other.ours, other)):
        project = _repo(home.home / "widgets", "https://github.com/acme/widgets.git", home.env)
        if home is tools:  # the original needs its folder, and a database to write arms to
            run(project, "init", "--defaults", "--no-mcp", "--no-hooks", "--no-claude-md")
            run(project, "migrate")
        run(project, "reward", "accepted", "--rules", skill)
        run(project, "reward", "accepted", "--rules", skill)
        outputs = []
        for version, graph in ((1, "1"), (1, "1"), (2, "2")):
            seed = project / "incoming" / "upstream.yaml"
            seed.parent.mkdir(exist_ok=True)
            seed.write_text(_SEED.format(version=version, graph=graph))
            done = json.loads(run(project, "import-seed", str(seed), "--json").stdout)
            outputs.append(
                {k: v for k, v in done.items() if k not in ("target_path", "rules_stored")}
            )
        copied = (project / ".buildlog" / "seeds" / "upstream.yaml").read_text()
        results.append((outputs, _arms(home.database), copied))
    theirs, ours = results
    assert ours == theirs
    assert ours[0][2]["version_changed"] is True
    assert ours[1] == [("general", skill, 2.0, 1.0)]  # alpha 3 decayed to 1 + 2 * 0.5
    # Ours keeps the imported rules in the database; the original reads them.
    project = other.home / "widgets"
    listed = json.loads(other.original(project, "gauntlet", "list", "--json").stdout)
    assert listed["personas"]["upstream"]["rules_count"] == 2


def _drop_times(value: object) -> object:
    if isinstance(value, dict):
        return {k: _drop_times(v) for k, v in value.items() if k != "timestamp"}
    if isinstance(value, list):
        return [_drop_times(item) for item in value]
    return value


def test_ingest_seeds_equals_the_originals(tools: Tools, tmp_path: Path) -> None:
    """Pending files of every kind, both tools in homes of their own: the same report, the
    same files in processed/ and failed/, the same .error files and signals."""
    other = Tools(tmp_path / "home-ours", tools.original_python)
    other.home.mkdir()
    tools.extra_env["BUILDLOG_LEARNING_BACKEND"] = "builtin"
    results = []
    for run, home in ((tools.original, tools), (other.ours, other)):
        project = _repo(home.home / "widgets", "https://github.com/acme/widgets.git", home.env)
        if home is tools:
            run(project, "init", "--defaults", "--no-mcp", "--no-hooks", "--no-claude-md")
            run(project, "migrate")
        seeds = home.home / ".qortex" / "seeds"
        pending = seeds / "pending"
        pending.mkdir(parents=True)
        (pending / "good.yaml").write_text(_SEED.format(version=1, graph="1"))
        (pending / "broken.yaml").write_text("rules: [1, 2]\n")
        (pending / "bad name!.yaml").write_text(_SEED.format(version=1, graph="1"))
        (pending / "link.yaml").symlink_to(pending / "good.yaml")
        (pending / "notes.txt").write_text("not a seed")
        report = json.loads(run(project, "ingest-seeds", "--json").stdout)
        text = run(project, "ingest-seeds").stdout
        folders = {name: sorted(p.name for p in (seeds / name).iterdir())
                   for name in ("pending", "processed", "failed")}  # fmt: skip
        error = json.loads((seeds / "failed" / "broken.yaml.error").read_text())
        log = home.home / ".qortex" / "signals" / "projections.jsonl"
        signals = [json.loads(line) for line in log.read_text().splitlines()]
        results.append((report, text, folders, _drop_times(error), _drop_times(signals)))
    theirs, ours = results
    assert ours == theirs
    assert ours[0][0]["ingested"] == 1
    assert (
        json.loads(other.ours(other.home / "widgets", "gauntlet", "list", "--json").stdout)[
            "total_rules"
        ]
        == 2
    )


def _lines(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def test_exports_read_both_ways_and_agree_field_by_field(tools: Tools, tmp_path: Path) -> None:
    project = _repo(tmp_path / "widgets", "https://github.com/acme/widgets.git", tools.env)
    _original_writes_legacy_files(tools, project)
    tools.original(project, "migrate")
    _original_writes_the_rest(tools, project)
    theirs = tmp_path / "export-original"
    tools.original(project, "export", "-o", str(theirs))
    ours = tmp_path / "export-ours"
    tools.ours(project, "export", "-o", str(ours))
    keys = {"rewards": "id", "sessions": "id", "mistakes": "id", "learnings": "id",
            "skill_decisions": "skill_id"}  # fmt: skip
    for name, key in keys.items():
        original_rows = _lines(theirs / f"{name}.jsonl")
        assert original_rows, name
        # Field by field, key order aside: every field the original writes, with its value.
        our_rows = {row[key]: row for row in _lines(ours / f"{name}.jsonl")}
        for row in original_rows:
            mine = our_rows[row[key]]
            assert {k: mine.get(k) for k in row} == row, (name, row[key])
    assert {row["reinforcement_count"] for row in _lines(ours / "learnings.jsonl")} == {3}
    # The tables the original does not export: ours carries every row it wrote.
    with sqlite3.connect(tools.database) as conn:
        conn.row_factory = sqlite3.Row
        snapshots = [dict(r) for r in conn.execute("SELECT * FROM posterior_snapshots")]
        credits = [dict(r) for r in conn.execute("SELECT * FROM gauntlet_credits")]
    conn.close()
    assert len(snapshots) == len(credits) == 1
    (snapshot,) = _lines(ours / "posterior_snapshots.jsonl")
    shared = set(snapshot) & set(snapshots[0])
    assert {"rule_id", "alpha", "beta"} <= shared
    assert {k: snapshot[k] for k in shared} == {k: snapshots[0][k] for k in shared}
    (credit,) = _lines(ours / "gauntlet_credits.jsonl")
    assert json.loads(credits[0]["rules"]) == credit["rules"] == ["test_terrorist:tt-1"]
    # rules.jsonl: the original builds it from gauntlet_rules (importing its bundled seeds
    # into the shared database first); ours carries the same rows, marked as from the database.
    original_rules = _lines(theirs / "rules.jsonl")
    assert original_rules
    our_rules = [row for row in _lines(ours / "rules.jsonl") if row["origin"] == "gauntlet_rules"]
    assert [
        {k: mine.get(k) for k in row} for mine, row in zip(our_rules, original_rules, strict=True)
    ] == original_rules
    # The original's export (no checksums) imports into a fresh database with ours.
    fresh = Tools(tmp_path / "home-fresh", tools.original_python)
    fresh.home.mkdir()
    # (From outside the project: in a home with no database, the promoted.json the original
    # keeps beside its database makes the project's own records read-only legacy files.)
    imported = fresh.ours(tmp_path, "import", "--all-projects", str(theirs))
    assert "cannot be verified" in imported.stderr or "no checksums" in imported.stderr
    for table in _COMPARED:
        assert _rows(fresh.database, table) == _rows(tools.database, table), table
    for query in (
        "SELECT * FROM review_learnings ORDER BY id",
        "SELECT project_id, skill_id, decision FROM skill_decisions ORDER BY skill_id",
    ):  # the original's export has no decision times
        rows = []
        for database in (fresh.database, tools.database):
            with sqlite3.connect(database) as conn:
                rows.append(conn.execute(query).fetchall())
            conn.close()
        assert rows[0] == rows[1] != [], query
