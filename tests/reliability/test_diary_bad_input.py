"""A corpus of bad inputs to the diary CLI and library: each is refused cleanly, nothing changes.

Every case must give exit status 1 and exactly one line ``Error: <message>`` on stderr naming
the input (or, for the library, an exception of diary's root class ``StorageError`` with that
one-line message), no traceback, and leave the stores as they were: the database file and
the artifact folder hash the same and every table has the same number of rows.

Accepted-but-odd inputs (NaN and infinities, very long and unicode keys, SQL-looking names,
artifact names that look like paths) are stored literally and read back faithfully.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from diary_support import DiarySandbox, row_counts, run_cli, tree_digest

import diary
from diary.cli import cli
from diary.errors import StorageError

UNKNOWN = "6f0c2d1e-0000-4000-8000-000000000000"


@dataclass(frozen=True)
class Ids:
    project: str
    experiment: str
    iteration: str
    artifact: str
    inline_artifact: str


@pytest.fixture(scope="module")
def diary_template(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Ids]:
    """A database with a project, experiment, running iteration, a metric and two artifacts."""
    root = tmp_path_factory.mktemp("template")
    box = DiarySandbox(root)
    with box.open(DEARDIARY_ARTIFACT_BACKEND="filesystem") as store:
        project = store.create_project("p")
        experiment = store.create_experiment(project.id, "e")
        iteration = store.create_iteration(experiment.id, snapshot=False)
        store.log_metric(iteration.id, "loss", 0.5)
        store.log_param(iteration.id, "lr", "0.1")
        on_disk = store.put_artifact(experiment.id, b"weights", name="model.bin")
    with box.open() as store:
        inline = store.put_artifact(experiment.id, b"{}", name="config.json")
    ids = Ids(
        str(project.id), str(experiment.id), str(iteration.id), str(on_disk.id), str(inline.id)
    )
    return root, ids


@pytest.fixture
def diary_bad_input_box(
    diary_sandbox: DiarySandbox, diary_template: tuple[Path, Ids]
) -> tuple[DiarySandbox, Ids]:
    """A fresh copy of the template database and artifacts in this test's sandbox."""
    template, ids = diary_template
    shutil.copy2(template / "diary.db", diary_sandbox.db)
    shutil.copytree(template / "artifacts", diary_sandbox.artifacts)
    return diary_sandbox, ids


def _state(box: DiarySandbox) -> tuple[dict[str, str], dict[str, int]]:
    return tree_digest(box.db, box.artifacts), row_counts(box.db)


@dataclass(frozen=True)
class CliCase:
    """A command line, its environment and stdin, and the exact message it must fail with."""

    id: str
    args: tuple[str, ...]
    message: str
    env: dict[str, str] = field(default_factory=dict)
    input: str | bytes | None = None


def _env_case(name: str, value: str, message: str) -> CliCase:
    return CliCase(f"env-{name}={value!r}", ("project", "list"), message, {name: value})


