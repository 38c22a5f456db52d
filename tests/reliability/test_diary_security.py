"""Secrets stay secret, roots are private, and names never become paths.

* The S3 access and secret keys appear nowhere: not in output, logs (DEBUG included, with
  ``--debug`` and its tracebacks), reprs, error messages, JSON output, the database or the
  artifact files.
* Artifact roots and their folders are created without group or world write permission, even
  under a permissive umask.
* Whatever the names, nothing is written outside the configured database and artifact root.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import pytest
from diary_support import DiarySandbox, FaultProxy, run_cli

from diary.artifacts import migrate_artifacts, verify_artifacts
from diary.errors import StorageError

ACCESS = "AKIAUNIQUEACCESSKEY7"
SECRET = "uNiQuE/SeCrEt+Key0123456789abcdefGHIJ"


def _no_secret(*texts: str | bytes) -> None:
    for text in texts:
        data = text.encode() if isinstance(text, str) else text
        for value in (ACCESS, SECRET):
            assert value.encode() not in data, f"{value} leaked: ...{data[:300]!r}..."


@pytest.fixture
def diary_secret_box(diary_s3_sandbox: DiarySandbox, diary_fault_proxy: FaultProxy) -> DiarySandbox:
    """An S3 sandbox whose keys are :data:`ACCESS` and :data:`SECRET`, through a proxy that
    forwards (moto itself accepts any key)."""
    diary_s3_sandbox.settings.update(
        DEARDIARY_ARTIFACT_S3_ACCESS_KEY=ACCESS,
        DEARDIARY_ARTIFACT_S3_SECRET_KEY=SECRET,
        DEARDIARY_ARTIFACT_S3_ENDPOINT=diary_fault_proxy.url,
        DEARDIARY_ARTIFACT_S3_RETRIES="1",
        DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT="1",
    )
    return diary_s3_sandbox


def test_diary_keys_never_appear_in_cli_output(
    diary_secret_box: DiarySandbox, diary_fault_proxy: FaultProxy
) -> None:
    box = diary_secret_box
    proxy = diary_fault_proxy
    model = box.root / "model.bin"
    model.write_bytes(os.urandom(10_000))
    captured: list[str] = []

    def cli(*args: str, code: int = 0, **extra: str) -> str:
        result = run_cli(box, *args, **extra)
        captured.extend([result.stdout, result.stderr])
        assert result.returncode == code, result.stderr
        return result.stdout

    project = cli("project", "create", "p").strip()
    experiment = cli("experiment", "create", project, "e").strip()
    iteration = cli("iteration", "start", experiment).strip()
    cli("iteration", "show", iteration, "--json")
    for debug in ((), ("--debug",)):
        put = cli(
            *debug,
            "artifact",
            "put",
            experiment,
            str(model),
            "--json",
            DEARDIARY_ARTIFACT_BACKEND="s3",
        )
        assert '"backend": "s3"' in put
        cli(*debug, "artifact", "put", experiment, str(model), "--name", "inline.bin")
        cli(*debug, "artifact", "migrate", "--to", "s3", "--json")
        cli(*debug, "artifact", "verify", "--json")
        cli(*debug, "artifact", "list", experiment, "--json")
        if not debug:
            continue
        # Failures, with tracebacks under --debug: keys refused, endpoint down, bad bucket.
        proxy.mode, proxy.allowed_key = "auth", "SOMEONE-ELSE"
        cli(
            *debug,
            "artifact",
            "put",
            experiment,
            str(model),
            code=1,
            DEARDIARY_ARTIFACT_BACKEND="s3",
        )
        proxy.mode = "pass"
        cli(
            *debug,
            "artifacts",
            "verify",
            code=1,
            DEARDIARY_ARTIFACT_S3_ENDPOINT="http://127.0.0.1:9",
        )
        cli(
            *debug,
            "artifacts",
            "migrate",
            "--to",
            "s3",
            code=1,
            DEARDIARY_ARTIFACT_S3_BUCKET="no-such-bucket",
        )
        cli(*debug, "project", "list", code=1, DEARDIARY_ARTIFACT_S3_SECRET_KEY=SECRET + " x")
    debug_text = "".join(captured)
    assert "Traceback" in debug_text  # --debug did show tracebacks
    assert "DEBUG:" in debug_text  # and debug logs
    _no_secret(*captured)
    # Nor in anything stored.
    _no_secret(box.db.read_bytes())
    for file in box.root.rglob("*"):
        if file.is_file():
            _no_secret(file.read_bytes())


def test_diary_keys_never_appear_in_library_logs_reprs_and_errors(
    diary_secret_box: DiarySandbox, diary_fault_proxy: FaultProxy, caplog: pytest.LogCaptureFixture
) -> None:
    box = diary_secret_box
    caplog.set_level(logging.DEBUG)
    texts: list[str] = []
    with box.open(DEARDIARY_ARTIFACT_BACKEND="s3") as store:
        experiment = store.create_experiment(store.create_project("p").id, "e").id
        record = store.put_artifact(experiment, b"x" * 1000, name="x")
        texts += [repr(store), repr(store.settings), str(store.settings), repr(record)]
        texts += [repr(store.artifact_stores), repr(store.artifact_stores.current)]
        texts += [repr(store.artifact_stores.s3_options()), str(record.to_dict())]
        texts.append(str(verify_artifacts(store).to_dict()))
        diary_fault_proxy.mode, diary_fault_proxy.allowed_key = "auth", "SOMEONE-ELSE"
        for call in (
            lambda: store.put_artifact(experiment, b"y", name="y"),
            lambda: store.read_resource_data(record.id),
        ):
            with pytest.raises(StorageError) as caught:
                call()
            texts += [str(caught.value), repr(caught.value)]
            cause = caught.value.__cause__
            while cause is not None:
                texts.append(str(cause))
                cause = cause.__cause__
        diary_fault_proxy.mode = "pass"
    with box.open(DEARDIARY_ARTIFACT_S3_BUCKET="no-such-bucket") as store:
        with pytest.raises(StorageError) as caught:
            migrate_artifacts(store, to="s3")
        texts.append(str(caught.value))
    assert "botocore" in caplog.text  # the debug logs were captured
    _no_secret(caplog.text, *texts)


def test_diary_artifact_folders_are_not_group_or_world_writable(
    diary_sandbox: DiarySandbox,
) -> None:
    box = diary_sandbox
    code = (
        "import os, sys; os.umask(0); import diary\n"
        "with diary.open() as s:\n"
        "    e = s.create_experiment(s.create_project('p').id, 'e').id\n"
        "    for i in range(20): s.put_artifact(e, os.urandom(100), name=f'a{i}')\n"
    )
    import subprocess
    import sys

    result = subprocess.run(
        [sys.executable, "-c", code],
        env=box.environ(DEARDIARY_ARTIFACT_BACKEND="filesystem"),
        cwd=box.root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    paths = [box.artifacts, *box.artifacts.rglob("*")]
    assert len(paths) > 20
    for path in paths:
        mode = stat.S_IMODE(path.stat().st_mode)
        assert not mode & (stat.S_IWGRP | stat.S_IWOTH), (path, oct(mode))


def test_diary_nothing_is_written_outside_the_roots(diary_sandbox: DiarySandbox) -> None:
    box = diary_sandbox
    outside = box.root.parent

    def listing() -> set[Path]:
        return set(outside.rglob("*"))

    before = listing()
    names = ["../../../outside.txt", "/tmp/absolute.txt", "..", "a/../../b", "x\0y", "~/home.txt"]
    source = box.root / "input.bin"
    source.write_bytes(b"payload")
    with box.open(DEARDIARY_ARTIFACT_BACKEND="filesystem") as store:
        experiment = store.create_experiment(store.create_project("../p").id, "../e").id
        ids = [store.put_artifact(experiment, source, name=n).id for n in names]
        for rid in ids[:3]:
            store.replace_artifact(rid, b"replaced")
        assert migrate_artifacts(store, to="inline", from_backend="filesystem").ok
        assert migrate_artifacts(store, to="filesystem").ok
        store.delete_resource(ids[0])
        assert verify_artifacts(store).ok
    for name in names[:4]:
        result = run_cli(box, "artifact", "put", str(experiment), str(source), "--name", name)
        assert result.returncode == 0, result.stderr
    created = listing() - before
    allowed = (box.db, Path(f"{box.db}.lock"), Path(f"{box.db}.wal"), box.artifacts)
    stray = [
        p for p in created if not any(p == a or a in p.parents for a in allowed) and p != source
    ]
    assert stray == []
    assert not Path("/tmp/absolute.txt").exists()


@pytest.mark.parametrize(
    "endpoint",
    [
        f"http://{ACCESS}:{SECRET.replace('/', '%2F')}@127.0.0.1:9",
        f"https://{ACCESS}@s3.example.com",
        f"http://:{SECRET.replace('/', '%2F').replace('+', '%2B')}@127.0.0.1:9000/",
    ],
    ids=["user-and-password", "user-only", "password-only"],
)
def test_diary_credentials_in_the_endpoint_url_are_refused_and_never_shown(
    diary_sandbox: DiarySandbox, endpoint: str
) -> None:
    settings = {
        "DEARDIARY_ARTIFACT_BACKEND": "s3",
        "DEARDIARY_ARTIFACT_S3_BUCKET": "bucket",
        "DEARDIARY_ARTIFACT_S3_ENDPOINT": endpoint,
    }
    (diary_sandbox.root / "w.bin").write_bytes(b"w")
    shown = endpoint.split("://")[0] + "://***@" + endpoint.split("@", 1)[1]
    for debug in ((), ("--debug",)):
        for args in (
            ("project", "list"),
            ("artifact", "put", "x", "w.bin"),
            ("artifact", "verify"),
        ):
            result = run_cli(diary_sandbox, *debug, *args, **settings)
            assert result.returncode == 1, args
            assert result.stderr.splitlines()[-1] == (
                "storage_core.errors.ConfigError: " if debug else "Error: "
            ) + (
                f"invalid DEARDIARY_ARTIFACT_S3_ENDPOINT={shown!r}: credentials do not belong in "
                "the endpoint URL; set them in DEARDIARY_ARTIFACT_S3_ACCESS_KEY and "
                "DEARDIARY_ARTIFACT_S3_SECRET_KEY"
            )
            _no_secret(result.stdout, result.stderr)
    assert not diary_sandbox.db.exists()


def test_diary_urls_logged_at_debug_lose_their_userinfo(
    diary_sandbox: DiarySandbox, caplog: pytest.LogCaptureFixture
) -> None:
    from storage_core.blobs.redaction import RedactingFilter, redact_userinfo

    encoded = SECRET.replace("/", "%2F").replace("+", "%2B")  # as a URL carries it
    assert redact_userinfo(f"GET http://{ACCESS}:{encoded}@h:9/b?x=1 then s3://k@b/o") == (
        "GET http://***@h:9/b?x=1 then s3://***@b/o"
    )
    assert redact_userinfo("postgresql+psycopg://u:p@db/x") == "postgresql+psycopg://***@db/x"
    assert (
        redact_userinfo("no url, a@b.c and http://host/p@q") == "no url, a@b.c and http://host/p@q"
    )
    record = logging.LogRecord(
        "any", logging.DEBUG, __file__, 1, "to %s", (f"http://{ACCESS}@h",), None
    )
    assert RedactingFilter().filter(record)
    assert record.getMessage() == "to http://***@h"
