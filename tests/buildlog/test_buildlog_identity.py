"""Project ids, record ids and derived values against the reference's test vectors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from buildlog.identifiers import (
    format_timestamp,
    is_similar_description,
    mistake_id,
    reward_id,
    reward_value,
    rule_id,
    semantic_hash,
    session_id,
)
from buildlog.paths import database_location
from buildlog.project import (
    identify_project,
    project_id_from_path,
    project_id_from_remote,
    redact_credentials,
    remote_alias,
    strip_credentials,
)
from storage_core.errors import ConfigError


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://github.com/acme/widgets.git", "aebd4fffcb28"),
        ("git@github.com:acme/widgets.git", "44d052bc011d"),
        ("https://github.com/acme/widgets", "6e07f075d65d"),
        ("  https://github.com/acme/widgets.git\n", "aebd4fffcb28"),
        # Credentials count, as in the original tool (the vector).
        ("https://alice:tok123@github.com/acme/secret.git", "105d20c85107"),
        ("https://github.com/acme/secret.git", "17d33e5ffaae"),
        ("https://alice:ghp_secret@github.com/acme/widgets.git", "e1f696a1e92b"),
        ("https://ghp_token@github.com/acme/widgets.git", "2c5d614a2627"),
        ("ssh://alice:pw@host.example/acme/widgets.git", "eb8d97073cc8"),
        ("ssh://git@host.example/acme/widgets.git", "12b9fa84545d"),
    ],
)
def test_project_id_from_remote_vectors(url: str, expected: str) -> None:
    assert project_id_from_remote(url) == expected


def test_path_fallback_vector() -> None:
    assert project_id_from_path("/home/alice/src/widgets") == "d96feb574b52"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://u:p@host.example/r.git", "https://host.example/r.git"),
        ("http://tok@host.example:8080/r", "http://host.example:8080/r"),
        ("ssh://git:pw@host.example/r.git", "ssh://git@host.example/r.git"),
        ("ssh://git@host.example/r.git", "ssh://git@host.example/r.git"),
        ("git@github.com:acme/widgets.git", "git@github.com:acme/widgets.git"),
        ("/srv/git/widgets.git", "/srv/git/widgets.git"),
    ],
)
def test_strip_credentials(url: str, expected: str) -> None:
    assert strip_credentials(url) == expected


def test_credentials_give_an_alias_and_are_masked_for_display() -> None:
    with_token = "https://alice:tok123@github.com/acme/secret.git"
    assert remote_alias(with_token) == "17d33e5ffaae"  # the id of the URL without them
    assert remote_alias("https://tok@github.com/acme/secret.git") == "17d33e5ffaae"
    assert remote_alias("https://github.com/acme/secret.git") is None
    assert remote_alias("git@github.com:acme/widgets.git") is None
    assert redact_credentials(with_token) == "https://alice:***@github.com/acme/secret.git"
    assert redact_credentials("https://tok@h.example/r") == "https://***@h.example/r"
    assert redact_credentials("ssh://git@h.example/r") == "ssh://git@h.example/r"
    assert redact_credentials("git@github.com:acme/w.git") == "git@github.com:acme/w.git"


def test_identify_uses_origin_and_shares_id_between_clones(
    tmp_path: Path, git_repo: Callable[[Path, str | None], Path]
) -> None:
    first = git_repo(tmp_path / "a" / "widgets", "https://github.com/acme/widgets.git")
    second = git_repo(tmp_path / "b" / "widgets-copy", "https://github.com/acme/widgets.git")
    sub = first / "src"
    sub.mkdir()
    one, two, three = identify_project(first), identify_project(second), identify_project(sub)
    assert (one.id, one.source, one.name) == ("aebd4fffcb28", "git-remote", "widgets")
    assert two.id == one.id == three.id
    assert two.path == second.resolve()


def test_identify_falls_back_to_path(
    tmp_path: Path, git_repo: Callable[[Path, str | None], Path]
) -> None:
    no_origin = git_repo(tmp_path / "no-origin", None)
    plain = tmp_path / "plain"
    plain.mkdir()
    for root in (no_origin, plain):
        identity = identify_project(root)
        assert identity.source == "path"
        assert identity.id == project_id_from_path(root)
    missing_git = identify_project(plain, git=str(tmp_path / "no-such-git"))
    assert missing_git.source == "path"


def test_record_id_vectors() -> None:
    assert reward_id("revision", "2026-02-05T14:45:00.123456+00:00") == "rew-9e945b24ce"
    assert reward_id("accepted", "2026-02-05T14:45:00.123456+00:00") == "rew-e417076a9f"
    assert rule_id("Always validate input", "security") == "sk-850b50c8c3"
    assert rule_id("Always validate input", "architectural") == "arch-850b50c8c3"
    assert rule_id("Write the failing test before the fix", "workflow") == "wf-29c1110c75"
    instant = datetime(2026, 2, 5, 14, 30, 12, 123456, tzinfo=UTC)
    assert session_id(instant) == "session-20260205-143012-123456"
    later = datetime(2026, 2, 5, 15, 40, 0, 482913, tzinfo=timezone(timedelta(hours=1)))
    assert mistake_id("missing_test", later) == "mistake-missing_te-20260205-144000-482913"


def test_semantic_hash_vectors() -> None:
    assert semantic_hash("Forgot tests for empty-input branch") == "05665d9e4e4cc3c0"
    assert semantic_hash("  forgot   TESTS for empty-input\tbranch ") == "05665d9e4e4cc3c0"
    assert semantic_hash("SQL injection in query builder") == "6b3e73f08ade93de"


def test_similarity_threshold() -> None:
    assert is_similar_description("a b c d", "a b c d e")
    assert not is_similar_description("a b c d e f g h i j", "a b c d e f g x y z")
    assert is_similar_description("a b c d e f g h i j", "a b c d e f g h x y")
    assert not is_similar_description("", "a")


@pytest.mark.parametrize(
    ("outcome", "distance", "expected"),
    [
        ("accepted", None, 1.0),
        ("rejected", 0.9, 0.0),
        ("revision", None, 0.5),
        ("revision", 0.3, 0.7),
        ("revision", 1.7, 0.0),
        ("revision", -0.5, 1.0),
    ],
)
def test_reward_values(outcome: str, distance: float | None, expected: float) -> None:
    assert reward_value(outcome, distance) == pytest.approx(expected)


def test_unknown_outcome() -> None:
    with pytest.raises(ValueError, match="unknown outcome 'maybe'"):
        reward_value("maybe")


def test_format_timestamp_is_utc() -> None:
    assert format_timestamp(datetime(2026, 2, 5, 15, 45, tzinfo=timezone(timedelta(hours=1)))) == (
        "2026-02-05T14:45:00+00:00"
    )
    assert (
        format_timestamp(datetime(2026, 2, 5, 14, 45, 0, 5)) == "2026-02-05T14:45:00.000005+00:00"
    )


def test_database_location_precedence(tmp_path: Path) -> None:
    env = {"BUILDLOG_HOME": str(tmp_path / "h")}
    assert database_location(environ=env).path == tmp_path / "h" / "buildlog.db"
    env["BUILDLOG_DB"] = str(tmp_path / "x.db")
    assert database_location(environ=env).path == tmp_path / "x.db"
    explicit = database_location(str(tmp_path / "y.db"), environ=env)
    assert explicit.url == f"sqlite:///{tmp_path / 'y.db'}"
    url = database_location("sqlite:///" + str(tmp_path / "z.db"), environ=env)
    assert url.path == tmp_path / "z.db"
    server = database_location("postgresql://bob:pw@db.example/buildlog", environ=env)
    assert server.path is None
    assert server.display() == "postgresql://bob:***@db.example/buildlog"
    home_default = database_location(environ={})
    assert home_default.path == Path.home().resolve() / ".buildlog" / "buildlog.db"


def test_empty_database_setting_is_an_error() -> None:
    with pytest.raises(ConfigError) as info:
        database_location(environ={"BUILDLOG_DB": " "})
    assert str(info.value) == "invalid BUILDLOG_DB=' ': must be a file path or a SQLAlchemy URL"
