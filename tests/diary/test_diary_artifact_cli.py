"""The artifact commands through Click: exact outputs, exit codes, and no secret anywhere."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from diary.cli import cli
from storage_core.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY


@pytest.fixture
def run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("DEARDIARY_ARTIFACT_FS_ROOT", str(tmp_path / "artifacts"))
    runner = CliRunner()

    def invoke(*args: str) -> Result:
        return runner.invoke(cli, ["--db", str(tmp_path / "d.db"), *args])

    return invoke


def _experiment(run: object) -> str:
    project = run("project", "create", "p").stdout.strip()  # type: ignore[operator]
    return str(run("experiment", "create", project, "e").stdout.strip())  # type: ignore[operator]


def test_put_get_list_show_rm(run: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    experiment = _experiment(run)
    (tmp_path / "w.txt").write_bytes(b"hello")
    put = run("artifact", "put", experiment, str(tmp_path / "w.txt"), "--json")  # type: ignore[operator]
    record = json.loads(put.stdout)
    assert (record["backend"], record["uri"], record["size_bytes"], record["content_hash"]) == (
        "inline", "", 5, "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    )  # fmt: skip
    text = run("artifact", "put", experiment, str(tmp_path / "w.txt"), "--name", "b")  # type: ignore[operator]
    lines = text.stdout.splitlines()
    assert [line.split()[0] for line in lines] == ["id", "backend", "uri", "size", "sha256"]
    assert lines[1:] == [
        "backend  inline",
        "uri",
        "size     5",
        "sha256   2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824",
    ]
    got = run("artifact", "get", record["id"], "-o", "-")  # type: ignore[operator]
    assert got.stdout_bytes == b"hello"
    (tmp_path / "out").mkdir()
    monkeypatch.chdir(tmp_path / "out")
    saved = run("artifact", "get", record["id"])  # type: ignore[operator]
    assert (saved.exit_code, saved.stdout) == (0, f"{tmp_path / 'out' / 'w.txt'}\n")
    again = run("artifact", "get", record["id"])  # type: ignore[operator]
    assert (again.exit_code, again.stderr) == (
        1,
        "Error: w.txt exists; choose another name with -o\n",
    )
    listed = json.loads(run("artifact", "list", experiment, "--json").stdout)  # type: ignore[operator]
    assert [r["name"] for r in listed] == ["w.txt", "b"]
    shown = run("artifact", "show", record["id"]).stdout  # type: ignore[operator]
    assert (
        "content_hash   2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" in shown
    )
    removed = run("artifact", "rm", record["id"])  # type: ignore[operator]
    assert removed.stdout == f"deleted {record['id']}\n"
    missing = run("artifact", "show", record["id"])  # type: ignore[operator]
    assert (missing.exit_code, missing.stderr) == (
        1,
        f"Error: artifact not found: {record['id']}\n",
    )


def test_put_several_paths_at_once(run: object, tmp_path: Path) -> None:
    experiment = _experiment(run)
    paths = []
    for index, name in enumerate(["a.json", "b.bin", "c.txt"]):
        paths.append(tmp_path / name)
        paths[-1].write_bytes(b"x" * index)
    put = run(  # type: ignore[operator]
        "artifact", "put", experiment, *map(str, paths), "--description", "d", "--json"
    )
    records = json.loads(put.stdout)
    assert [(r["name"], r["size_bytes"], r["description"], r["media_type"]) for r in records] == [
        ("a.json", 0, "d", "application/json"),
        ("b.bin", 1, "d", "application/octet-stream"),
        ("c.txt", 2, "d", "text/plain"),
    ]
    text = run("artifact", "put", experiment, *map(str, paths[:2]), "--workers", "1")  # type: ignore[operator]
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["ID", "NAME", "BACKEND", "SIZE_BYTES", "CONTENT_HASH"]
    assert [line.split()[1:4] for line in lines[1:]] == [
        ["a.json", "inline", "0"],
        ["b.bin", "inline", "1"],
    ]
    for option in ("--name", "--media-type"):
        refused = run("artifact", "put", experiment, *map(str, paths), option, "x")  # type: ignore[operator]
        assert refused.exit_code == 2
        assert f"Error: {option} applies to one PATH; 3 were given" in refused.stderr
    listed = json.loads(run("artifact", "list", experiment, "--json").stdout)  # type: ignore[operator]
    assert len(listed) == 5


def test_migrate_verify_compact(run: object, tmp_path: Path) -> None:
    experiment = _experiment(run)
    (tmp_path / "w.bin").write_bytes(b"x" * 1000)
    for _ in range(3):
        run("artifact", "put", experiment, str(tmp_path / "w.bin"))  # type: ignore[operator]
    dry = json.loads(run("artifact", "migrate", "--to", "filesystem", "--dry-run", "--json").stdout)  # type: ignore[operator]
    assert (dry["planned"], dry["done"], dry["dry_run"]) == (3, 0, True)
    moved = run("artifact", "migrate", "--to", "filesystem", "--compact", "--json")  # type: ignore[operator]
    result = json.loads(moved.stdout)
    assert (moved.exit_code, result["done"], result["bytes"], result["failed"]) == (0, 3, 3000, [])
    assert result["compaction"]["tables"]["resource"] == 3
    verify = run("artifact", "verify")  # type: ignore[operator]
    assert (verify.exit_code, verify.stdout) == (
        0, "checked 3 artifacts: 0 missing, 0 corrupt, 0 unreadable, 0 orphaned\n"
    )  # fmt: skip
    (own,) = (tmp_path / "artifacts").iterdir()  # <root>/<this database's identity>/
    stray = own / "zz" / "zz-stray"
    stray.parent.mkdir()
    stray.write_bytes(b"?")
    bad = run("artifact", "verify", "--quick")  # type: ignore[operator]
    assert bad.exit_code == 1
    assert bad.stdout.splitlines()[0] == f"orphan: file://{stray.resolve()}"
    foreign = tmp_path / "artifacts" / "yy" / "yy-another-database"
    foreign.parent.mkdir()
    foreign.write_bytes(b"!")
    cleaned = run("artifact", "verify", "--gc", "--grace", "0")  # type: ignore[operator]
    assert (cleaned.exit_code, cleaned.stdout.splitlines()) == (0, [
        f"orphan (deleted): file://{stray.resolve()}",
        f"orphan (borrowed, kept): file://{foreign.resolve()}",
        "checked 3 artifacts: 0 missing, 0 corrupt, 0 unreadable, 2 orphaned (1 deleted); 1 of "
        "them not written by this database (kept: another database may use them; "
        "--include-borrowed deletes them)",
    ])  # fmt: skip
    assert foreign.exists()
    foreign.unlink()
    compacted = run("db", "compact")  # type: ignore[operator]
    assert compacted.exit_code == 0
    assert compacted.stdout.startswith(f"compacted {tmp_path / 'd.db'}: ")
    relocated = run("artifacts", "relocate", str(tmp_path / "nowhere"), str(tmp_path / "else"))  # type: ignore[operator]
    assert relocated.stdout == (
        f"rewrote 0 artifacts from file://{tmp_path.resolve()}/nowhere to "
        f"file://{tmp_path.resolve()}/else\n"
    )


def test_s3_secrets_never_appear(
    run: object, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, s3_settings: dict[str, str]
) -> None:
    for name, value in s3_settings.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("DEARDIARY_ARTIFACT_BACKEND", "s3")
    experiment = _experiment(run)
    (tmp_path / "w.bin").write_bytes(b"payload")
    outputs = [run("artifact", "put", experiment, str(tmp_path / "w.bin"), "--json")]  # type: ignore[operator]
    resource = json.loads(outputs[0].stdout)["id"]
    outputs.append(run("artifact", "show", resource))  # type: ignore[operator]
    outputs.append(run("artifact", "verify", "--json"))  # type: ignore[operator]
    outputs.append(run("--debug", "artifact", "migrate", "--to", "inline", "--from", "s3"))  # type: ignore[operator]
    monkeypatch.setenv("DEARDIARY_ARTIFACT_S3_BUCKET", "missing-bucket")
    failing = run("artifact", "migrate", "--to", "s3")  # type: ignore[operator]
    assert (failing.exit_code, failing.stderr) == (
        1, "Error: s3 backend unavailable: bucket 'missing-bucket' does not exist\n"
    )  # fmt: skip
    outputs.append(failing)
    text = "".join(o.stdout + o.stderr for o in outputs)
    assert all(o.exit_code in (0, 1) for o in outputs)
    assert TEST_SECRET_KEY not in text
    assert TEST_ACCESS_KEY not in text


def test_one_artifact_group_and_the_old_plural_as_a_hidden_alias(run: object) -> None:
    commands = run("--help").stdout.split("Commands:")[1]  # type: ignore[operator]
    assert "  artifact " in commands
    assert "artifacts" not in commands
    group = run("artifact", "--help").stdout  # type: ignore[operator]
    for command in ("put", "get", "list", "show", "rm", "migrate", "verify", "relocate"):
        assert f"  {command} " in group
    _experiment(run)
    old = run("artifacts", "verify")  # type: ignore[operator]
    new = run("artifact", "verify")  # type: ignore[operator]
    assert (old.exit_code, old.stdout) == (new.exit_code, new.stdout) == (
        0, "checked 0 artifacts: 0 missing, 0 corrupt, 0 unreadable, 0 orphaned\n"
    )  # fmt: skip
