"""Security of buildlog: secrets never stored or shown, private files, no stray writes,
projects isolated from each other.
"""

from __future__ import annotations

import json
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from buildlog_support import (  # noqa: F401 - isolated_buildlog is an autouse fixture
    current_isolation,
    git_repo,
    isolated_buildlog,
    run_buildlog,
    walk_files,
)
from click.testing import CliRunner

from buildlog.backends.resolve import resolve_backend
from buildlog.cli import cli
from buildlog.project import identify_project

TOKEN = "ghp_S3cr3tT0kenValue1234567890"
PASSWORD = "hunter2-Db-Passw0rd"
REMOTES = [
    f"https://alice:{TOKEN}@github.com/acme/widgets.git",
    f"https://{TOKEN}@github.com/acme/widgets.git",
    f"ssh://git:{TOKEN}@example.com/acme/widgets.git",
]


def _ok(args: list[str], env: dict[str, str], cwd: Path | None = None) -> str:
    completed = run_buildlog(args, env, cwd)
    assert completed.returncode == 0, (args, completed.stderr)
    return completed.stdout + completed.stderr


@pytest.mark.parametrize("remote", REMOTES, ids=["user-token", "token", "ssh-password"])
def test_remote_credentials_never_leave_the_process(tmp_path: Path, remote: str) -> None:
    isolation = current_isolation()
    root = git_repo(tmp_path / "widgets", remote)
    data = root / ".buildlog"
    data.mkdir()
    (data / "reward_events.jsonl").write_text(
        '{"id": "rew-1", "timestamp": "2026-01-01T00:00:00+00:00", "outcome": "accepted", '
        '"reward_value": 1.0}\n'
    )
    env = isolation.env()
    out = tmp_path / "export"
    captured = []
    commands = (
        ["--debug", "migrate"],
        ["--debug", "info"],
        ["info", "--json"],
        ["--debug", "reward", "accepted", "--json"],
        ["experiment", "start", "--error-class", "leak"],
        ["learning", "add", "--rule", "r", "--category", "c", "--severity", "s", "--source", "x"],
        ["experiment", "end"],
        ["projects", "--json"],
        ["rewards"],
        ["--debug", "export", "-o", str(out)],
        ["export", "--all-projects", "-o", str(tmp_path / "all"), "--json"],
        ["--debug", "db", "upgrade"],
    )
    if remote != REMOTES[0]:
        # The other address forms only change what is hashed: a shorter round suffices.
        commands = commands[:4] + commands[9:10]
    for args in commands:
        captured.append(_ok(args, env, cwd=root))
    # A database URL with a password, of a server that is not there: refused in one line,
    # without showing the password.
    refused = run_buildlog(
        ["--db", f"postgresql://bob:{PASSWORD}@127.0.0.1:1/buildlog", "rewards"], env, root
    )
    assert refused.returncode == 1
    assert refused.stderr.startswith("Error: postgresql://bob:***@127.0.0.1:1/buildlog ")
    captured.append(refused.stdout + refused.stderr)
    unparsable = run_buildlog(["rewards"], isolation.env(BUILDLOG_DB=f"nodb://u:{PASSWORD}@h/"))
    assert unparsable.stderr == (
        "Error: invalid BUILDLOG_DB='nodb://u:***@h/': unknown database kind 'nodb'\n"
    )
    captured.append(unparsable.stdout + unparsable.stderr)
    # In the library: the identity and the resolution show nothing either.
    resolution = resolve_backend(root)
    captured.append(repr(resolution) + repr(identify_project(root)))
    resolution.backend.close()

    for text in captured:
        assert TOKEN not in text
        assert PASSWORD not in text
    files = list(walk_files(isolation.buildlog_home, out, tmp_path / "all", data))
    assert any(f.name == "buildlog.db" for f in files)
    for file in files:
        content = file.read_bytes()
        assert TOKEN.encode() not in content, file
        assert TOKEN.encode("utf-16-le") not in content, file
    # The id is the original's, computed from the URL without its credentials.
    assert identify_project(root).source == "git-remote"


@contextmanager
def _umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_home_and_database_are_private_even_with_a_permissive_umask(tmp_path: Path) -> None:
    isolation = current_isolation()
    root = tmp_path / "widgets"
    root.mkdir()
    with _umask(0):
        backend = resolve_backend(root).backend
        try:
            from buildlog.operations import record_reward

            record_reward(backend, "accepted")
            # While the database is open its log and shared-memory files exist.
            with backend.engine.connect() as conn:
                conn.exec_driver_sql("SELECT count(*) FROM reward_events").fetchall()
                companions = [Path(f"{isolation.db}{s}") for s in ("-wal", "-shm", ".lock")]
                present = [p for p in companions if p.exists()]
                assert {p.name for p in present} >= {"buildlog.db-wal", "buildlog.db-shm"}
                for path in present:
                    assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))
        finally:
            backend.close()
    assert _mode(isolation.buildlog_home) == 0o700
    assert _mode(isolation.db) == 0o600
    for path in isolation.buildlog_home.iterdir():
        assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))


