"""``buildlog db copy``: the global database onto a PostgreSQL server and back, unchanged."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from click.testing import CliRunner, Result

from buildlog.cli import cli
from buildlog.models import metadata

_COUNTERS = {"posterior_snapshots": "id", "review_history": "rowid", "emission_edges": "id"}


def _run(project: Path, *args: str) -> Result:
    result = CliRunner().invoke(cli, ["--project-root", str(project), *args], prog_name="buildlog")
    assert result.exit_code == 0, (result.output, result.stderr)
    return result


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but the original's version table, without the local row counters."""
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            dumped = {}
            for table in metadata.sorted_tables:
                if table.name == "schema_version":
                    continue
                skip = _COUNTERS.get(table.name)
                columns = [c for c in table.columns if c.name != skip]
                rows = conn.execute(sa.select(*columns)).all()
                dumped[table.name] = sorted((tuple(row) for row in rows), key=repr)
            return dumped
    finally:
        engine.dispose()


def test_every_record_goes_to_postgresql_and_back(
    project: Path, tmp_path: Path, isolated_home: Path, postgres_url: str
) -> None:
    _run(project, "reward", "accepted", "-n", "first")
    _run(project, "experiment", "start", "-e", "typo")
    _run(project, "experiment", "log-mistake", "--error-class", "typo", "-d", "a typo")
    _run(project, "experiment", "end")
    learned = _run(project, "learning", "add", "--rule", "Check input", "--category", "security",
                   "--severity", "major", "--source", "review:1", "--json")  # fmt: skip
    skill = json.loads(learned.stdout)["id"]
    _run(project, "bandit", "update", "general", skill, "--success")
    _run(project, "promote", skill)
    _run(project, "gauntlet", "credit", skill, "--iteration", "2")
    seed = tmp_path / "up.yaml"
    seed.write_text("persona: up\nrules:\n  - rule: Check input\n    category: security\n")
    _run(project, "import-seed", str(seed))
    database = f"sqlite:///{isolated_home / 'buildlog.db'}"
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        project_id = conn.execute(sa.text("SELECT id FROM projects")).scalar()
        for _ in range(2):  # two equal snapshots: both must arrive, once each
            conn.execute(sa.text(
                "INSERT INTO posterior_snapshots (project_id, timestamp, rule_id, alpha, beta, "
                "mean, trigger) VALUES (:p, '2026-03-01', :r, 2, 1, 0.6667, 'reward')"),
                {"p": project_id, "r": skill})  # fmt: skip
        conn.execute(sa.text(
            "INSERT INTO emission_edges (source_id, target_id, relation_type, artifact_type, "
            "project_id, emitted_at, consumed_at) VALUES ('a', 'b', 'r', 't', :p, 'x', 'y')"),
            {"p": project_id})  # fmt: skip
    engine.dispose()
    there = json.loads(_run(project, "db", "copy", "--to", postgres_url, "--json").stdout)
    assert there["added"] == there["rows"]
    assert there["rows"]["posterior_snapshots"] == 2
    back = tmp_path / "back.db"
    returned = CliRunner().invoke(
        cli, ["--db", postgres_url, "--project-root", str(project), "db", "copy", "--to", str(back)]
    )
    assert returned.exit_code == 0, returned.output
    assert "(verified)" in returned.stdout
    original = _dump(database)
    assert original["reward_events"]
    assert _dump(postgres_url) == original
    assert _dump(f"sqlite:///{back}") == original
    again = json.loads(_run(project, "db", "copy", "--to", postgres_url, "--json").stdout)
    assert set(again["added"].values()) == {0}
    itself = CliRunner().invoke(cli, ["db", "copy", "--to", str(isolated_home / "buildlog.db")])
    assert itself.exit_code == 1
    assert "is the database being copied" in itself.stderr


def test_a_killed_copy_is_finished_by_running_it_again(
    project: Path, isolated_home: Path, postgres_url: str
) -> None:
    import os
    import signal
    import subprocess
    import sys

    _run(project, "reward", "accepted")
    database = f"sqlite:///{isolated_home / 'buildlog.db'}"
    engine = sa.create_engine(database)
    with engine.begin() as conn:
        project_id = conn.execute(sa.text("SELECT id FROM projects")).scalar()
        conn.execute(
            sa.text(
                "INSERT INTO reward_events (project_id, id, timestamp, outcome, reward_value, "
                "rules_active, source) VALUES (:p, :i, '2026-03-01T00:00:00+00:00', 'accepted', "
                "1, '[]', 'bulk')"
            ),
            [{"p": project_id, "i": f"rew-{n:010d}"} for n in range(30_000)],
        )
    engine.dispose()
    command = [str(Path(sys.executable).with_name("buildlog")), "--db",
               str(isolated_home / "buildlog.db"), "db", "copy", "--to", postgres_url]  # fmt: skip
    started = subprocess.Popen(
        command,
        cwd=project,
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    assert started.stderr is not None
    seen = b""
    while b"reward_events: " not in seen:  # the first batch of rewards is in
        chunk = os.read(started.stderr.fileno(), 64)
        assert chunk, seen
        seen += chunk
    started.send_signal(signal.SIGKILL)
    started.wait(timeout=60)
    started.stderr.close()
    assert started.returncode == -signal.SIGKILL
    partial = sa.create_engine(postgres_url)
    with partial.connect() as conn:
        copied = conn.execute(sa.text("SELECT count(*) FROM reward_events")).scalar()
    partial.dispose()
    assert 0 < copied < 30_001
    finished = CliRunner().invoke(
        cli, ["--db", str(isolated_home / "buildlog.db"), "db", "copy", "--to", postgres_url]
    )
    assert finished.exit_code == 0, finished.output
    assert _dump(postgres_url) == _dump(database)
