"""Several machines opening one new PostgreSQL database at once create its schema once.

Processes share no lock file there: an advisory lock of the server serialises the first use.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

_DIARY = """
import sys, diary
with diary.open(url=sys.argv[1]) as store:
    project = store.get_or_create_project("team")
    experiment = store.get_or_create_experiment(project.id, "sweep")
    with store.iteration(experiment.id, snapshot=False) as it:
        it.log_metric("loss", 0.5)
"""

_BUILDLOG = """
import subprocess, sys
from buildlog.cli import cli
cli(["--db", sys.argv[1], "reward", "accepted", "-n", "from " + sys.argv[2]], prog_name="buildlog")
"""


def _at_once(code: str, url: str, count: int, cwd: str) -> list[subprocess.CompletedProcess[str]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEARDIARY_", "BUILDLOG_"))}
    started = [
        subprocess.Popen(
            [sys.executable, "-c", code, url, str(n)],
            cwd=cwd,
            env=env,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        for n in range(count)
    ]
    done = []
    for process in started:
        out, err = process.communicate(timeout=240)
        done.append(subprocess.CompletedProcess(process.args, process.returncode, out, err))
    return done


def _scalar(url: str, sql: str) -> object:
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(sa.text(sql)).scalar()
    finally:
        engine.dispose()


def test_diary_schema_is_created_once_by_many_processes(postgres_url: str, tmp_path: Path) -> None:
    runs = _at_once(_DIARY, postgres_url, 4, str(tmp_path))
    assert [(r.returncode, r.stderr) for r in runs] == [(0, "")] * 4
    assert _scalar(
        postgres_url, "SELECT string_agg(version_num, ',') FROM diary_alembic_version"
    ) == ("0005_metric_summary")
    assert _scalar(postgres_url, "SELECT count(*) FROM iteration") == 4


def test_buildlog_schema_is_created_once_by_many_processes(
    postgres_url: str, tmp_path: Path
) -> None:
    runs = _at_once(_BUILDLOG, postgres_url, 4, str(tmp_path))
    assert [r.returncode for r in runs] == [0] * 4, [r.stderr for r in runs]
    versions = "SELECT string_agg(version_num, ',') FROM buildlog_alembic_version"
    assert "," not in str(_scalar(postgres_url, versions))
    assert _scalar(postgres_url, "SELECT count(*) FROM reward_events") == 4


def test_get_or_create_gives_one_project_and_experiment_to_processes_at_once(
    postgres_url: str, tmp_path: Path
) -> None:
    """At read committed two first uses would both find no row and both insert one; the
    names are claimed with an advisory lock, so each round makes one of each."""
    for round_ in range(3):
        start = time.time() + 6  # every process imported and connected: the calls coincide
        code = (
            _DIARY.replace('"team"', f'"team-{round_}"')
            .replace('"sweep"', f'"sweep-{round_}"')
            .replace(
                "    project = ",
                f"    store.list_projects(); import time; time.sleep(max(0, {start} - time.time()))"
                "\n    project = ",
            )
        )
        runs = _at_once(code, postgres_url, 8, str(tmp_path))
        assert [(r.returncode, r.stderr) for r in runs] == [(0, "")] * 8
        projects = f"SELECT count(*) FROM project WHERE name = 'team-{round_}'"
        experiments = f"SELECT count(*) FROM experiment WHERE name = 'sweep-{round_}'"
        assert (_scalar(postgres_url, projects), _scalar(postgres_url, experiments)) == (1, 1)
