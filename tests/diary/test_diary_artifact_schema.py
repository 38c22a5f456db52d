"""Revision 0002: inline bytes move from ``resource.data`` to ``resource_blob``, and DuckDB's
checkpoint threshold is raised for diary engines (see docs/performance.md)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
import sqlalchemy as sa

import diary
from diary import models as m
from diary.artifacts.table import CHECKPOINT_THRESHOLD
from diary.schema import schema_environment
from storage_core.database import create_duckdb_engine, create_sqlite_engine
from storage_core.schema import upgrade


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite"])
def test_upgrade_moves_inline_bytes_into_resource_blob(tmp_path: Path, dialect: str) -> None:
    if dialect == "duckdb":
        path = tmp_path / "old.duckdb"
        engine = create_duckdb_engine(path)
        url = None
    else:
        path = tmp_path / "old.sqlite"
        engine = create_sqlite_engine(path)
        url = f"sqlite:///{path}"
    env = schema_environment()
    upgrade(engine, env, "0001_initial")
    project, experiment, resource = uuid4(), uuid4(), uuid4()
    now = datetime.now(UTC)
    payload = b"weights from before revision 0002"
    with engine.begin() as conn:
        conn.execute(sa.insert(m.project).values(id=project, name="p", created_at=now))
        conn.execute(
            sa.insert(m.experiment).values(
                id=experiment, project_id=project, name="e", created_at=now
            )
        )
        conn.execute(
            sa.insert(m.resource).values(
                id=resource, experiment_id=experiment, name="old.bin", data=payload,
                backend="sqlite", size_bytes=len(payload),
                content_hash=hashlib.sha256(payload).hexdigest(), created_at=datetime.now(UTC),
            )
        )  # fmt: skip
    engine.dispose()
    store = diary.open(url=url) if url else diary.open(path)
    try:
        assert store.read_resource_data(resource) == payload
        with store.reading() as conn:
            legacy = conn.execute(sa.select(m.resource.c.data)).scalars().all()
        assert legacy == [None]
    finally:
        store.close()


def test_diary_engines_raise_the_checkpoint_threshold(db_path: Path) -> None:
    with diary.open(db_path) as store, store.reading() as conn:
        value = conn.exec_driver_sql("SELECT current_setting('checkpoint_threshold')").scalar()
    assert value == CHECKPOINT_THRESHOLD.replace("MiB", ".0 MiB")


def test_external_artifacts_are_committed_on_sqlite(tmp_path: Path) -> None:
    """The SQLAlchemy path (not DuckDB) records filesystem artifacts in a committed transaction."""
    import dataclasses

    from diary.config import load_settings

    settings = load_settings(db_url=f"sqlite:///{tmp_path / 'd.sqlite'}")
    settings = dataclasses.replace(
        settings, artifact_backend="filesystem", artifact_fs_root=tmp_path / "root"
    )
    with diary.Store(settings) as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False)
        record = store.log_artifact(iteration.id, b"on disk", name="a.bin")
    with diary.Store(settings) as store:
        assert store.get_resource(record.id).backend == "filesystem"
        assert store.read_resource_data(record.id) == b"on disk"