V = "DEARDIARY_"
ENV_CASES = [
    _env_case(f"{V}DB_FILE", " ", f"invalid {V}DB_FILE=' ': expected a file path"),
    _env_case(
        f"{V}DB_FILE",
        "/nonexistent/x.db",
        "no diary database at /nonexistent/x.db; check --db and DEARDIARY_DB_FILE, or create "
        "one with 'diary project create NAME'",
    ),
    _env_case(
        f"{V}DB_URL",
        "runs.db",
        f"invalid {V}DB_URL='runs.db': expected an SQLAlchemy URL such as sqlite:///path.db",
    ),
    _env_case(
        f"{V}DB_URL",
        "nosuchdb://h/x",
        "invalid database URL='nosuchdb://h/x': Can't load plugin: sqlalchemy.dialects:nosuchdb",
    ),
    _env_case(
        f"{V}LOCK_TIMEOUT", "soon", f"invalid {V}LOCK_TIMEOUT='soon': expected a number of seconds"
    ),
    _env_case(
        f"{V}LOCK_TIMEOUT", "-1", f"invalid {V}LOCK_TIMEOUT='-1': expected a finite number >= 0"
    ),
    _env_case(
        f"{V}LOCK_TIMEOUT", "inf", f"invalid {V}LOCK_TIMEOUT='inf': expected a finite number >= 0"
    ),
    _env_case(
        f"{V}FLUSH_INTERVAL", "0", f"invalid {V}FLUSH_INTERVAL='0': expected a finite number > 0"
    ),
    _env_case(
        f"{V}FLUSH_INTERVAL",
        "nan",
        f"invalid {V}FLUSH_INTERVAL='nan': expected a finite number > 0",
    ),
    _env_case(f"{V}FLUSH_SIZE", "1e3", f"invalid {V}FLUSH_SIZE='1e3': expected a whole number"),
    _env_case(f"{V}FLUSH_SIZE", "0", f"invalid {V}FLUSH_SIZE='0': expected a whole number >= 1"),
    _env_case(
        f"{V}AUTO_UPGRADE", "maybe", f"invalid {V}AUTO_UPGRADE='maybe': expected true or false"
    ),
    _env_case(
        f"{V}ARTIFACT_BACKEND",
        "ftp",
        f"invalid {V}ARTIFACT_BACKEND='ftp': expected one of inline, filesystem, s3",
    ),
    _env_case(
        f"{V}ARTIFACT_FS_ROOT", " ", f"invalid {V}ARTIFACT_FS_ROOT=' ': expected a file path"
    ),
    _env_case(
        f"{V}ARTIFACT_S3_BUCKET",
        "Bad_Bucket!",
        f"invalid {V}ARTIFACT_S3_BUCKET='Bad_Bucket!': expected an S3 bucket name "
        "(3-63 lower-case letters, digits, '.' and '-')",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_PREFIX",
        "a/../b",
        f"invalid {V}ARTIFACT_S3_PREFIX='a/../b': expected a key prefix such as 'team/artifacts'",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_ENDPOINT",
        "localhost:9000",
        f"invalid {V}ARTIFACT_S3_ENDPOINT='localhost:9000': expected an http:// or https:// URL "
        "such as http://host:9000",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_REGION",
        "us east 1",
        f"invalid {V}ARTIFACT_S3_REGION='us east 1': expected a region name such as us-east-1",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_ACCESS_KEY",
        "AKIDONLY",
        f"invalid {V}ARTIFACT_S3_SECRET_KEY='': set it together with {V}ARTIFACT_S3_ACCESS_KEY, "
        "or leave both unset",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_SECRET_KEY",
        "secret with spaces",
        f"invalid {V}ARTIFACT_S3_SECRET_KEY='***': expected printable ASCII characters "
        "without spaces",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_RETRIES",
        "0",
        f"invalid {V}ARTIFACT_S3_RETRIES='0': expected a whole number >= 1",
    ),
    _env_case(
        f"{V}ARTIFACT_S3_CONNECT_TIMEOUT",
        "-2",
        f"invalid {V}ARTIFACT_S3_CONNECT_TIMEOUT='-2': expected a finite number > 0",
    ),
    _env_case(
        f"{V}ARTIFACT_INLINE_MAX_BYTES",
        "1MB",
        f"invalid {V}ARTIFACT_INLINE_MAX_BYTES='1MB': expected a whole number",
    ),
]

ID_CASES = [
    CliCase("unknown-iteration", ("iteration", "show", UNKNOWN), f"iteration not found: {UNKNOWN}"),
    CliCase(
        "malformed-experiment-id",
        ("experiment", "show", "not-a-uuid"),
        "experiment not found: not-a-uuid",
    ),
    CliCase("unknown-project-name", ("project", "show", "nosuch"), "project not found: nosuch"),
    CliCase(
        "metric-to-unknown-iteration",
        ("log", "metric", UNKNOWN, "loss", "1"),
        f"iteration not found: {UNKNOWN}",
    ),
    CliCase(
        "param-to-unknown-iteration",
        ("log", "param", UNKNOWN, "lr", "1"),
        f"iteration not found: {UNKNOWN}",
    ),
    CliCase("unknown-artifact", ("artifact", "get", UNKNOWN), f"artifact not found: {UNKNOWN}"),
    CliCase(
        "unknown-model-version",
        ("model", "version", "stage", UNKNOWN, "production"),
        f"model version not found: {UNKNOWN}",
    ),
    CliCase(
        "artifact-id-with-dotdot",
        ("artifact", "show", "../../etc/passwd"),
        "artifact not found: ../../etc/passwd",
    ),
    CliCase(
        "param-conflict",
        ("log", "param", "{iteration}", "lr", "0.2"),
        "parameter 'lr' of iteration {iteration} is already '0.1'; refusing '0.2' "
        "(a parameter is set once per iteration)",
    ),
]


