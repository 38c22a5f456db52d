"""The read side: the filter language, search across experiments, wide tables, summaries, and
the CLI commands over them (list, search, show, compare, tag, delete), on DuckDB and SQLite."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

import diary
from diary.cli import cli
from diary.query import FilterError, metric_summaries, parse_filter, search_runs
from diary.store import Store


@pytest.fixture
def sweep(any_store: Store) -> dict[str, Any]:
    """Two projects; a sweep of four iterations over lr and optimizer, plus a failed one."""
    store = any_store
    project = store.get_or_create_project("vision")
    sweep = store.get_or_create_experiment(project.id, "sweep")
    other = store.get_or_create_experiment(store.get_or_create_project("nlp").id, "sweep")
    ids = []
    for number, (lr, optimizer) in enumerate([(0.001, "adam"), (0.01, "adam"), (0.1, "sgd"),
                                              (1.0, "sgd")]):  # fmt: skip
        tags = ["stage=prod" if number % 2 else "stage=dev", f"run-{number}"]
        with store.iteration(sweep.id, snapshot=False, tags=tags) as it:
            it.log_params({"lr": lr, "optimizer": optimizer, "model.depth": 4 * (number + 1)})
            for step in range(10):
                it.log_metric("loss", lr * (10 - step) / 10 + number / 100)
        ids.append(it.id)
    failed = store.create_iteration(other.id, snapshot=False)
    store.log_param(failed.id, "lr", "n/a")
    store.log_metric(failed.id, "acc", 0.5)
    store.end_iteration(failed.id, "failed", error="RuntimeError: diverged")
    return {"store": store, "ids": ids, "failed": failed.id, "sweep": sweep.id, "other": other.id}


def _lrs(result: Any) -> list[str]:
    return [row["params.lr"] for row in result]


def test_filters_on_parameters_metrics_tags_and_columns(sweep: dict[str, Any]) -> None:
    store, ids = sweep["store"], sweep["ids"]
    assert _lrs(search_runs(store, "params.lr > 0.005")) == ["0.01", "0.1", "1.0"]  # numbers
    assert _lrs(search_runs(store, "params.optimizer = 'sgd'")) == ["0.1", "1.0"]  # text
    assert _lrs(search_runs(store, "params.`model.depth` in (4, 16)")) == ["0.001", "1.0"]
    assert _lrs(search_runs(store, "metrics.loss < 0.02")) == ["0.001", "0.01"]  # last value
    assert _lrs(search_runs(store, "metrics.loss.max >= 1")) == ["1.0"]
    assert _lrs(search_runs(store, "metrics.loss.count = 10 and metrics.loss.step = 9")) == [
        "0.001", "0.01", "0.1", "1.0"
    ]  # fmt: skip
    assert _lrs(search_runs(store, "tags.stage = 'prod'")) == ["0.01", "1.0"]
    assert _lrs(search_runs(store, "tag = 'run-2' or tag = 'run-3'")) == ["0.1", "1.0"]
    assert _lrs(search_runs(store, "not params.optimizer = 'sgd' and status = 'succeeded'")) == [
        "0.001", "0.01"
    ]  # fmt: skip
    assert _lrs(search_runs(store, "params.optimizer like 's%'")) == ["0.1", "1.0"]
    # A list of words compares word by word (not letter by letter).
    assert _lrs(search_runs(store, "params.optimizer in ('adam', 'x')")) == ["0.001", "0.01"]
    # not: every iteration the list does not match, those without the parameter included.
    assert _lrs(search_runs(store, "params.optimizer not in ('adam', 's')")) == [
        "0.1", "1.0", "n/a"
    ]  # fmt: skip
    failed = search_runs(store, "status = 'failed' and parent_id is null")
    assert [row["id"] for row in failed] == [sweep["failed"]]
    assert search_runs(store, f"id = '{ids[2]}'").ids() == [ids[2]]
    assert len(search_runs(store, "created_at >= '2000-01-01' and ended_at is not null")) == 5
    # Text that is no number never matches a numeric comparison ("n/a" > 0 is not true).
    assert "n/a" not in _lrs(search_runs(store, "params.lr > -1"))
    # Values are bound, never pasted into SQL.
    assert len(search_runs(store, "params.optimizer = 'x'' or 1=1 --'")) == 0


def test_scope_order_limit_and_offset(sweep: dict[str, Any]) -> None:
    store = sweep["store"]
    ordered = search_runs(store, order_by=["metrics.loss desc"], experiments=[sweep["sweep"]])
    assert _lrs(ordered) == ["1.0", "0.1", "0.01", "0.001"]
    by_lr = search_runs(store, order_by=["params.lr desc"])  # numerically; "n/a" last
    assert _lrs(by_lr) == ["1.0", "0.1", "0.01", "0.001", "n/a"]
    assert _lrs(search_runs(store, order_by=["params.lr"], limit=2, offset=1)) == ["0.01", "0.1"]
    assert _lrs(search_runs(store, projects=["nlp"])) == ["n/a"]
    with pytest.raises(Exception, match="2 experiments have it"):
        search_runs(store, experiments=["sweep"])  # one name in two projects: ambiguous
    assert len(search_runs(store, limit=0)) == 0


def test_columns_narrow_what_is_read(
    sweep: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = sweep["store"]
    narrow = search_runs(store, experiments=[sweep["sweep"]], columns=["params.lr", "tags"])
    assert (narrow.params, narrow.metrics) == (["lr"], [])
    assert _lrs(narrow) == ["0.001", "0.01", "0.1", "1.0"]
    metric = search_runs(store, "params.lr > 0.5", columns=["metrics.loss", "params.nope"])
    assert (metric.params, metric.metrics) == ([], ["loss"])
    assert metric[0]["metrics.loss"] == pytest.approx(0.13)
    # Many rows take the engine's own semi-join instead of a list of ids: the same rows.
    from diary.query import search as search_module

    many = search_runs(store, order_by=["params.lr"])
    monkeypatch.setattr(search_module, "_CHUNK", 2)
    assert search_runs(store, order_by=["params.lr"]).rows == many.rows


def test_wide_table_as_records_arrow_and_pandas(sweep: dict[str, Any]) -> None:
    result = search_runs(sweep["store"], experiments=[sweep["sweep"]])
    assert result.params == ["lr", "model.depth", "optimizer"]
    assert result.metrics == ["loss"]
    assert result.columns == [
        "id", "experiment_id", "parent_id", "status", "created_at", "ended_at",
        "params.lr", "params.model.depth", "params.optimizer", "metrics.loss", "tags",
    ]  # fmt: skip
    first = result[0]
    assert (first["status"], first["params.optimizer"], first["tags"]) == (
        "succeeded", "adam", ["run-0", "stage=dev"]
    )  # fmt: skip
    assert first["metrics.loss"] == pytest.approx(0.0001)
    table = result.to_arrow()
    assert table.num_rows == 4
    assert table.column("params.lr").to_pylist() == ["0.001", "0.01", "0.1", "1.0"]
    frame = result.to_pandas()
    assert list(frame.columns) == result.columns
    assert frame["metrics.loss"].iloc[3] == pytest.approx(0.13)


def test_the_data_frame_is_the_one_arrow_would_make(sweep: dict[str, Any]) -> None:
    """to_pandas builds the frame from the rows; it equals the frame Arrow converts, dtypes
    included, for full, narrowed, unfinished and empty results."""
    import pandas

    store = sweep["store"]
    running = store.create_iteration(sweep["other"], snapshot=False)  # ended_at: all None
    try:
        for result in (
            search_runs(store),
            search_runs(store, columns=["params.lr", "tags"]),
            search_runs(store, f"id = '{running.id}'"),
            search_runs(store, "status = 'failed'"),
            search_runs(store, limit=0),
        ):
            pandas.testing.assert_frame_equal(result.to_pandas(), result.to_arrow().to_pandas())
    finally:
        store.delete_iteration(running.id)


def test_metric_summaries_are_computed_in_the_engine(any_store: Store) -> None:
    store = any_store
    experiment = store.get_or_create_experiment(store.get_or_create_project("p").id, "e")
    iteration = store.create_iteration(experiment.id, snapshot=False).id
    store.log_points(iteration, [("loss", 3.0, 5), ("loss", 1.0, 7), ("loss", 2.0, 6)])
    store.log_metric(iteration, "acc", 0.5, 0)
    summaries = metric_summaries(store, iteration)
    assert {k: v.to_dict() for k, v in summaries.items()} == {
        "acc": {"last": 0.5, "step": 0, "min": 0.5, "max": 0.5, "count": 1},
        "loss": {"last": 1.0, "step": 7, "min": 1.0, "max": 3.0, "count": 3},
    }


@pytest.mark.parametrize(
    ("text", "position", "reason"),
    [
        ("params.lr >", 12, "expected a value"),
        ("params.lr > 0.1 and", 20, "the filter ends too early"),
        ("params.lr >> 1", 12, "expected a value (a number or a quoted string), not '>'"),
        ("foo = 1", 1, "unknown field 'foo'"),
        ("metrics.loss.median < 1", 1, "a metric is metrics.KEY or metrics.KEY."),
        ("params.lr = 'abc", 13, "unexpected character"),
        ("(params.lr = 1", 15, "expected ')'"),
        ("params.lr = 1 params.x = 2", 15, "unexpected 'params'"),
        ("", 1, "the filter is empty"),
        ("status ~ 1", 8, "unexpected character '~'"),
    ],
)
def test_filter_errors_point_at_the_mistake(text: str, position: int, reason: str) -> None:
    with pytest.raises(FilterError) as raised:
        parse_filter(text)
    assert raised.value.position == position
    assert str(raised.value).startswith(f"invalid filter {text!r} at position {position}: ")
    assert reason in str(raised.value)
    assert "\n" not in str(raised.value)


def test_an_unknown_key_is_an_error_not_an_empty_result(sweep: dict[str, Any]) -> None:
    with pytest.raises(FilterError) as raised:
        search_runs(sweep["store"], "params.lr > 0 and metrics.los < 1")
    assert str(raised.value) == (
        "invalid filter 'params.lr > 0 and metrics.los < 1' at position 19: no iteration has "
        "the metric 'los'"
    )
    with pytest.raises(FilterError, match="no iteration has the parameter 'lrr'"):
        search_runs(sweep["store"], order_by=["params.lrr"])


def test_nan_values_are_found_and_ordered(tmp_path: Path) -> None:
    with diary.open(tmp_path / "d.db") as store:
        experiment = store.get_or_create_experiment(store.get_or_create_project("p").id, "e")
        for value in (math.nan, 1.0):
            with store.iteration(experiment.id, snapshot=False) as it:
                it.log_metric("loss", value)
        assert len(search_runs(store, "metrics.loss = nan")) == 1
        assert search_runs(store, "metrics.loss < 2")[0]["metrics.loss"] == 1.0


def _cli(db: Path, *args: str) -> Any:
    return CliRunner().invoke(cli, ["--db", str(db), *args])


def test_cli_list_search_show_compare_tag_delete(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    with diary.open(db) as store:
        experiment = store.get_or_create_experiment(store.get_or_create_project("p").id, "sweep")
        ids = []
        for lr in (0.1, 0.01):
            with store.iteration(experiment.id, snapshot=False) as it:
                it.log_params({"lr": lr, "seed": 1})
                it.log_metrics({"loss": lr * 2, "acc": 0.9})
            ids.append(str(it.id))
    listed = _cli(db, "iteration", "list", "sweep")
    assert listed.exit_code == 0, listed.output
    assert listed.stdout.splitlines()[0].split() == [
        "ID", "STATUS", "CREATED_AT", "PARAMS.LR", "PARAMS.SEED", "METRICS.ACC", "METRICS.LOSS"
    ]  # fmt: skip
    found = json.loads(
        _cli(db, "iteration", "search", "metrics.loss < 0.1", "--format", "json").stdout
    )
    assert [(row["id"], row["params.lr"]) for row in found] == [(ids[1], "0.01")]
    shown = json.loads(_cli(db, "iteration", "show", ids[0], "--json").stdout)
    assert (shown["params"], shown["metrics"]["loss"]["last"]) == ({"lr": "0.1", "seed": "1"}, 0.2)
    text = _cli(db, "iteration", "show", ids[0]).stdout
    assert "parameters" in text and "metrics" in text  # noqa: PT018
    compared = _cli(db, "compare", *ids).stdout.splitlines()
    width = compared[0].index(ids[0][:8].upper())
    assert [line[:width].strip() for line in compared] == [
        "FIELD", "status", "* params.lr", "metrics.acc.last", "metrics.acc.min",
        "metrics.acc.max", "* metrics.loss.last", "* metrics.loss.min", "* metrics.loss.max",
    ]  # fmt: skip
    assert compared[6].split()[-1] == ids[1][:8]  # the smaller last loss is the best
    most = json.loads(_cli(db, "iteration", "compare", *ids, "--maximize", "loss", "--json").stdout)
    assert [row["best"] for row in most if row["field"] == "metrics.loss.last"] == [ids[0]]
    assert _cli(db, "experiment", "tag", "sweep", "stage=prod").stdout == "stage=prod\n"
    assert _cli(db, "project", "tag", "p", "team-a").stdout == "team-a\n"
    assert _cli(db, "project", "untag", "p", "team-a").stdout == "\n"
    assert _cli(db, "iteration", "tag", ids[0], "best", "stage=final").stdout == (
        "best, stage=final\n"
    )
    tagged = _cli(db, "iteration", "search", "tags.stage = 'final'", "--format", "jsonl")
    assert [json.loads(line)["id"] for line in tagged.stdout.splitlines()] == [ids[0]]
    assert _cli(db, "iteration", "untag", ids[0], "best").stdout == "stage=final\n"
    refused = _cli(db, "iteration", "delete", ids[1])
    assert (refused.exit_code, refused.stderr.splitlines()[-1]) == (
        2, "Error: deleting needs --yes when not run at a terminal"
    )  # fmt: skip
    assert _cli(db, "iteration", "delete", ids[1], "--yes").exit_code == 0
    bad = _cli(db, "iteration", "search", "params.lr >")
    assert (bad.exit_code, bad.stderr) == (
        1, "Error: invalid filter 'params.lr >' at position 12: expected a value\n"
    )  # fmt: skip
    assert [UUID(row["id"]) for row in json.loads(
        _cli(db, "iteration", "list", "sweep", "--json").stdout
    )] == [UUID(ids[0])]  # fmt: skip


def test_metric_plot_in_the_terminal_and_to_files(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    with diary.open(db) as store:
        experiment = store.get_or_create_experiment(store.get_or_create_project("p").id, "e")
        ids = []
        for scale in (1.0, 2.0):
            iteration = store.create_iteration(experiment.id, snapshot=False).id
            store.log_points(
                iteration,
                [("loss", scale / (step + 1), step) for step in range(100_000)]
                + [("val", math.nan, 0), ("val", scale, 1)],
            )
            ids.append(str(iteration))
    chart = _cli(db, "metric", "plot", *ids, "loss", "--width", "80", "--height", "15")
    assert chart.exit_code == 0, chart.output
    lines = chart.stdout.splitlines()
    assert len(lines) in (15, 16)  # the chart, and the line the echo ends
    assert f"{ids[0][:8]} loss" in chart.stdout
    assert f"{ids[1][:8]} loss" in chart.stdout
    assert "\x1b[" not in chart.stdout  # no colour codes outside a terminal
    keys = _cli(db, "metric", "plot", ids[0], "--key", "loss", "--key", "val", "--width", "60")
    assert keys.exit_code == 0, keys.output
    assert "loss" in keys.stdout and "val" in keys.stdout  # noqa: PT018
    for suffix, magic in ((".png", b"\x89PNG"), (".svg", b"<?xml"), (".html", b"<!DOCTYPE")):
        target = tmp_path / f"chart{suffix}"
        written = _cli(db, "metric", "plot", *ids, "loss", "--output", str(target))
        assert (written.exit_code, written.stdout) == (0, f"{target}\n"), written.output
        assert target.read_bytes().startswith(magic)
    wrong = _cli(db, "metric", "plot", ids[0], "loss", "--output", str(tmp_path / "c.jpg"))
    assert wrong.exit_code == 2
    missing = _cli(db, "metric", "plot", ids[0], "nope")
    assert (missing.exit_code, missing.stderr) == (
        1, f"Error: invalid metric 'nope': iteration {ids[0]} has no points of it\n"
    )  # fmt: skip


def test_experiments_and_projects_are_deleted_only_when_asked(tmp_path: Path) -> None:
    db = tmp_path / "d.db"
    with diary.open(db) as store:
        project = store.get_or_create_project("p")
        store.get_or_create_experiment(project.id, "gone")
        store.get_or_create_experiment(project.id, "kept")
    refused = _cli(db, "experiment", "delete", "gone")
    assert refused.exit_code == 2
    assert _cli(db, "experiment", "delete", "gone", "--yes").exit_code == 0
    names = [e["name"] for e in json.loads(_cli(db, "experiment", "list", "p", "--json").stdout)]
    assert names == ["kept"]
    assert _cli(db, "project", "delete", "p", "--yes").exit_code == 0
    assert json.loads(_cli(db, "project", "list", "--json").stdout) == []


_NASTY = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="`\x00"),
    min_size=1,
    max_size=12,
).map(lambda text: text if text.strip() else f"k{text}")  # a blank key is refused


@pytest.fixture(scope="module")
def shared_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One small database for every hypothesis example (module-scoped: examples reuse it)."""
    with diary.open(tmp_path_factory.mktemp("query") / "d.db", buffered=False) as store:
        experiment = store.get_or_create_experiment(store.get_or_create_project("p").id, "e")
        ids = [store.create_iteration(experiment.id, snapshot=False).id for _ in range(2)]
        yield store, ids


