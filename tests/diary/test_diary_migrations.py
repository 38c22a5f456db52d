"""Migrations: empty to head on DuckDB and SQLite, and the models match what they create.

SQLAlchemy's reflection does not work on DuckDB, so the DuckDB comparison reads DuckDB's own
catalog (``duckdb_columns()``, ``duckdb_constraints()``, ``duckdb_indexes()``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import pytest
import sqlalchemy as sa

from diary.config import load_settings
from diary.models import TABLE_NAMES, metadata
from diary.schema import (
    HEAD_REVISION,
    VERSION_TABLE,
    create_engine,
    schema_environment,
)
from storage_core.database import create_duckdb_engine, create_sqlite_engine
from storage_core.schema import current_revision, head_revision, upgrade

EXPECTED_TABLES = {
    "environment",
    "project",
    "experiment",
    "iteration",
    "parameter",
    "metric",
    "metric_summary",
    "resource",
    "resource_blob",
    "store_identity",
    "project_tag",
    "experiment_tag",
    "iteration_tag",
    "model",
    "model_version",
}


def duckdb_catalog(path: Path) -> dict[str, Any]:
    """Everything DuckDB knows about the user tables of a file, in a comparable form."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        columns = con.execute(
            "SELECT table_name, column_name, data_type, is_nullable, column_default "
            "FROM duckdb_columns() WHERE NOT internal AND table_name <> ? "
            "ORDER BY table_name, column_index",
            [VERSION_TABLE],
        ).fetchall()
        constraints = con.execute(
            "SELECT table_name, constraint_type, constraint_column_names, expression "
            "FROM duckdb_constraints() WHERE table_name <> ? "
            "ORDER BY ALL",
            [VERSION_TABLE],
        ).fetchall()
        indexes = con.execute("SELECT table_name, index_name, sql FROM duckdb_indexes()").fetchall()
        tables = {
            row[0]
            for row in con.execute(
                "SELECT table_name FROM duckdb_tables() WHERE NOT internal"
            ).fetchall()
        }
    finally:
        con.close()
    return {
        "tables": tables - {VERSION_TABLE},
        "columns": columns,
        "constraints": constraints,
        "indexes": indexes,
    }


def test_models_define_the_expected_tables() -> None:
    assert set(TABLE_NAMES) == EXPECTED_TABLES


def test_migrations_match_models_on_duckdb(tmp_path: Path) -> None:
    migrated = tmp_path / "migrated.db"
    settings = load_settings(db_file=migrated)
    engine = create_engine(settings)
    # The migrations themselves: prepare_database would create a new file from the snapshot.
    upgrade(engine, schema_environment(), "head")
    engine.dispose()

    created = tmp_path / "created.db"
    engine = create_duckdb_engine(created)
    metadata.create_all(engine)
    engine.dispose()

    from_migrations = duckdb_catalog(migrated)
    from_models = duckdb_catalog(created)
    assert from_migrations["tables"] == EXPECTED_TABLES
    assert from_migrations == from_models
    # The design decisions the comparison rests on: no foreign keys and no metric index on
    # DuckDB, a lean metric table without a primary key.
    assert not [c for c in from_models["constraints"] if c[1] == "FOREIGN KEY"]
    assert from_models["indexes"] == []
    assert [c for c in from_models["constraints"] if c[0] == "metric"] == [
        ("metric", "NOT NULL", [column], None)
        for column in sorted(["iteration_id", "key", "step", "value", "timestamp"])
    ]


def sqlite_schema(engine: sa.Engine) -> dict[str, Any]:
    """SQLite reflection works, so compare what SQLAlchemy's inspector sees."""
    inspector = sa.inspect(engine)
    result: dict[str, Any] = {}
    for table in sorted(set(inspector.get_table_names()) - {VERSION_TABLE}):
        result[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"], c["default"])
                for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (fk["name"], tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "unique": sorted(
                (u["name"], tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "indexes": sorted(
                (i["name"], tuple(str(c) for c in i["column_names"]))
                for i in inspector.get_indexes(table)
            ),
            "checks": sorted(
                (c["name"], c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    return result


def test_migrations_match_models_on_sqlite(tmp_path: Path) -> None:
    settings = load_settings(db_url=f"sqlite:///{tmp_path / 'migrated.sqlite'}")
    migrated = create_engine(settings)
    upgrade(migrated, schema_environment(), "head")
    created = create_sqlite_engine(tmp_path / "created.sqlite")
    metadata.create_all(created)
    from_migrations, from_models = sqlite_schema(migrated), sqlite_schema(created)
    assert set(from_migrations) == EXPECTED_TABLES
    assert from_migrations == from_models
    # SQLite keeps the foreign keys and the metric index that DuckDB goes without.
    assert ("fk_iteration_parent_id_iteration", ("parent_id",), "iteration") in from_models[
        "iteration"
    ]["fks"]
    assert from_models["metric"]["indexes"] == [
        ("ix_metric_iteration_key_step", ("iteration_id", "key", "step"))
    ]
    migrated.dispose()
    created.dispose()


@pytest.mark.parametrize("dialect", ["duckdb", "sqlite", "postgresql"])
def test_empty_to_head_and_down_to_base(
    tmp_path: Path, request: pytest.FixtureRequest, dialect: str
) -> None:
    from alembic import command

    if dialect == "duckdb":
        engine = create_duckdb_engine(tmp_path / "d.db")
    elif dialect == "sqlite":
        engine = create_sqlite_engine(tmp_path / "d.sqlite")
    else:
        engine = sa.create_engine(request.getfixturevalue("postgres_url"))
    env = schema_environment()
    assert current_revision(engine, env) is None
    upgrade(engine, env)
    assert current_revision(engine, env) == head_revision(env) == "0005_metric_summary"
    with engine.connect() as conn:
        command.downgrade(env.config(conn), "base")
        conn.commit()
    with engine.connect() as conn:
        names = set(sa.inspect(conn).get_table_names())
    assert names <= {VERSION_TABLE}
    upgrade(engine, env)
    assert current_revision(engine, env) == "0005_metric_summary"
    engine.dispose()


def test_head_constant_matches_the_scripts() -> None:
    assert head_revision(schema_environment()) == HEAD_REVISION


def test_env_py_reads_the_database_from_deardiary_variables(tmp_path: Path) -> None:
    """What `alembic -n diary upgrade head` does from the shell, with a minimal ini file."""
    import os
    import subprocess
    import sys

    ini = tmp_path / "alembic.ini"
    ini.write_text("[diary]\nscript_location = diary:migrations\npath_separator = os\n")
    database = tmp_path / "shell.db"
    env = {**os.environ, "DEARDIARY_DB_FILE": str(database)}
    command = [sys.executable, "-m", "alembic", "-c", str(ini), "-n", "diary"]
    subprocess.run([*command, "upgrade", "head"], env=env, check=True, timeout=120)
    current = subprocess.run(
        [*command, "current"], env=env, check=True, timeout=120, capture_output=True, text=True
    )
    assert "0005_metric_summary (head)" in current.stdout
    engine = create_duckdb_engine(database)
    assert current_revision(engine, schema_environment()) == "0005_metric_summary"
    engine.dispose()
    # -x url=... overrides the DEARDIARY_* variables.
    other = tmp_path / "other.sqlite"
    subprocess.run(
        [*command, "-x", f"url=sqlite:///{other}", "upgrade", "head"],
        env=env,
        check=True,
        timeout=120,
    )
    sqlite_engine = create_sqlite_engine(other)
    assert current_revision(sqlite_engine, schema_environment()) == "0005_metric_summary"
    sqlite_engine.dispose()