def _metrics_case(id: str, text: str | bytes, message: str) -> CliCase:
    return CliCase(f"metrics-{id}", ("log", "metrics", "{iteration}", "-"), message, input=text)


METRICS_CASES = [
    _metrics_case(
        "csv-no-header",
        "loss,1\n",
        "invalid header of stdin 'loss,1': expected key,value,step (CSV) or JSON lines",
    ),
    _metrics_case(
        "csv-bad-value",
        "key,value,step\nloss,0.4,\nacc,abc,2\n",
        "invalid value on line 3 of stdin 'abc': expected a number",
    ),
    _metrics_case(
        "csv-fractional-step",
        "key,value,step\nloss,0.4,1.5\n",
        "invalid step on line 2 of stdin '1.5': expected a whole number",
    ),
    _metrics_case(
        "csv-empty-key-after-good-rows",
        "key,value,step\nloss,0.4,\nloss,0.3,\n,0.2,\n",
        "invalid key on line 4 of stdin '': expected a non-empty text",
    ),
    _metrics_case(
        "csv-too-many-fields",
        "key,value,step\nloss,0.4,1,extra\n",
        "invalid line 2 of stdin 'loss,0.4,1,extra': expected at most 3 fields (key,value,step)",
    ),
    _metrics_case(
        "jsonl-broken-line",
        '{"key": "loss", "value": 1}\n{"key": "loss", "value": \n',
        'invalid line 2 of stdin \'{"key": "loss", "value": \': Expecting value',
    ),
    _metrics_case(
        "jsonl-missing-value",
        '{"key": "loss"}\n',
        'invalid line 1 of stdin \'{"key": "loss"}\': expected an object with key and value',
    ),
    _metrics_case(
        "jsonl-value-text",
        '{"key": "loss", "value": "low"}\n',
        "invalid value on line 1 of stdin 'low': expected a number",
    ),
    _metrics_case(
        "jsonl-value-boolean",
        '{"key": "loss", "value": 0.1}\n{"key": "ok", "value": true}\n',
        "invalid value on line 2 of stdin True: expected a number",
    ),
    _metrics_case(
        "jsonl-fractional-step",
        '{"key": "loss", "value": 1, "step": 1.5}\n',
        "invalid step on line 1 of stdin 1.5: expected a whole number",
    ),
    _metrics_case(
        "jsonl-key-not-text",
        '{"key": ["loss"], "value": 1}\n',
        "invalid key on line 1 of stdin ['loss']: expected a non-empty text",
    ),
    _metrics_case(
        "not-utf8",
        b"key,value\n\xff\xfe,1\n",
        "invalid stdin b'key,value\\n\\xff\\xfe,1\\n': expected UTF-8 text",
    ),
]

# Steps beyond the BIGINT column, numbers beyond float64 and repeated fields, in every input.
RANGE_CASES = [
    CliCase(
        "step-beyond-int64-argument",
        ("log", "metric", "{iteration}", "loss", "1", "--step", "99999999999999999999"),
        "invalid step 99999999999999999999: outside the step range "
        "-9223372036854775808 .. 9223372036854775807",
    ),
    _metrics_case(
        "csv-step-beyond-int64",
        "key,value,step\nloss,0.4,1\nloss,0.4,99999999999999999999\n",
        "invalid step on line 3 of stdin '99999999999999999999': outside the step range "
        "-9223372036854775808 .. 9223372036854775807",
    ),
    _metrics_case(
        "jsonl-step-below-int64",
        '{"key": "loss", "value": 1, "step": -9223372036854775809}\n',
        "invalid step on line 1 of stdin -9223372036854775809: outside the step range "
        "-9223372036854775808 .. 9223372036854775807",
    ),
    _metrics_case(
        "jsonl-value-beyond-float64",
        '{"key": "loss", "value": 1e999}\n',
        "invalid value on line 1 of stdin 1E+999: too large for a 64-bit float",
    ),
    _metrics_case(
        "csv-value-beyond-float64",
        "key,value\nloss,1e400\n",
        "invalid value on line 2 of stdin '1e400': too large for a 64-bit float",
    ),
    _metrics_case(
        "jsonl-repeated-field",
        '{"key": "loss", "value": 1, "key": "acc"}\n',
        'invalid line 1 of stdin \'{"key": "loss", "value": 1, "key": "acc"}\': '
        "the field 'key' appears twice",
    ),
]