def test_backups_of_an_adopted_database_are_private(tmp_path: Path) -> None:
    """Adopting the original tool's database backs it up; the copy holds the same records."""
    isolation = current_isolation()
    isolation.buildlog_home.mkdir(mode=0o700)
    import sqlite3

    from buildlog.schema_v7 import build_original_metadata

    conn = sqlite3.connect(isolation.db)
    conn.close()
    isolation.db.chmod(0o600)
    import sqlalchemy as sa

    engine = sa.create_engine(f"sqlite:///{isolation.db}")
    build_original_metadata().create_all(engine)
    with engine.begin() as sql:
        sql.exec_driver_sql("INSERT INTO schema_version (version) VALUES (7)")
    engine.dispose()
    root = tmp_path / "widgets"
    root.mkdir()
    with _umask(0o022):
        completed = run_buildlog(["--project-root", str(root), "rewards"], isolation.env())
    assert completed.returncode == 0, completed.stderr
    backups = [p for p in isolation.buildlog_home.iterdir() if ".backup-" in p.name]
    assert len(backups) == 1
    for path in isolation.buildlog_home.iterdir():
        assert _mode(path) & 0o077 == 0, (path, oct(_mode(path)))


def _snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mode, p.read_bytes())
        for p in root.rglob("*")
        if p.is_file()
    }


def test_nothing_is_written_outside_the_configured_places(tmp_path: Path) -> None:
    """Only BUILDLOG_HOME, the --output folder and the legacy renames ever change."""
    isolation = current_isolation()
    root = tmp_path / "widgets"
    data = root / ".buildlog"
    data.mkdir(parents=True)
    (data / "reward_events.jsonl").write_text(
        '{"id": "rew-1", "timestamp": "2026-01-01T00:00:00+00:00", "outcome": "accepted", '
        '"reward_value": 1.0}\n'
    )
    (data / "notes.md").write_text("journal\n")
    work = tmp_path / "work"
    work.mkdir()
    (work / "mine.txt").write_text("keep\n")
    env = isolation.env()
    before = _snapshot(tmp_path)
    out = tmp_path / "exports" / "one"
    for args in (
        ["--project-root", str(root), "migrate"],
        ["--project-root", str(root), "reward", "accepted"],
        ["--project-root", str(root), "export", "-o", str(out), "--tables", "rewards"],
        ["--project-root", str(root), "export", "-o", str(out)],
        ["--project-root", str(root), "import", str(out)],
        ["--project-root", str(root), "info"],
        ["--project-root", str(root), "db", "upgrade"],
    ):
        completed = run_buildlog(args, env, cwd=work)
        assert completed.returncode == 0, (args, completed.stderr)
    after = _snapshot(tmp_path)
    changed = {name for name in set(before) | set(after) if before.get(name) != after.get(name)}
    allowed_roots = ("buildlog-home/", "exports/one/")
    renames = {".buildlog/reward_events.jsonl", ".buildlog/reward_events.jsonl.migrated"}
    stray = {
        name
        for name in changed
        if not name.startswith(allowed_roots) and name.removeprefix("widgets/") not in renames
    }
    assert stray == set()
    assert (
        after["widgets/.buildlog/reward_events.jsonl.migrated"][1]
        == (before["widgets/.buildlog/reward_events.jsonl"][1])
    )
    # Export leaves no temporary files behind.
    assert sorted(p.name for p in out.iterdir()) == sorted(
        [
            "manifest.json",
            "rewards.jsonl",
            "sessions.jsonl",
            "mistakes.jsonl",
            "bandit_state.jsonl",
            "learnings.jsonl",
            "skill_decisions.jsonl",
            "posterior_snapshots.jsonl",
            "gauntlet_credits.jsonl",
            "emission_edges.jsonl",
            "gauntlet_rules.jsonl",
        ]
    )


# -- project isolation ----------------------------------------------------------------------

LISTINGS = [
    ["rewards", "--json"],
    ["sessions", "--json"],
    ["mistakes", "--json"],
    ["learnings", "--json"],
    ["decisions", "--json"],
    ["bandit", "show", "--json"],
    ["info", "--json"],
    ["rewards"],
    ["learnings"],
    ["decisions"],
    ["bandit", "show"],
    ["info"],
]


def _cli(root: Path, args: list[str]) -> str:
    """The real command line, in process (faster than a process per command)."""
    result = CliRunner().invoke(cli, ["--project-root", str(root), *args])
    assert result.exit_code == 0, (args, result.stderr)
    return result.stdout + result.stderr