@settings(
    max_examples=60,
    deadline=None,
    # A loaded CI machine is slow, not wrong: the examples are what matters.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(key=_NASTY, value=_NASTY)
@example(key="0", value="\\")  # a backslash is an ordinary character, not an escape
@example(key="a.b", value="it's; DROP TABLE parameter; --")
def test_keys_and_values_with_any_characters_are_bound_never_pasted(
    shared_store: Any, key: str, value: str
) -> None:
    """Quotes, dots, unicode, SQL: a parameter named and valued anyhow finds exactly itself."""
    store, ids = shared_store
    iteration = ids[0]
    store.log_param(iteration, key, value)
    try:
        quoted = value.replace("'", "''")
        found = search_runs(store, f"params.`{key}` = '{quoted}'")
        assert found.ids() == [iteration]
        assert found[0][f"params.{key}"] == value
        assert search_runs(store, f"params.`{key}` != '{quoted}'").ids() == []
        assert len(search_runs(store)) == 2  # nothing else was changed or matched
    finally:
        store.delete_parameter(iteration, key)


def _strict(name: str) -> object:
    raise ValueError(f"not strict JSON: {name}")


def test_every_format_reads_back_with_a_strict_parser(tmp_path: Path) -> None:
    import csv
    import io

    db = tmp_path / "d.db"
    with diary.open(db) as store:
        experiment = store.get_or_create_experiment(store.get_or_create_project("p").id, "e")
        with store.iteration(experiment.id, snapshot=False, tags=["a"]) as it:
            it.log_params({"lr": 0.1, "note": 'say "hi", then go'})
            for value in (math.nan, math.inf, 0.5):
                it.log_metric("loss", value)
    commands = [
        ("project", "list"),
        ("experiment", "list", "p"),
        ("iteration", "list", "e"),
        ("iteration", "search", "params.lr = 0.1"),
        ("metric", "history", str(it.id), "loss"),
        ("metric", "keys", str(it.id)),
        ("artifact", "list", "e"),
        ("compare", str(it.id)),
        ("config",),
    ]
    for args in commands:
        as_json = _cli(db, *args, "--format", "json")
        assert as_json.exit_code == 0, (args, as_json.output)
        parsed = json.loads(as_json.stdout, parse_constant=_strict)
        lines = _cli(db, *args, "--format", "jsonl").stdout.splitlines()
        records = [json.loads(line, parse_constant=_strict) for line in lines]
        assert records == (parsed if isinstance(parsed, list) else [parsed]), args
        table = _cli(db, *args, "--format", "csv").stdout
        read = list(csv.DictReader(io.StringIO(table)))
        assert len(read) == len(records), args
    both = _cli(db, "project", "list", "--json", "--format", "csv")
    assert (both.exit_code, both.stderr.splitlines()[-1]) == (
        2, "Error: --json and --format csv contradict each other; give one"
    )  # fmt: skip


def test_commands_that_read_never_create_a_database(tmp_path: Path) -> None:
    missing = tmp_path / "nothere.db"
    for args in (
        ("project", "list"),
        ("experiment", "list", "p"),
        ("iteration", "list", "e"),
        ("iteration", "search"),
        ("metric", "keys", "00000000-0000-4000-8000-000000000000"),
        ("compare", "00000000-0000-4000-8000-000000000000"),
        ("artifact", "verify"),
        ("db", "current"),
    ):
        result = _cli(missing, *args)
        assert result.exit_code == 1, args
        assert str(missing) in result.stderr, args
        assert not missing.exists(), args
    assert list(tmp_path.iterdir()) == []


def test_the_terminal_envelope_keeps_spikes_and_order() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    from diary.cli.plot import envelope

    @given(
        st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=0, max_size=400),
        st.integers(min_value=1, max_value=40),
    )
    def check(values: list[float], buckets: int) -> None:
        steps = list(range(len(values)))
        kept_steps, kept_values = envelope(steps, values, buckets)
        assert kept_steps == sorted(kept_steps)  # in order, no point twice
        assert len(set(kept_steps)) == len(kept_steps)
        assert all(values[s] == v or v != v for s, v in zip(kept_steps, kept_values, strict=True))
        finite = [v for v in values if math.isfinite(v)]
        odd = sum(1 for v in values if not math.isfinite(v))
        if len(values) > 2 * buckets:
            assert len(kept_values) <= 2 * buckets + odd
        if finite:  # the extremes survive
            assert min(finite) in kept_values
            assert max(finite) in kept_values
        assert sum(1 for v in kept_values if not math.isfinite(v)) == odd

    check()