# Python hands an argument with invalid UTF-8 bytes to the program with lone surrogates in
# their place (surrogateescape): "\udcff" is the byte 0xff.
UTF8_CASES = [
    CliCase(
        "utf8-project-name",
        ("project", "create", "x\udcff"),
        "invalid project name 'x\\udcff': not valid UTF-8 (character 2 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-description",
        ("project", "create", "p2", "--description", "\udcc3("),
        "invalid description '\\udcc3(': not valid UTF-8 (character 1 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-experiment-name",
        ("experiment", "create", "{project}", "e\udced\udca0\udc80"),
        "invalid experiment name 'e\\udced\\udca0\\udc80': not valid UTF-8 "
        "(character 2 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-parameter-key",
        ("log", "param", "{iteration}", "k\udcff", "v"),
        "invalid parameter key 'k\\udcff': not valid UTF-8 (character 2 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-parameter-value",
        ("log", "param", "{iteration}", "k", "caf\udce9"),
        "invalid value of parameter 'k' 'caf\\udce9': not valid UTF-8 "
        "(character 4 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-metric-key",
        ("log", "metric", "{iteration}", "\udcc0\udcaf", "1"),
        "invalid metric key '\\udcc0\\udcaf': not valid UTF-8 "
        "(character 1 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-notes",
        ("iteration", "start", "{experiment}", "--notes", "n\udcf8"),
        "invalid notes 'n\\udcf8': not valid UTF-8 (character 2 is an unpaired surrogate)",
    ),
    CliCase(
        "utf8-artifact-name",
        ("artifact", "put", "{experiment}", "diary.db", "--name", "m\udcff.bin"),
        "invalid artifact name 'm\\udcff.bin': not valid UTF-8 "
        "(character 2 is an unpaired surrogate)",
    ),
]

CLI_CASES = ENV_CASES + ID_CASES + METRICS_CASES + RANGE_CASES + UTF8_CASES


def _fill(text: str, ids: Ids) -> str:
    for name, value in vars(ids).items():
        text = text.replace("{" + name + "}", value)
    return text


@pytest.mark.parametrize("case", CLI_CASES, ids=[case.id for case in CLI_CASES])
def test_diary_cli_refuses_bad_input(
    diary_bad_input_box: tuple[DiarySandbox, Ids], case: CliCase
) -> None:
    box, ids = diary_bad_input_box
    before = _state(box)
    env = {k: v for k, v in box.environ().items() if k.startswith("DEARDIARY_")}
    env.update(case.env)
    result = CliRunner().invoke(cli, [_fill(a, ids) for a in case.args], env=env, input=case.input)
    assert (result.exit_code, result.stdout) == (1, ""), result.output
    assert result.stderr == f"Error: {_fill(case.message, ids)}\n"
    assert "Traceback" not in result.output
    assert _state(box) == before


def test_diary_cli_bad_input_in_a_real_process(
    diary_bad_input_box: tuple[DiarySandbox, Ids],
) -> None:
    """A few of the cases through ``python -m diary``: no traceback reaches a real stderr."""
    box, ids = diary_bad_input_box
    before = _state(box)
    for case in (ENV_CASES[4], ID_CASES[0], METRICS_CASES[3], METRICS_CASES[-1]):
        args = [_fill(a, ids) for a in case.args]
        result = run_cli(box, *args, input=case.input, **case.env)
        assert (result.returncode, result.stdout) == (1, ""), case.id
        assert result.stderr == f"Error: {_fill(case.message, ids)}\n", case.id
    assert _state(box) == before


# A corpus of invalid UTF-8: a stray continuation byte, a truncated sequence, an overlong
# encoding, an encoded surrogate, a five-byte form, bytes that never occur.
INVALID_UTF8 = [
    b"\x80",
    b"\xc3(",
    b"\xc0\xaf",
    b"\xed\xa0\x80",
    b"\xf8\x88\x80\x80\x80",
    b"\xff\xfe",
]