def _populate(root: Path, marker: str) -> None:
    for args in (
        ["bandit", "update", f"ctx-{marker}", f"arm-{marker}", "--success"],
        ["promote", f"arm-{marker}"],  # a skill the project knows (its bandit arm)
        ["experiment", "start", "--error-class", f"class-{marker}"],
        ["reward", "revision", "--notes", f"note-{marker}", "--rule", f"rule-{marker}"],
        [
            "experiment",
            "log-mistake",
            "--error-class",
            f"class-{marker}",
            "--description",
            f"mistake-{marker}",
        ],
        ["experiment", "end", "--notes", f"session-{marker}"],
        [
            "learning",
            "add",
            "--rule",
            f"learning-{marker}",
            "--category",
            "testing",
            "--severity",
            "major",
            "--source",
            f"source-{marker}",
        ],
    ):
        _cli(root, args)


def test_no_command_shows_another_projects_records(tmp_path: Path) -> None:
    alpha = git_repo(tmp_path / "alpha", "https://github.com/acme/alpha.git")
    beta = git_repo(tmp_path / "beta", "https://github.com/acme/beta.git")
    _populate(alpha, "XYLO")
    _populate(beta, "ZORK")
    alpha_id, beta_id = identify_project(alpha).id, identify_project(beta).id
    for args in LISTINGS:
        text = _cli(alpha, args)
        assert "ZORK" not in text, args
        assert beta_id not in text, args
        assert "XYLO" in text or args[0] == "info", args
    shown = json.loads(_cli(alpha, ["rewards", "--json"]))
    assert [r["notes"] for r in shown["events"]] == ["note-XYLO"]
    assert [m["description"] for m in json.loads(_cli(alpha, ["mistakes", "--json"]))] == [
        "mistake-XYLO"
    ]
    info = json.loads(_cli(alpha, ["info", "--json"]))
    assert (info["project_id"], info["counts"]["rewards"], info["counts"]["bandit_arms"]) == (
        alpha_id,
        1,
        3,
    )
    # Export: the current project only, unless --all-projects.
    out = tmp_path / "alpha-export"
    _cli(alpha, ["export", "-o", str(out)])
    manifest = json.loads((out / "manifest.json").read_text())
    assert [p["id"] for p in manifest["projects"]] == [alpha_id]
    for file in out.iterdir():
        content = file.read_text()
        assert "ZORK" not in content, file
        assert beta_id not in content, file
    for table in ("rewards", "sessions"):
        selected = tmp_path / f"alpha-{table}"
        _cli(alpha, ["export", "--tables", table, "-o", str(selected)])
        assert "ZORK" not in (selected / f"{table}.jsonl").read_text()
    # Naming another project exports that project, and only it (the user's own database:
    # nothing mixes projects unasked); an unknown id is an error that writes nothing.
    named = tmp_path / "beta-by-id"
    _cli(alpha, ["export", "--project", beta_id, "-o", str(named)])
    assert [p["id"] for p in json.loads((named / "manifest.json").read_text())["projects"]] == [
        beta_id
    ]
    for file in named.iterdir():
        assert "XYLO" not in file.read_text(), file
        assert alpha_id not in file.read_text(), file
    refused = CliRunner().invoke(
        cli,
        ["--project-root", str(alpha), "export", "--project", "000000000000", "-o",
         str(tmp_path / "x")],
    )  # fmt: skip
    assert (refused.exit_code, refused.stderr) == (
        1,
        "Error: no project '000000000000' (see 'buildlog projects')\n",
    )
    assert not (tmp_path / "x").exists()
    own = tmp_path / "alpha-by-id"
    _cli(alpha, ["export", "--project", alpha_id, "-o", str(own)])
    assert [p["id"] for p in json.loads((own / "manifest.json").read_text())["projects"]] == [
        alpha_id
    ]
    chosen = tmp_path / "beta-export"
    _cli(alpha, ["export", "--project", beta_id, "--all-projects", "-o", str(chosen)])
    assert [p["id"] for p in json.loads((chosen / "manifest.json").read_text())["projects"]] == [
        beta_id
    ]
    assert "XYLO" not in (chosen / "rewards.jsonl").read_text()
    everything = tmp_path / "all-export"
    _cli(alpha, ["export", "--all-projects", "-o", str(everything)])
    lines = (everything / "rewards.jsonl").read_text().splitlines()
    rewards = [json.loads(line) for line in lines]
    assert {r["project_id"] for r in rewards} == {alpha_id, beta_id}
    assert sorted(r["notes"] for r in rewards) == ["note-XYLO", "note-ZORK"]


