"""Settings: DEARDIARY_* variables, the .env file, precedence and validation."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from diary.config import Settings, load_settings
from storage_core.errors import ConfigError


def test_defaults_put_the_database_in_the_working_directory(tmp_path: Path) -> None:
    settings = load_settings(environ={})
    assert settings.db_file == tmp_path.resolve() / "deardiary.db"
    assert settings.db_url is None
    assert settings.url == f"duckdb:///{tmp_path.resolve()}/deardiary.db"
    assert settings.lock_timeout == 30.0
    assert settings.auto_upgrade is True
    assert settings.artifact_backend == "inline"
    assert settings.artifact_fs_root == tmp_path.resolve() / "deardiary_artifacts"
    assert settings.is_duckdb


def test_environment_values_are_parsed(tmp_path: Path) -> None:
    settings = load_settings(
        environ={
            "DEARDIARY_DB_FILE": "runs/exp.db",
            "DEARDIARY_LOCK_TIMEOUT": "2.5",
            "DEARDIARY_FLUSH_INTERVAL": "0.2",
            "DEARDIARY_FLUSH_SIZE": "10",
            "DEARDIARY_AUTO_UPGRADE": "off",
            "DEARDIARY_ARTIFACT_BACKEND": "S3",
            "DEARDIARY_ARTIFACT_S3_BUCKET": "bucket",
            "DEARDIARY_ARTIFACT_S3_ACCESS_KEY": "AKIDHIDDEN",
            "DEARDIARY_ARTIFACT_S3_SECRET_KEY": "hidden",
            "OTHER_VARIABLE": "ignored",
        }
    )
    assert settings.db_file == tmp_path.resolve() / "runs" / "exp.db"
    assert settings.lock_timeout == 2.5
    assert settings.flush_interval == 0.2
    assert settings.flush_size == 10
    assert settings.auto_upgrade is False
    assert settings.artifact_backend == "s3"
    assert settings.artifact_s3_bucket == "bucket"
    assert "hidden" not in repr(settings)
    assert "AKIDHIDDEN" not in repr(settings)


def test_url_wins_over_file_and_is_not_duckdb() -> None:
    settings = load_settings(
        environ={"DEARDIARY_DB_FILE": "a.db", "DEARDIARY_DB_URL": "sqlite:///b.sqlite"}
    )
    assert settings.url == "sqlite:///b.sqlite"
    assert not settings.is_duckdb


def test_env_file_is_read_and_the_environment_wins(tmp_path: Path) -> None:
    env_file = tmp_path / "settings.env"
    env_file.write_text(
        "# comment\nDEARDIARY_DB_FILE=from-file.db\nDEARDIARY_LOCK_TIMEOUT=7\n"
        "export DEARDIARY_FLUSH_SIZE='99'\n"
    )
    settings = load_settings(env_file=env_file, environ={"DEARDIARY_LOCK_TIMEOUT": "3"})
    assert settings.db_file == tmp_path.resolve() / "from-file.db"
    assert settings.lock_timeout == 3.0
    assert settings.flush_size == 99


def test_explicit_path_beats_environment_url(tmp_path: Path) -> None:
    settings = load_settings(
        environ={"DEARDIARY_DB_URL": "sqlite:///b.sqlite"}, db_file=tmp_path / "x.db"
    )
    assert settings.db_url is None
    assert settings.db_file == tmp_path / "x.db"


def test_empty_values_mean_unset() -> None:
    settings = load_settings(environ={"DEARDIARY_DB_URL": "", "DEARDIARY_LOCK_TIMEOUT": ""})
    assert settings.db_url is None
    assert settings.lock_timeout == 30.0


def test_sqlite_backend_name_is_an_alias_of_inline() -> None:
    with pytest.warns(FutureWarning) as caught:
        settings = load_settings(environ={"DEARDIARY_ARTIFACT_BACKEND": "sqlite"})
    assert settings.artifact_backend == "inline"
    assert [str(w.message) for w in caught] == [
        "DEARDIARY_ARTIFACT_BACKEND=sqlite is deprecated (DearDiary.jl's old name); "
        "use DEARDIARY_ARTIFACT_BACKEND=inline"
    ]


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        (
            "DEARDIARY_LOCK_TIMEOUT",
            "soon",
            "invalid DEARDIARY_LOCK_TIMEOUT='soon': expected a number of seconds",
        ),
        (
            "DEARDIARY_LOCK_TIMEOUT",
            "-1",
            "invalid DEARDIARY_LOCK_TIMEOUT='-1': expected a finite number >= 0",
        ),
        (
            "DEARDIARY_LOCK_TIMEOUT",
            "inf",
            "invalid DEARDIARY_LOCK_TIMEOUT='inf': expected a finite number >= 0",
        ),
        (
            "DEARDIARY_FLUSH_INTERVAL",
            "0",
            "invalid DEARDIARY_FLUSH_INTERVAL='0': expected a finite number > 0",
        ),
        (
            "DEARDIARY_FLUSH_SIZE",
            "1.5",
            "invalid DEARDIARY_FLUSH_SIZE='1.5': expected a whole number",
        ),
        (
            "DEARDIARY_FLUSH_SIZE",
            "0",
            "invalid DEARDIARY_FLUSH_SIZE='0': expected a whole number >= 1",
        ),
        (
            "DEARDIARY_AUTO_UPGRADE",
            "maybe",
            "invalid DEARDIARY_AUTO_UPGRADE='maybe': expected true or false",
        ),
        (
            "DEARDIARY_ARTIFACT_BACKEND",
            "ftp",
            "invalid DEARDIARY_ARTIFACT_BACKEND='ftp': expected one of inline, filesystem, s3",
        ),
        (
            "DEARDIARY_DB_URL",
            "deardiary.db",
            "invalid DEARDIARY_DB_URL='deardiary.db': "
            "expected an SQLAlchemy URL such as sqlite:///path.db",
        ),
        (
            "DEARDIARY_DB_FILE",
            " ",
            "invalid DEARDIARY_DB_FILE=' ': expected a file path",
        ),
    ],
)
def test_invalid_values_name_the_variable(name: str, value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(environ={name: value})
    assert str(raised.value) == message
    assert raised.value.name == name


def test_invalid_value_in_env_file_is_rejected(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("DEARDIARY_LOCK_TIMEOUT=later\n")
    with pytest.raises(ConfigError, match=r"^invalid DEARDIARY_LOCK_TIMEOUT='later'"):
        load_settings(env_file=env_file, environ={})


def test_missing_env_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env_file=tmp_path / "nope.env", environ={})
    assert str(raised.value) == f"invalid env_file='{tmp_path / 'nope.env'}': no such file"


def test_process_environment_is_the_default_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEARDIARY_LOCK_TIMEOUT", "4")
    assert load_settings().lock_timeout == 4.0


def test_describe_hides_passwords(tmp_path: Path) -> None:
    settings = Settings(db_file=tmp_path / "x.db", db_url="postgresql://me:secret@host/db")
    assert settings.describe() == "postgresql://me:***@host/db"
    assert Settings(db_file=tmp_path / "x.db").describe() == str(tmp_path / "x.db")


def test_an_unknown_deardiary_variable_is_named_with_the_likely_one(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from diary import config

    config._WARNED.clear()
    env_file = tmp_path / "settings.env"
    env_file.write_text("DEARDIARY_FLUSH_SIZ=3\nDEARDIARY_PORT=8080\n")
    with caplog.at_level(logging.WARNING, logger="diary.config"):
        settings = load_settings(
            env_file=env_file, environ={"DEARDIARY_DB_FILEE": "x.db", "DEARDIARY_XYZZY": "1"}
        )
        load_settings(environ={"DEARDIARY_DB_FILEE": "x.db"})  # said once per process
    assert settings.flush_size == load_settings(environ={}).flush_size
    assert [r.getMessage() for r in caplog.records] == [
        "diary: ignoring unknown setting DEARDIARY_DB_FILEE; did you mean DEARDIARY_DB_FILE?",
        "diary: ignoring unknown setting DEARDIARY_FLUSH_SIZ; did you mean DEARDIARY_FLUSH_SIZE?",
        "diary: ignoring unknown setting DEARDIARY_XYZZY",
    ]


def test_diary_config_shows_each_setting_and_its_origin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import json

    from click.testing import CliRunner

    from diary.cli import cli

    for name in [n for n in os.environ if n.startswith("DEARDIARY_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("DEARDIARY_ARTIFACT_S3_ACCESS_KEY", "AKIA-VISIBLE-NEVER")
    monkeypatch.setenv("DEARDIARY_ARTIFACT_S3_SECRET_KEY", "secret-never-shown")
    monkeypatch.setenv("DEARDIARY_ARTIFACT_BACKEND", "filesystem")
    env_file = tmp_path / "s.env"
    env_file.write_text("DEARDIARY_FLUSH_SIZE=7\nDEARDIARY_ARTIFACT_BACKEND=s3\n")
    result = CliRunner().invoke(
        cli, ["--env-file", str(env_file), "--db", str(tmp_path / "x.db"), "config", "--json"]
    )
    assert result.exit_code == 0, result.output
    rows = {row["variable"]: (row["value"], row["origin"]) for row in json.loads(result.stdout)}
    assert rows["DEARDIARY_DB_FILE"] == (str(tmp_path / "x.db"), "flag --db")
    assert rows["DEARDIARY_FLUSH_SIZE"] == ("7", f".env file {env_file}")
    assert rows["DEARDIARY_ARTIFACT_BACKEND"] == ("filesystem", "environment")  # env wins
    assert rows["DEARDIARY_ARTIFACT_S3_SECRET_KEY"] == ("***", "environment")
    assert rows["DEARDIARY_LOCK_TIMEOUT"] == ("30.0", "default")
    assert "never" not in result.stdout.lower()
    assert not (tmp_path / "x.db").exists()  # reading the settings creates nothing
