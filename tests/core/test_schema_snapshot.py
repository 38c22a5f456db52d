"""storage_core.schema.snapshot: new databases created from a dump of what the migrations build."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from storage_core.database import create_duckdb_engine, create_sqlite_engine
from storage_core.errors import ConfigError
from storage_core.schema import SchemaEnvironment, ensure_schema, upgrade
from storage_core.schema.snapshot import (
    SchemaSnapshot,
    build_snapshot,
    dump_schema,
    read_snapshot,
    snapshot_path,
    write_snapshots,
)

HEAD = "cccc00000003"
SCRIPTS = str(Path(__file__).resolve().parent / "schema_fixture")
ENGINES: dict[str, Callable[[Path], Engine]] = {
    "duckdb": lambda p: create_duckdb_engine(p / "db.duckdb"),
    "sqlite": lambda p: create_sqlite_engine(p / "db.sqlite"),
}


def fixture_env(snapshots: Path | None, head: str | None = HEAD) -> SchemaEnvironment:
    return SchemaEnvironment(
        "fixture",
        SCRIPTS,
        "fixture_alembic_version",
        head=head,
        snapshots=None if snapshots is None else str(snapshots),
    )


@pytest.fixture(params=sorted(ENGINES))
def dialect(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def new_engine(dialect: str, where: Path) -> Engine:
    where.mkdir(parents=True, exist_ok=True)
    return ENGINES[dialect](where)


def schema_of(engine: Engine) -> tuple[str, ...]:
    with engine.connect() as conn:
        return dump_schema(conn)


def table_names(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        return set(sa.inspect(conn).get_table_names())


def write_marked_snapshot(env: SchemaEnvironment, dialect: str, revision: str) -> None:
    """The real snapshot plus one table the migrations never create, to see which path ran."""
    built = build_snapshot(env, dialect)
    marked = dataclasses.replace(
        built,
        revision=revision,
        statements=(*built.statements, "CREATE TABLE made_by_snapshot (id INTEGER)"),
    )
    ship(env, marked)


def ship(env: SchemaEnvironment, snapshot: SchemaSnapshot) -> None:
    """Put ``snapshot`` where ``env`` keeps its snapshots."""
    path = snapshot_path(env, snapshot.dialect)
    assert path is not None
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snapshot.render(env.name), encoding="utf-8")


def test_a_snapshot_recreates_exactly_what_the_migrations_build(
    dialect: str, tmp_path: Path
) -> None:
    env = fixture_env(tmp_path / "snapshots")
    migrated = new_engine(dialect, tmp_path / "migrated")
    upgrade(migrated, env, HEAD)
    (written,) = write_snapshots(env, [dialect])
    assert written == tmp_path / "snapshots" / f"{dialect}.sql"

    created = new_engine(dialect, tmp_path / "created")
    status = ensure_schema(created, env)

    assert (status.action, status.current) == ("created", HEAD)
    assert schema_of(created) == schema_of(migrated)
    with created.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM fixture_alembic_version").all() == [
            (HEAD,)
        ]
    # The created database is a normal one: at head, nothing left to do.
    assert ensure_schema(created, env).action == "none"


def test_ensure_schema_uses_the_snapshot_of_the_head(dialect: str, tmp_path: Path) -> None:
    env = fixture_env(tmp_path / "snapshots")
    write_marked_snapshot(env, dialect, HEAD)
    engine = new_engine(dialect, tmp_path / "db")

    ensure_schema(engine, env)

    assert "made_by_snapshot" in table_names(engine)


def test_a_snapshot_behind_the_head_is_not_used(dialect: str, tmp_path: Path) -> None:
    env = fixture_env(tmp_path / "snapshots")
    write_marked_snapshot(env, dialect, "bbbb00000002")
    engine = new_engine(dialect, tmp_path / "db")

    status = ensure_schema(engine, env)

    assert (status.action, status.current) == ("created", HEAD)
    assert "made_by_snapshot" not in table_names(engine)
    assert "project" in table_names(engine)


def test_without_a_snapshot_the_migrations_run(dialect: str, tmp_path: Path) -> None:
    env = fixture_env(tmp_path / "no-such-dir")
    engine = new_engine(dialect, tmp_path / "db")

    assert ensure_schema(engine, env).current == HEAD
    assert {"project", "note", "fixture_alembic_version"} <= table_names(engine)


def test_a_failing_snapshot_leaves_the_database_empty(dialect: str, tmp_path: Path) -> None:
    env = fixture_env(tmp_path / "snapshots")
    built = build_snapshot(env, dialect)
    broken = dataclasses.replace(
        built, statements=(*built.statements[:2], "CREATE TABLE broken (", *built.statements[2:])
    )
    ship(env, broken)
    engine = new_engine(dialect, tmp_path / "db")

    with pytest.raises(sa.exc.DBAPIError):
        ensure_schema(engine, env)

    assert table_names(engine) == set()
    # Repaired, the same database is created normally.
    write_snapshots(env, [dialect])
    assert ensure_schema(engine, env).current == HEAD


def test_a_declared_head_that_differs_from_the_scripts_is_refused(tmp_path: Path) -> None:
    env = fixture_env(None, head="bbbb00000002")
    engine = new_engine("sqlite", tmp_path)

    with pytest.raises(ConfigError, match="declared head"):
        ensure_schema(engine, env)
    assert table_names(engine) == set()


def test_duckdb_dump_creates_referenced_tables_first(tmp_path: Path) -> None:
    engine = create_duckdb_engine(tmp_path / "fk.duckdb")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE z_parent (id INTEGER PRIMARY KEY)")
        conn.exec_driver_sql(
            "CREATE TABLE a_child (id INTEGER, parent INTEGER REFERENCES z_parent (id))"
        )
        conn.exec_driver_sql("CREATE SEQUENCE s_ids START 5")
        conn.exec_driver_sql("CREATE VIEW v_children AS SELECT id FROM a_child")
        conn.exec_driver_sql("CREATE INDEX ix_child_parent ON a_child (parent)")

    statements = schema_of(engine)

    kinds = [" ".join(s.split()[:2]) for s in statements]
    assert kinds == [
        "CREATE SEQUENCE",
        "CREATE TABLE",
        "CREATE TABLE",
        "CREATE VIEW",
        "CREATE INDEX",
    ]
    assert statements[1].startswith("CREATE TABLE z_parent")
    copy = create_duckdb_engine(tmp_path / "copy.duckdb")
    with copy.begin() as conn:
        for statement in statements:
            conn.exec_driver_sql(statement)
    assert schema_of(copy) == statements


def test_snapshots_refuse_migrations_that_seed_rows(tmp_path: Path) -> None:
    from buildlog.db import schema_environment

    # buildlog's migrations fill the original tool's schema_version table.
    with pytest.raises(ConfigError, match=r"schema_version.*schema only"):
        build_snapshot(schema_environment(), "sqlite")


def test_an_unknown_dialect_is_refused() -> None:
    with pytest.raises(ConfigError, match="one of duckdb, sqlite"):
        build_snapshot(fixture_env(None), "postgresql")


def test_an_environment_without_snapshots_has_none(tmp_path: Path) -> None:
    env = fixture_env(None)
    assert snapshot_path(env, "duckdb") is None
    assert read_snapshot(env, "duckdb") is None
    with pytest.raises(ConfigError, match="snapshot directory"):
        write_snapshots(env, ["duckdb"])


statement_text = st.text(
    alphabet=st.characters(blacklist_categories=["Cs"]), min_size=1, max_size=40
).filter(lambda s: s.strip() == s and not s.startswith("--") and ";\n\n" not in s + "\n")


@given(
    revision=st.from_regex(r"[0-9a-z_]{1,20}", fullmatch=True),
    statements=st.lists(statement_text, min_size=1, max_size=5),
)
def test_render_and_parse_round_trip(revision: str, statements: list[str]) -> None:
    snapshot = SchemaSnapshot("sqlite", revision, tuple(statements))
    assert SchemaSnapshot.parse(snapshot.render("env"), "sqlite", "test") == snapshot


def test_a_snapshot_with_crlf_line_ends_reads_the_same(dialect: str, tmp_path: Path) -> None:
    """A checkout or an archive may turn the line ends into CRLF; the separator must survive."""
    env = fixture_env(tmp_path / "snapshots")
    (written,) = write_snapshots(env, [dialect])
    expected = read_snapshot(env, dialect)
    written.write_bytes(written.read_bytes().replace(b"\n", b"\r\n"))

    assert read_snapshot(env, dialect) == expected
    engine = new_engine(dialect, tmp_path / "db")
    assert ensure_schema(engine, env).current == HEAD
    assert expected is not None
    assert schema_of(engine) == expected.statements


def test_a_statement_holding_the_separator_cannot_be_written() -> None:
    snapshot = SchemaSnapshot("sqlite", "r1", ("CREATE TABLE t (a TEXT DEFAULT ';\n\n')",))
    with pytest.raises(ConfigError, match="empty line"):
        snapshot.render("env")


@pytest.mark.parametrize(
    "text", ["", "-- just a comment\n", "-- revision: r1\n\n", "CREATE TABLE t (a INT);\n\n"]
)
def test_a_file_that_is_not_a_snapshot_is_refused(tmp_path: Path, text: str) -> None:
    env = fixture_env(tmp_path)
    (tmp_path / "sqlite.sql").write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match="no revision line or no statements"):
        read_snapshot(env, "sqlite")
