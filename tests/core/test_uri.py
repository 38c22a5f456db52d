"""Canonical URIs: parsing, formatting, joining, and the guarantees they give."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from storage_core.errors import InvalidURI
from storage_core.uri import URI, canonical, is_under, join, parse, relative_key, to_local_path

# -- parsing and formatting ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_uri", "expected"),
    [
        ("/tmp/a b/c", "file:///tmp/a%20b/c"),
        ("/tmp/./a//b/", "file:///tmp/a/b"),
        ("/tmp/x/../y", "file:///tmp/y"),
        ("file:///tmp/a%20b", "file:///tmp/a%20b"),
        ("file:/tmp/x", "file:///tmp/x"),
        ("FILE://localhost/tmp/x", "file:///tmp/x"),
        ("file:///tmp/%7Euser/%c3%a9", "file:///tmp/~user/%C3%A9"),
        ("/t/100%/#?é", "file:///t/100%25/%23%3F%C3%A9"),
        ("s3://bucket/key/x.bin", "s3://bucket/key/x.bin"),
        ("S3://bucket/dir/", "s3://bucket/dir"),
        ("s3://bucket", "s3://bucket"),
        ("s3://bucket/a b%20c", "s3://bucket/a b%20c"),
        ("memory://a/b", "memory://a/b"),
        ("memory:///a/b/", "memory://a/b"),
        ("memory://", "memory://"),
        ("gcs://bucket/k", "gcs://bucket/k"),
    ],
)
def test_canonical_forms(given_uri: str, expected: str) -> None:
    assert canonical(given_uri) == expected
    assert str(parse(expected)) == expected


def test_parts_of_a_uri() -> None:
    u = parse("s3://bucket/dir/file.txt")
    assert (u.scheme, u.authority, u.path) == ("s3", "bucket", "dir/file.txt")
    assert (u.protocol, u.fs_path, u.name) == ("s3", "bucket/dir/file.txt", "file.txt")
    assert str(u.parent) == "s3://bucket/dir"
    assert str(u.parent.parent) == "s3://bucket"
    assert u.parent.parent.parent == u.parent.parent
    f = parse("file:///a%20b/c")
    assert (f.path, f.fs_path, f.name, str(f.parent)) == ("/a b/c", "/a b/c", "c", "file:///a%20b")
    m = parse("memory://x/y")
    assert (m.path, m.fs_path, str(m.parent)) == ("/x/y", "/x/y", "memory://x")
    assert parse("/").parent == parse("/")


def test_bare_paths_become_absolute_without_resolving_symlinks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to(tmp_path / "real")
    monkeypatch.chdir(tmp_path / "link")
    # getcwd() reports the resolved directory; what we must not do is resolve the argument.
    assert parse(tmp_path / "link" / "x") == URI("file", "", f"{tmp_path}/link/x")
    assert parse("./a/./b") == URI("file", "", f"{os.getcwd()}/a/b")
    assert parse("a") == parse(Path("a"))


def test_home_is_expanded(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    assert parse("~/x") == URI("file", "", f"{tmp_path}/x")
    # Only bare paths expand "~"; in a URI it is a literal name.
    assert parse("file:///~/x").path == "/~/x"


def test_non_utf8_file_names_survive(tmp_path: Path) -> None:
    name = os.fsdecode(b"caf\xe9")
    u = parse(tmp_path / name)
    assert str(u).endswith("/caf%E9")
    assert parse(str(u)) == u
    assert to_local_path(u) == tmp_path / name


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        (
            "file://otherhost/x",
            "invalid URI 'file://otherhost/x': remote file host 'otherhost' is not supported",
        ),
        ("s3:///key", "invalid URI 's3:///key': s3 URIs need a bucket (s3://bucket/key)"),
        ("s3://", "invalid URI 's3://': s3 URIs need a bucket (s3://bucket/key)"),
        ("/a\x00b", "invalid URI '/a\\x00b': NUL characters are not allowed"),
        ("file:///a%00b", "invalid URI 'file:///a%00b': NUL characters are not allowed"),
        ("", "invalid URI '': empty path"),
        ("file:relative", "invalid URI 'file:relative': file URIs must be absolute"),
        ("file://", "invalid URI 'file://': file URIs need a path"),
        (
            "file:///a?b",
            "invalid URI 'file:///a?b': file URIs take no query or fragment "
            "('?' is %3F, '#' is %23)",
        ),
        ("c://x", "invalid URI 'c://x': a one-letter scheme looks like a Windows drive letter"),
        ("simplecache::s3://b/k", "invalid URI 'simplecache::s3://b/k': unsupported URI syntax"),
        (
            "s3://b/a/../k",
            "invalid URI 's3://b/a/../k': '.' and '..' segments are not allowed in object keys",
        ),
        (
            "s3://bad bucket/k",
            "invalid URI 's3://bad bucket/k': invalid bucket or host name 'bad bucket'",
        ),
    ],
)
def test_invalid_uris_are_refused_with_a_clear_message(bad: str, message: str) -> None:
    with pytest.raises(InvalidURI) as caught:
        parse(bad)
    assert str(caught.value) == message
    assert caught.value.uri == bad


def test_hand_built_uris_are_validated() -> None:
    with pytest.raises(InvalidURI, match="absolute and normalised"):
        URI("file", "", "relative")
    with pytest.raises(InvalidURI, match="absolute and normalised"):
        URI("file", "", "/a/../b")
    with pytest.raises(InvalidURI, match="have no host"):
        URI("file", "host", "/a")
    with pytest.raises(InvalidURI, match="must not start or end"):
        URI("s3", "b", "/k")
    with pytest.raises(InvalidURI, match="lower case"):
        URI("S3", "b", "k")


def test_to_local_path() -> None:
    assert to_local_path("file:///a%20b") == Path("/a b")
    with pytest.raises(InvalidURI, match="not a local file URI"):
        to_local_path("s3://b/k")


# -- joining ---------------------------------------------------------------------------------


def test_join_appends_segments() -> None:
    assert str(join("s3://b/root", "a/b", "c.txt")) == "s3://b/root/a/b/c.txt"
    assert str(join("s3://b", "k")) == "s3://b/k"
    assert str(join("/base", "a b")) == "file:///base/a%20b"
    assert str(join("memory://r", "x")) == "memory://r/x"
    assert parse("/base").joinpath("x", "y") == join("/base", "x/y")
    assert join("/base") == parse("/base")


@pytest.mark.parametrize(
    ("part", "reason"),
    [
        ("..", "'..' segments are not allowed"),
        ("a/../../etc", "'..' segments are not allowed"),
        (".", "'.' segments are not allowed"),
        ("/etc/passwd", "absolute parts are not allowed; keys are relative"),
        ("a//b", "empty path segment"),
        ("", "empty path segment"),
        ("a/", "empty path segment"),
        ("a\x00b", "NUL characters are not allowed"),
        ("..\\..\\x", "backslashes are not allowed"),
        ("C:", "drive letters are not allowed"),
        ("c:/windows", "drive letters are not allowed"),
    ],
)
def test_join_refuses_escapes(part: str, reason: str) -> None:
    with pytest.raises(InvalidURI) as caught:
        join("/base", part)
    assert str(caught.value) == f"invalid URI {part!r}: {reason}"


def test_percent_encoded_traversal_is_a_literal_name() -> None:
    u = join("file:///base", "%2e%2e", "%2E%2E%2Fetc")
    assert u.path == "/base/%2e%2e/%2E%2E%2Fetc"
    assert str(u) == "file:///base/%252e%252e/%252E%252E%252Fetc"
    assert parse(str(u)) == u
    assert is_under(u, "/base")


# -- is_under / relative_key -------------------------------------------------------------------


def test_is_under_compares_whole_segments() -> None:
    assert is_under("/base/x", "/base")
    assert is_under("/base", "/base")
    assert not is_under("/basement", "/base")
    assert not is_under("s3://b/base/x", "/base")
    assert not is_under("s3://other/base/x", "s3://b/base")
    assert is_under("s3://b/any/key", "s3://b")


def test_relative_key() -> None:
    assert relative_key("s3://b/root", "s3://b/root/a/b") == "a/b"
    assert relative_key("/r", "file:///r/a%20b") == "a b"
    assert relative_key("/r", "/r") == ""
    with pytest.raises(InvalidURI) as caught:
        relative_key("/r", "/rx/y")
    assert str(caught.value) == "invalid URI 'file:///rx/y': not under file:///r"


# -- properties ------------------------------------------------------------------------------

# Any text without "/" and NUL is a valid segment except "." and "..".
segment = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="/\x00"),
    min_size=1,
    max_size=12,
).filter(lambda s: s not in (".", ".."))
segments = st.lists(segment, min_size=0, max_size=5)


@settings(deadline=None)
@given(segments)
def test_file_uris_round_trip(segs: list[str]) -> None:
    u = URI("file", "", "/" + "/".join(segs))
    text = str(u)
    assert text.isascii()
    assert parse(text) == u
    assert canonical(text) == text
    assert parse(u.path) == u


@settings(deadline=None)
@given(segments, st.sampled_from(["s3", "memory", "gcs"]))
def test_object_store_uris_round_trip(segs: list[str], scheme: str) -> None:
    authority = "" if scheme == "memory" else "bucket"
    path = ("/" if scheme == "memory" else "") + "/".join(segs)
    u = URI(scheme, authority, path)
    assert parse(str(u)) == u
    assert canonical(str(u)) == str(u)


@settings(deadline=None)
@given(
    st.sampled_from(["/base/dir", "s3://bucket/base", "memory://base", "file:///"]),
    st.lists(st.text(max_size=15), min_size=1, max_size=4),
)
def test_a_join_never_escapes_its_base(base: str, parts: list[str]) -> None:
    try:
        joined = join(base, *parts)
    except InvalidURI:
        return
    assert is_under(joined, base)
    assert joined != parse(base)
    assert relative_key(base, joined) == "/".join(parts)
    assert parse(str(joined)) == joined


@settings(deadline=None)
@given(st.text(alphabet="./%2eE\\:Ca", max_size=12))
def test_a_join_of_traversal_lookalikes_never_escapes(part: str) -> None:
    try:
        joined = join("/base/dir", part)
    except InvalidURI:
        return
    assert is_under(joined, "/base/dir")
    assert to_local_path(joined).parent.parts[:3] == ("/", "base", "dir")