@pytest.mark.parametrize("raw", INVALID_UTF8, ids=[raw.hex() for raw in INVALID_UTF8])
def test_diary_invalid_bytes_in_arguments_and_env_files(
    diary_bad_input_box: tuple[DiarySandbox, Ids], raw: bytes
) -> None:
    """Real bytes through a real process: one Error line naming the input, nothing changed."""
    box, ids = diary_bad_input_box
    before = _state(box)
    text = os.fsdecode(b"x" + raw)
    commands = [
        ("project", "create", text),
        ("log", "param", ids.iteration, "lr2", text),
        ("iteration", "start", ids.experiment, "--notes", text),
    ]
    for args in commands:
        result = run_cli(box, *args)
        assert (result.returncode, result.stdout) == (1, ""), args
        assert result.stderr.startswith("Error: invalid "), args
        assert "not valid UTF-8" in result.stderr, args
        assert len(result.stderr.splitlines()) == 1, args
    env_file = box.root / "bad.env"
    env_file.write_bytes(b"DEARDIARY_DB_FILE=" + raw + b".db\n")
    result = run_cli(box, "--env-file", str(env_file), "project", "list")
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr.startswith(
        f"Error: invalid env_file='{env_file}': not valid UTF-8 (byte 0x"
    )
    assert _state(box) == before


# -- the library ------------------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryCase:
    id: str
    call: Callable[[Any, Ids], object]
    error: type[StorageError]
    message: str


LIBRARY_CASES = [
    LibraryCase(
        "empty-metric-key",
        lambda s, i: s.log_metric(i.iteration, "", 1.0),
        StorageError,
        "invalid metric key '': must not be empty",
    ),
    LibraryCase(
        "metric-value-text",
        lambda s, i: s.log_metric(i.iteration, "loss", "low"),
        StorageError,
        "invalid value of metric 'loss' 'low': expected a number",
    ),
    LibraryCase(
        "metric-value-bool",
        lambda s, i: s.log_metric(i.iteration, "loss", True),
        StorageError,
        "invalid value of metric 'loss' True: expected a number",
    ),
    LibraryCase(
        "fractional-step",
        lambda s, i: s.log_metric(i.iteration, "loss", 1.0, step=2.5),
        StorageError,
        "invalid step 2.5: expected a whole number",
    ),
    LibraryCase(
        "points-all-or-nothing",
        lambda s, i: s.log_points(i.iteration, [("loss", 1.0, None), ("", 2.0, None)]),
        StorageError,
        "invalid metric key '': must not be empty",
    ),
    LibraryCase(
        "unknown-experiment-artifact",
        lambda s, i: s.put_artifact(UNKNOWN, b"x", name="x"),
        StorageError,
        f"experiment not found: {UNKNOWN}",
    ),
    LibraryCase(
        "empty-artifact-name",
        lambda s, i: s.put_artifact(i.experiment, b"x", name=""),
        StorageError,
        "invalid artifact name '': must not be empty",
    ),
    LibraryCase(
        "missing-artifact-file",
        lambda s, i: s.put_artifact(i.experiment, "/nonexistent/model.pt"),
        StorageError,
        "invalid artifact file '/nonexistent/model.pt': no such file",
    ),
    LibraryCase(
        "artifact-of-another-experiments-iteration",
        lambda s, i: s.put_artifact(
            s.create_experiment(i.project, "other").id, b"x", name="x", iteration_id=i.iteration
        ),
        StorageError,
        "invalid iteration '{iteration}': belongs to another experiment",
    ),
    LibraryCase(
        "naive-timestamp",
        lambda s, i: s.log_metric(
            i.iteration, "loss", 1.0, timestamp=__import__("datetime").datetime(2026, 1, 1)
        ),
        StorageError,
        "invalid timestamp '2026-01-01T00:00:00': must be timezone-aware",
    ),
    LibraryCase(
        "unknown-artifact-read",
        lambda s, i: s.read_resource_data("/etc/passwd"),
        StorageError,
        "artifact not found: /etc/passwd",
    ),
]


