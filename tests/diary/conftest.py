"""Fixtures for the diary tests: an isolated environment and real stores on DuckDB and SQLite."""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from uuid import UUID, uuid4

import pytest
import sqlalchemy as sa

import diary
from diary.store import Store


@pytest.fixture(autouse=True)
def _isolated_diary_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No DEARDIARY_* variable leaks in, and nothing writes ./deardiary.db in the repository."""
    for name in list(os.environ):
        if name.startswith("DEARDIARY_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """A fresh DuckDB file path."""
    return tmp_path / "diary.db"


@pytest.fixture
def store(db_path: Path) -> Iterator[Store]:
    """A buffered store on a new DuckDB file."""
    with diary.open(db_path) as opened:
        yield opened


@pytest.fixture(params=["duckdb", "sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store on a new DuckDB file, a new SQLite file and a new database of a real
    PostgreSQL server: the portable paths."""
    if request.param == "duckdb":
        opened = diary.open(tmp_path / "diary.db")
    elif request.param == "sqlite":
        opened = diary.open(url=f"sqlite:///{tmp_path / 'diary.sqlite'}")
    else:
        opened = diary.open(url=request.getfixturevalue("postgres_url"))
    with opened:
        yield opened


ResourceFactory = Callable[..., UUID]


@pytest.fixture
def insert_resource() -> ResourceFactory:
    """Insert an inline artifact row directly (the artifact API belongs to the next issue)."""
    return _insert_resource


def _insert_resource(
    store: Store, experiment_id: UUID, iteration_id: UUID | None = None, name: str = "model.bin"
) -> UUID:
    from diary import models as m

    resource_id = uuid4()
    with store.transaction() as conn:
        conn.execute(
            sa.insert(m.resource).values(
                id=resource_id,
                experiment_id=experiment_id,
                iteration_id=iteration_id,
                name=name,
                data=b"weights",
                size_bytes=7,
                created_at=datetime.now(UTC),
            )
        )
    return resource_id


# -- artifacts ------------------------------------------------------------------------------


StoreFactory = Callable[..., Store]


@pytest.fixture
def make_store(tmp_path: Path) -> Iterator[StoreFactory]:
    """``make_store(backend="inline", **settings)``: stores on one DuckDB file, configured
    explicitly (the filesystem root is ``tmp_path/artifacts``). Every store is closed."""
    from diary.config import load_settings

    opened: list[Store] = []

    def make(
        backend: str = "inline", db: Path | None = None, url: str | None = None, **environ: str
    ) -> Store:
        env = {
            "DEARDIARY_ARTIFACT_BACKEND": backend,
            "DEARDIARY_ARTIFACT_FS_ROOT": str(tmp_path / "artifacts"),
            **environ,
        }
        if url is not None:  # a server database; artifact settings as given
            settings = load_settings(environ=env, db_url=url)
        else:
            settings = load_settings(environ=env, db_file=db or tmp_path / "diary.db")
        store = Store(settings, buffered=False)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=["duckdb", "postgresql"])
def catalog(request: pytest.FixtureRequest) -> str | None:
    """Where artifact rows live in the S3 suites: ``None`` (the DuckDB file of
    ``make_store``) or the URL of a new database on a real PostgreSQL server."""
    if request.param == "duckdb":
        return None
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def s3_settings(s3_bucket: str, moto_server: str) -> dict[str, str]:
    """DEARDIARY_ARTIFACT_S3_* settings for the moto server's fresh bucket."""
    from storage_core.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY

    return {
        "DEARDIARY_ARTIFACT_S3_BUCKET": s3_bucket,
        "DEARDIARY_ARTIFACT_S3_ENDPOINT": moto_server,
        "DEARDIARY_ARTIFACT_S3_ACCESS_KEY": TEST_ACCESS_KEY,
        "DEARDIARY_ARTIFACT_S3_SECRET_KEY": TEST_SECRET_KEY,
        "DEARDIARY_ARTIFACT_S3_RETRIES": "2",
        "DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT": "2",
    }


@pytest.fixture
def experiment_of(tmp_path: Path) -> Callable[[Store], tuple[UUID, UUID]]:
    """``experiment_of(store)``: a new project's experiment and a running iteration of it."""

    made = itertools.count()

    def make(store: Store) -> tuple[UUID, UUID]:
        project = store.create_project(f"p{next(made)}")  # names of new projects are unique
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False)
        return experiment.id, iteration.id

    return make