def test_import_never_writes_into_another_project(tmp_path: Path) -> None:
    """An export is imported into the project it belongs to; another project's records need
    --all-projects, and an edited manifest fails the integrity check."""
    from buildlog.export import manifest_checksum

    alpha = git_repo(tmp_path / "alpha", "https://github.com/acme/alpha.git")
    beta = git_repo(tmp_path / "beta", "https://github.com/acme/beta.git")
    _populate(alpha, "XYLO")
    _populate(beta, "ZORK")
    alpha_id, beta_id = identify_project(alpha).id, identify_project(beta).id
    out = tmp_path / "beta-export"
    _cli(beta, ["export", "-o", str(out)])
    db = current_isolation().db

    def rows() -> dict[str, list[str]]:
        import sqlite3

        with sqlite3.connect(db) as conn:
            found = conn.execute("SELECT project_id, notes FROM reward_events ORDER BY 1, 2")
            grouped: dict[str, list[str]] = {}
            for project_id, notes in found.fetchall():
                grouped.setdefault(project_id, []).append(notes)
            return grouped

    before = rows()
    assert before == {alpha_id: ["note-XYLO"], beta_id: ["note-ZORK"]}
    # 1. Beta's export relabelled as alpha's by hand: the manifest's own checksum fails.
    manifest = json.loads((out / "manifest.json").read_text())
    forged = {**manifest, "project_id": alpha_id}
    (out / "manifest.json").write_text(json.dumps(forged, indent=2))
    tampered = CliRunner().invoke(cli, ["--project-root", str(beta), "import", str(out)])
    assert tampered.exit_code == 1
    assert tampered.stderr.startswith(f"Error: sha256 mismatch for {out / 'manifest.json'}: ")
    # 2. A consistent forgery (checksum redone) still cannot write into alpha from beta
    #    without --all-projects, the flag that exporting another project's records needs.
    forged["manifest_sha256"] = manifest_checksum(forged)
    (out / "manifest.json").write_text(json.dumps(forged, indent=2))
    refused = CliRunner().invoke(cli, ["--project-root", str(beta), "import", str(out)])
    assert (refused.exit_code, refused.stderr) == (
        1,
        f"Error: project {alpha_id} is not this project ({beta_id}); add --all-projects to "
        "import another project's records\n",
    )
    assert rows() == before
    # 3. As exported, it goes back into its own project (idempotent); with --all-projects it
    #    can be restored from anywhere, and its rows keep their project.
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    assert "already present" in _cli(beta, ["import", str(out)])
    refused = CliRunner().invoke(cli, ["--project-root", str(alpha), "import", str(out)])
    assert refused.exit_code == 1
    assert "already present" in _cli(alpha, ["import", "--all-projects", str(out)])
    assert rows() == before


@pytest.mark.parametrize("link", ["folder", "file"])
def test_legacy_files_outside_the_project_are_never_read_or_renamed(
    tmp_path: Path, link: str
) -> None:
    alpha = git_repo(tmp_path / "alpha", "https://github.com/acme/alpha.git")
    beta = git_repo(tmp_path / "beta", "https://github.com/acme/beta.git")
    (alpha / ".buildlog").mkdir()
    (alpha / ".buildlog" / "reward_events.jsonl").write_text(
        '{"id": "rew-alpha", "timestamp": "2026-01-01T00:00:00+00:00", "outcome": "accepted", '
        '"reward_value": 1.0, "notes": "ALPHA-ONLY"}\n'
    )
    if link == "folder":
        (beta / ".buildlog").symlink_to(alpha / ".buildlog")
        shown = beta / ".buildlog"
    else:
        (beta / ".buildlog").mkdir()
        shown = beta / ".buildlog" / "reward_events.jsonl"
        shown.symlink_to(alpha / ".buildlog" / "reward_events.jsonl")
    before = {p.name: p.read_bytes() for p in (alpha / ".buildlog").iterdir()}
    message = (
        f"{shown} leads outside the project ({beta.resolve()}) to "
        f"{(alpha / '.buildlog' / ('' if link == 'folder' else 'reward_events.jsonl')).resolve()}"
    ).rstrip("/")
    for args in (["migrate"], ["migrate", "--buildlog-dir", str(beta)]):
        refused = CliRunner().invoke(cli, ["--project-root", str(beta), *args])
        assert refused.exit_code == 1, args
        assert refused.stderr.startswith(f"Error: {message}; buildlog neither reads"), args
    # Other commands go on without those files, and say why.
    listed = CliRunner().invoke(cli, ["--project-root", str(beta), "rewards", "--json"])
    assert (listed.exit_code, json.loads(listed.stdout)["events"]) == (0, [])
    assert f"buildlog: ignored legacy files: {message}" in listed.stderr
    assert "ALPHA-ONLY" not in listed.stdout
    assert {p.name: p.read_bytes() for p in (alpha / ".buildlog").iterdir()} == before
