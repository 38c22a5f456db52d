"""Revision 0004: each distinct environment snapshot is stored once, and iterations refer to it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa
from alembic import command

import diary
from diary import models as m
from diary.environment import EnvironmentSnapshot
from diary.schema import schema_environment
from storage_core.database import create_duckdb_engine, create_sqlite_engine
from storage_core.schema import upgrade

# Three iterations in one process: one environment row.
_SCRIPT = """
import json, sys
import diary
with diary.open(sys.argv[1]) as store:
    project = store.get_or_create_project("p")
    experiment = store.get_or_create_experiment(project.id, "e")
    ids = []
    for _ in range(3):
        with store.iteration(experiment.id) as it:
            it.log_param("lr", 0.1)
            ids.append(str(it.id))
    print(json.dumps([[str(i), list(store.get_iteration(i).packages)] for i in ids]))
"""


def _environments(path: Path) -> list[tuple[str, str]]:
    engine = create_duckdb_engine(path)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.select(m.environment.c.id, m.environment.c.packages))
            return [(row.id, row.packages) for row in rows]
    finally:
        engine.dispose()


def _run(database: Path, extra_path: str | None = None) -> list[list[object]]:
    env = {**os.environ}
    if extra_path:
        env["PYTHONPATH"] = extra_path
    done = subprocess.run(
        [sys.executable, "-c", _SCRIPT, str(database)],
        capture_output=True, text=True, env=env, check=True, timeout=120,
    )  # fmt: skip
    return list(json.loads(done.stdout))


def test_a_process_stores_its_environment_once_and_a_changed_one_again(tmp_path: Path) -> None:
    database = tmp_path / "diary.db"
    first = _run(database)
    stored = _environments(database)
    assert len(stored) == 1  # three iterations, one snapshot
    # Another process in another environment (one more installed package).
    site = tmp_path / "site"
    info = site / "extra_tool-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: extra-tool\nVersion: 1.2.3\n")
    second = _run(database, str(site))
    stored = _environments(database)
    assert len(stored) == 2
    assert sum("extra-tool==1.2.3" in packages for _, packages in stored) == 1
    # Each iteration reads back the environment it ran in.
    assert all("extra-tool==1.2.3" not in packages for _, packages in first)
    assert all("extra-tool==1.2.3" in packages for _, packages in second)
    # A third process in the first environment adds nothing.
    _run(database)
    assert len(_environments(database)) == 2


def test_iterations_without_a_snapshot_refer_to_no_environment(db_path: Path) -> None:
    with diary.open(db_path) as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        bare = store.create_iteration(experiment.id, snapshot=False)
        given = EnvironmentSnapshot("3.11.0", "abc", True, "train.py", ("a==1", "b==2"))
        chosen = store.create_iteration(experiment.id, snapshot=given)
        again = store.create_iteration(experiment.id, snapshot=given)
        assert store.get_iteration(bare.id).packages == ()
        fetched = store.get_iteration(chosen.id)
        assert (fetched.python_version, fetched.git_sha, fetched.git_dirty) == (
            "3.11.0",
            "abc",
            True,
        )
        assert (fetched.entry_point, fetched.packages) == ("train.py", ("a==1", "b==2"))
        assert store.get_iteration(again.id).packages == ("a==1", "b==2")
        listed = store.list_iterations(experiment.id)
        assert [i.packages for i in listed] == [(), ("a==1", "b==2"), ("a==1", "b==2")]
    with diary.open(db_path) as store, store.reading() as conn:
        rows = conn.execute(
            sa.select(m.iteration.c.environment_id).order_by(m.iteration.c.created_at)
        )
        references = [row[0] for row in rows]
        assert references == [None, given.key, given.key]
        assert conn.execute(sa.select(sa.func.count()).select_from(m.environment)).scalar() == 1


def _engine(tmp_path: Path, dialect: str) -> sa.Engine:
    if dialect == "duckdb":
        return create_duckdb_engine(tmp_path / "old.duckdb")
    return create_sqlite_engine(tmp_path / "old.sqlite")


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_upgrade_moves_snapshots_into_environment_and_downgrade_restores_them(
    tmp_path: Path, dialect: str
) -> None:
    engine = _engine(tmp_path, dialect)
    env = schema_environment()
    upgrade(engine, env, "0003_store_identity")
    project, experiment = uuid4(), uuid4()
    now = datetime.now(UTC)
    snapshots = [
        ("3.11.7", "aaa", False, "train.py --lr 1", "numpy==2.0\npandas==2.2"),
        ("3.11.7", "aaa", False, "train.py --lr 1", "numpy==2.0\npandas==2.2"),
        ("3.11.7", "bbb", None, "train.py", "numpy==2.0"),
        ("", "", None, "", ""),  # created without a snapshot
    ]
    names = ("status", "python_version", "git_sha", "git_dirty", "entry_point", "packages")
    iteration = sa.table(
        "iteration",
        sa.column("id", sa.Uuid()),
        sa.column("experiment_id", sa.Uuid()),
        sa.column("created_at", sa.DateTime()),
        *map(sa.column, names),
    )
    ids = [uuid4() for _ in snapshots]
    with engine.begin() as conn:
        conn.execute(sa.insert(m.project).values(id=project, name="p", created_at=now))
        conn.execute(
            sa.insert(m.experiment).values(
                id=experiment, project_id=project, name="e", created_at=now
            )
        )
        for key, (python, sha, dirty, entry, packages) in zip(ids, snapshots, strict=True):
            conn.execute(
                sa.insert(iteration).values(
                    id=key, experiment_id=experiment, status="succeeded",
                    created_at=now.replace(tzinfo=None), python_version=python, git_sha=sha,
                    git_dirty=dirty, entry_point=entry, packages=packages,
                )
            )  # fmt: skip
    upgrade(engine, env)
    with engine.connect() as conn:
        environments = conn.execute(sa.select(m.environment.c.id)).scalars().all()
        legacy = conn.execute(sa.select(m.iteration.c.packages)).scalars().all()
    assert len(environments) == 2
    assert set(legacy) == {""}  # moved, not copied
    engine.dispose()
    url = f"sqlite:///{tmp_path / 'old.sqlite'}" if dialect == "sqlite" else None
    path = tmp_path / "old.duckdb"
    with diary.open(url=url) if url else diary.open(path) as store:
        for key, (python, sha, dirty, entry, packages) in zip(ids, snapshots, strict=True):
            record = store.get_iteration(key)
            assert (record.python_version, record.git_sha, record.git_dirty) == (python, sha, dirty)
            assert record.entry_point == entry
            assert record.packages == tuple(line for line in packages.split("\n") if line)
        # The migration's key is the library's: a new iteration in a moved environment reuses it.
        snapshot = EnvironmentSnapshot("3.11.7", "aaa", False, "train.py --lr 1",
                                       ("numpy==2.0", "pandas==2.2"))  # fmt: skip
        assert snapshot.key in environments
        store.create_iteration(experiment, snapshot=snapshot)
        with store.reading() as conn:
            count = conn.execute(sa.select(sa.func.count()).select_from(m.environment)).scalar()
        assert count == 2
    engine = _engine(tmp_path, dialect)
    with engine.connect() as conn:
        command.downgrade(env.config(conn), "0003_store_identity")
        conn.commit()
    with engine.connect() as conn:
        back = dict(conn.execute(sa.select(iteration.c.id, iteration.c.packages)).all())
        assert not sa.inspect(conn).has_table("environment")
    assert [back[key] for key in ids] == [s[4] for s in snapshots]
    engine.dispose()