@pytest.mark.parametrize("case", LIBRARY_CASES, ids=[case.id for case in LIBRARY_CASES])
def test_diary_library_refuses_bad_input(
    diary_bad_input_box: tuple[DiarySandbox, Ids], case: LibraryCase
) -> None:
    box, ids = diary_bad_input_box
    before = _state(box)
    with box.open() as store:
        counts = row_counts_before = before[1]
        with pytest.raises(case.error) as caught:
            case.call(store, ids)
    message = str(caught.value)
    assert message == _fill(case.message, ids)
    assert "\n" not in message
    after = _state(box)
    if case.id == "artifact-of-another-experiments-iteration":
        # The other experiment was created on purpose: only that row is new.
        assert after[1] == {**counts, "experiment": counts["experiment"] + 1}
    else:
        assert after == (before[0], row_counts_before)


def test_diary_open_refuses_bad_arguments(diary_sandbox: DiarySandbox) -> None:
    text = diary_sandbox.root / "notes.txt"
    text.write_text("not a database\n")
    digest = tree_digest(text)
    with pytest.raises(StorageError) as caught:
        diary.open(text)
    assert str(caught.value) == (
        f"{text} is a file that is not a database, not a diary database; nothing was written to it"
    )
    with pytest.raises(StorageError) as caught:
        diary.open(url="nosuchdb://x/y")
    assert str(caught.value) == (
        "invalid database URL='nosuchdb://x/y': Can't load plugin: sqlalchemy.dialects:nosuchdb"
    )
    assert tree_digest(text) == digest
    assert sorted(p.name for p in diary_sandbox.root.iterdir()) == ["notes.txt"]


# -- odd inputs that are stored literally -----------------------------------------------------

ODD_KEYS = [
    "k" * 10_000,
    "损失/λ/😀",
    "loss'); DROP TABLE metric;--",
    'a"b\\c',
    "tab\there",
    " leading and trailing ",
]


def test_diary_odd_keys_and_names_are_stored_literally(
    diary_bad_input_box: tuple[DiarySandbox, Ids],
) -> None:
    box, ids = diary_bad_input_box
    with box.open() as store:
        project = store.create_project("x'); DROP TABLE project;--")
        experiment = store.create_experiment(project.id, "Robert'); DROP TABLE experiment;--")
        iteration = store.create_iteration(experiment.id, snapshot=False).id
        for n, key in enumerate(ODD_KEYS):
            store.log_metric(iteration, key, float(n))
            store.log_param(iteration, key, key)
        store.log_metric(iteration, "nul\0key", 7.0)
        assert sorted(store.metric_keys(iteration)) == sorted([*ODD_KEYS, "nul\0key"])
        for n, key in enumerate(ODD_KEYS):
            assert [p.value for p in store.metric_history(iteration, key)] == [float(n)]
        assert store.get_params(iteration) == {key: key for key in ODD_KEYS}
        assert store.get_project(project.id).name == "x'); DROP TABLE project;--"
    counts = row_counts(box.db)
    assert counts["project"] == 2
    assert counts["metric"] == 1 + len(ODD_KEYS) + 1
    # Through the CLI too: a key is an argument, never SQL.
    sql_key = "x'; DELETE FROM metric; --"
    assert run_cli(box, "log", "metric", ids.iteration, sql_key, "3").returncode == 0
    shown = run_cli(box, "metric", "history", ids.iteration, sql_key, "--format", "json")
    assert [p["value"] for p in json.loads(shown.stdout)] == [3.0]
    assert row_counts(box.db)["metric"] == counts["metric"] + 1


def _no_constants(name: str) -> object:
    raise ValueError(f"not strict JSON: {name}")


