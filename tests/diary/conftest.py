"""Fixtures for the diary tests: an isolated environment and real stores on DuckDB and SQLite."""

from __future__ import annotations

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


@pytest.fixture(params=["duckdb", "sqlite"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    """A store on a new DuckDB file and on a new SQLite file: the portable paths."""
    if request.param == "duckdb":
        opened = diary.open(tmp_path / "diary.db")
    else:
        opened = diary.open(url=f"sqlite:///{tmp_path / 'diary.sqlite'}")
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