def test_diary_nan_and_infinities_round_trip(diary_bad_input_box: tuple[DiarySandbox, Ids]) -> None:
    box, ids = diary_bad_input_box
    it = ids.iteration
    # The CLI, one point at a time.
    for text in ("nan", "inf", "-inf"):
        assert run_cli(box, "log", "metric", it, "cli", text).returncode == 0
    # CSV and JSON lines files (JSON has no NaN: Python's NaN/Infinity literals and strings).
    csv_text = "key,value,step\ncsv,nan,0\ncsv,inf,1\ncsv,-inf,2\n"
    assert run_cli(box, "log", "metrics", it, "-", input=csv_text).returncode == 0
    jsonl = (
        '{"key": "jsonl", "value": NaN}\n{"key": "jsonl", "value": Infinity}\n'
        '{"key": "jsonl", "value": "-inf"}\n'
    )
    assert run_cli(box, "log", "metrics", it, "-", input=jsonl).returncode == 0
    # The library.
    with box.open() as store:
        store.log_points(it, [("lib", math.nan, None), ("lib", math.inf, None)])
        store.log_metric(it, "lib", -math.inf)
    for key in ("cli", "csv", "jsonl", "lib"):
        with box.open() as store:
            values = [p.value for p in store.metric_history(it, key)]
        assert math.isnan(values[0]), key
        assert values[1:] == [math.inf, -math.inf], key
        csv_out = run_cli(box, "metric", "history", it, key, "--format", "csv").stdout
        assert [line.split(",")[:2] for line in csv_out.splitlines()[1:]] == [
            ["0", "nan"],
            ["1", "inf"],
            ["2", "-inf"],
        ]
        json_out = run_cli(box, "metric", "history", it, key, "--format", "json").stdout
        # Strict JSON: a parser that refuses NaN literals reads it; the strings are exact.
        parsed = [p["value"] for p in json.loads(json_out, parse_constant=_no_constants)]
        assert parsed == ["NaN", "Infinity", "-Infinity"]
        assert math.isnan(float(parsed[0]))
        assert [float(v) for v in parsed[1:]] == [math.inf, -math.inf]
        lines = run_cli(box, "metric", "history", it, key, "--format", "jsonl").stdout
        assert [json.loads(line, parse_constant=_no_constants)["value"] for line in
                lines.splitlines()] == parsed  # fmt: skip


def test_diary_artifact_names_are_metadata(diary_bad_input_box: tuple[DiarySandbox, Ids]) -> None:
    box, ids = diary_bad_input_box
    outside = box.root.parent
    before_outside = sorted(p.name for p in outside.iterdir())
    names = ["../../escape.txt", "/etc/passwd", "a\0b", "..", "dir/./x", "C:\\evil", "%2e%2e"]
    with box.open(DEARDIARY_ARTIFACT_BACKEND="filesystem") as store:
        records = [store.put_artifact(ids.experiment, n.encode() or b"x", name=n) for n in names]
        for record, name in zip(records, names, strict=True):
            assert store.get_resource(record.id).name == name
            assert store.read_resource_data(record.id) == name.encode()
            # <root>/<the database's identity>/<aa>/<uuid>, whatever the name
            stored = Path(record.uri.removeprefix("file://"))
            assert stored.parent.parent.parent == box.artifacts
    # `artifact get` without -o writes the last part of the name into the working folder,
    # or the id when the name cannot be a file name.
    got = box.root / "out"
    got.mkdir()
    for record, name in zip(records, names, strict=True):
        result = run_cli(box, "artifact", "get", str(record.id), env={**box.environ()}, timeout=60)
        assert result.returncode == 0, result.stderr
        written = Path(result.stdout.strip())
        assert written.parent == box.root, (name, written)
        assert written.read_bytes() == name.encode()
        written.unlink()
    assert sorted(p.name for p in outside.iterdir()) == before_outside
    assert uuid.UUID(ids.artifact)


def test_diary_artifact_put_refuses_what_is_not_a_regular_file(
    diary_bad_input_box: tuple[DiarySandbox, Ids],
) -> None:
    box, ids = diary_bad_input_box
    before = _state(box)
    os.mkfifo(box.root / "fifo")
    (box.root / "folder").mkdir()
    (box.root / "dangling").symlink_to(box.root / "nowhere")
    cases = {
        "/dev/zero": "not a regular file (a character device)",
        "fifo": "not a regular file (a FIFO)",
        "folder": "not a regular file (a folder)",
        "dangling": "no such file",
        "missing.bin": "no such file",
    }
    for path, reason in cases.items():
        result = run_cli(box, "artifact", "put", ids.experiment, path, timeout=30)
        assert (result.returncode, result.stdout) == (1, ""), path
        assert result.stderr == f"Error: invalid artifact file {path!r}: {reason}\n", path
    assert _state(box) == before


def test_diary_artifact_get_never_replaces_a_dangling_symlink(
    diary_bad_input_box: tuple[DiarySandbox, Ids],
) -> None:
    box, ids = diary_bad_input_box
    target = box.root / "elsewhere.json"
    (box.root / "config.json").symlink_to(target)
    result = run_cli(box, "artifact", "get", ids.inline_artifact)
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == "Error: config.json exists; choose another name with -o\n"
    assert (box.root / "config.json").is_symlink()
    assert not target.exists()
