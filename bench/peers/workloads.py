"""The workloads diary and MLflow are compared on, one per fresh process.

    python workloads.py SIDE WORKLOAD FOLDER [--size N]

``SIDE`` is ``diary`` or ``mlflow``; the script runs in that side's own virtualenv and imports
nothing but the standard library and that side's package (MLflow lives in a virtualenv of its
own, see ``bench.peers``). ``FOLDER`` is an empty folder for the side's database and artifacts.
The script prints one JSON object: ``seconds`` (the timed part), and for some workloads
``bytes`` or ``points``.

Each side is used as its documentation says, with default settings unless the workload names
one: diary a DuckDB file, MLflow its SQLite tracking store and file artifacts (the local setup
its docs recommend since 3.x).
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

Workload = Callable[[Path, int], dict[str, Any]]
WORKLOADS: dict[str, dict[str, Workload]] = {"diary": {}, "mlflow": {}}


def workload(side: str, name: str) -> Callable[[Workload], Workload]:
    def register(run: Workload) -> Workload:
        WORKLOADS[side][name] = run
        return run

    return register


def _folder_bytes(folder: Path) -> int:
    """The database files' size (artifact folders and sources excluded)."""
    return sum(path.stat().st_size for path in folder.iterdir() if path.is_file())


def _timed(run: Callable[[], Any]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


# --- diary -------------------------------------------------------------------------------------


def _diary(folder: Path, **options: Any) -> Any:
    import diary

    return diary.open(folder / "diary.db", **options)


def _diary_run(folder: Path, **options: Any) -> tuple[Any, Any]:
    store = _diary(folder, **options)
    project = store.get_or_create_project("bench")
    experiment = store.get_or_create_experiment(project.id, "bench")
    return store, experiment


@workload("diary", "iterations")
def diary_iterations(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder)

    def run() -> None:
        for i in range(size):
            with store.iteration(experiment.id) as it:
                it.log_param("lr", i * 0.001)
                it.log_metric("loss", 1.0 / (i + 1))

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds}


@workload("diary", "params_tags_single")
def diary_params_tags_single(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder, buffered=False)  # every call durable
    iteration = store.create_iteration(experiment.id)

    def run() -> None:
        for i in range(size):
            store.log_param(iteration.id, f"p{i}", i)
        for i in range(size // 10):
            store.add_tags("iteration", iteration.id, f"t{i}")

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds}


@workload("diary", "params_tags_batch")
def diary_params_tags_batch(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder, buffered=False)
    iteration = store.create_iteration(experiment.id)
    params = {f"p{i}": i for i in range(size)}
    tags = [f"t{i}" for i in range(size // 10)]

    def run() -> None:
        store.log_params(iteration.id, params)
        store.add_tags("iteration", iteration.id, *tags)

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds}


def _artifact_files(folder: Path, count: int) -> list[Path]:
    source = folder / "source"
    source.mkdir()
    files = []
    for i in range(count):
        path = source / f"weights-{i}.bin"
        path.write_bytes(os.urandom(1 << 20))
        files.append(path)
    return files


@workload("diary", "artifacts")
def diary_artifacts(folder: Path, size: int) -> dict[str, Any]:
    files = _artifact_files(folder, size)
    store, experiment = _diary_run(folder)
    iteration = store.create_iteration(experiment.id)

    def run() -> None:
        for path in files:
            store.log_artifact(iteration.id, path)

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds}


@workload("diary", "durable_points")
def diary_durable_points(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder, buffered=False)
    iteration = store.create_iteration(experiment.id)

    def run() -> None:
        for step in range(size):
            store.log_metric(iteration.id, "loss", step * 0.001, step)

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds, "points": size}


@workload("diary", "batch_points")
def diary_batch_points(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder)
    iteration = store.create_iteration(experiment.id)
    batches = [
        [("loss", step * 0.001, step) for step in range(start, min(start + 1000, size))]
        for start in range(0, size, 1000)
    ]

    def run() -> None:
        for batch in batches:
            store.log_points(iteration.id, batch)
        store.flush()

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds, "points": size, "bytes": _folder_bytes(folder)}


@workload("diary", "single_points")
def diary_single_points(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder)  # default: buffered
    iteration = store.create_iteration(experiment.id)

    def run() -> None:
        log_metric = store.log_metric
        for step in range(size):
            log_metric(iteration.id, "loss", step * 0.001)
        store.flush()

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds, "points": size}


@workload("diary", "history")
def diary_history(folder: Path, size: int) -> dict[str, Any]:
    store, experiment = _diary_run(folder)
    iteration = store.create_iteration(experiment.id)
    store.log_points(iteration.id, [("loss", i * 0.001, i) for i in range(size)])
    store.close()
    store = _diary(folder)

    def run() -> None:
        history = store.metric_history(iteration.id, "loss")
        assert len(history) == size

    seconds = _timed(run)
    store.close()
    return {"seconds": seconds, "points": size}


@workload("diary", "first_use")
def diary_first_use(folder: Path, size: int) -> dict[str, Any]:
    started = time.perf_counter()
    import diary

    store = diary.open(folder / "diary.db")
    project = store.create_project("first")
    experiment = store.create_experiment(project.id, "first")
    with store.iteration(experiment.id) as it:
        it.log_metric("loss", 1.0)
    seconds = time.perf_counter() - started
    store.close()
    return {"seconds": seconds}


# --- MLflow ------------------------------------------------------------------------------------


def _mlflow(folder: Path) -> tuple[Any, str]:
    import mlflow
    from mlflow.tracking import MlflowClient

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    client = MlflowClient()
    name = "bench"
    found = client.get_experiment_by_name(name)
    experiment = (
        found.experiment_id
        if found
        else client.create_experiment(name, artifact_location=(folder / "artifacts").as_uri())
    )
    mlflow.set_experiment(experiment_id=experiment)
    return client, experiment


@workload("mlflow", "iterations")
def mlflow_iterations(folder: Path, size: int) -> dict[str, Any]:
    import mlflow

    _mlflow(folder)

    def run() -> None:
        for i in range(size):
            with mlflow.start_run():
                mlflow.log_param("lr", i * 0.001)
                mlflow.log_metric("loss", 1.0 / (i + 1))

    return {"seconds": _timed(run)}


@workload("mlflow", "params_tags_single")
def mlflow_params_tags_single(folder: Path, size: int) -> dict[str, Any]:
    client, experiment = _mlflow(folder)
    run_id = client.create_run(experiment).info.run_id

    def run() -> None:
        for i in range(size):
            client.log_param(run_id, f"p{i}", i)
        for i in range(size // 10):
            client.set_tag(run_id, f"t{i}", "")

    return {"seconds": _timed(run)}


@workload("mlflow", "params_tags_batch")
def mlflow_params_tags_batch(folder: Path, size: int) -> dict[str, Any]:
    from mlflow.entities import Param, RunTag

    client, experiment = _mlflow(folder)
    run_id = client.create_run(experiment).info.run_id
    params = [Param(f"p{i}", str(i)) for i in range(size)]
    tags = [RunTag(f"t{i}", "") for i in range(size // 10)]
    return {"seconds": _timed(lambda: client.log_batch(run_id, params=params, tags=tags))}


@workload("mlflow", "artifacts")
def mlflow_artifacts(folder: Path, size: int) -> dict[str, Any]:
    files = _artifact_files(folder, size)
    client, experiment = _mlflow(folder)
    run_id = client.create_run(experiment).info.run_id

    def run() -> None:
        for path in files:
            client.log_artifact(run_id, str(path))

    return {"seconds": _timed(run)}


@workload("mlflow", "durable_points")
def mlflow_durable_points(folder: Path, size: int) -> dict[str, Any]:
    client, experiment = _mlflow(folder)
    run_id = client.create_run(experiment).info.run_id

    def run() -> None:
        for step in range(size):
            client.log_metric(run_id, "loss", step * 0.001, step=step)

    return {"seconds": _timed(run), "points": size}


@workload("mlflow", "batch_points")
def mlflow_batch_points(folder: Path, size: int) -> dict[str, Any]:
    from mlflow.entities import Metric

    client, experiment = _mlflow(folder)
    run_id = client.create_run(experiment).info.run_id
    now = int(time.time() * 1000)
    batches = [
        [Metric("loss", step * 0.001, now, step) for step in range(start, min(start + 1000, size))]
        for start in range(0, size, 1000)  # log_batch takes at most 1,000 metrics
    ]

    def run() -> None:
        for batch in batches:
            client.log_batch(run_id, metrics=batch)

    return {"seconds": _timed(run), "points": size, "bytes": _folder_bytes(folder)}


@workload("mlflow", "single_points")
def mlflow_single_points(folder: Path, size: int) -> dict[str, Any]:
    import mlflow

    _mlflow(folder)

    def run() -> None:
        with mlflow.start_run():
            for step in range(size):
                mlflow.log_metric("loss", step * 0.001, step=step)

    return {"seconds": _timed(run), "points": size}


@workload("mlflow", "history")
def mlflow_history(folder: Path, size: int) -> dict[str, Any]:
    from mlflow.entities import Metric

    client, experiment = _mlflow(folder)
    run_id = client.create_run(experiment).info.run_id
    now = int(time.time() * 1000)
    for start in range(0, size, 1000):
        metrics = [Metric("loss", i * 0.001, now, i) for i in range(start, min(start + 1000, size))]
        client.log_batch(run_id, metrics=metrics)

    def run() -> None:
        history = client.get_metric_history(run_id, "loss")
        assert len(history) == size

    return {"seconds": _timed(run), "points": size}


@workload("mlflow", "first_use")
def mlflow_first_use(folder: Path, size: int) -> dict[str, Any]:
    started = time.perf_counter()
    import mlflow

    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    experiment = mlflow.create_experiment("first", artifact_location=folder.as_uri())
    with mlflow.start_run(experiment_id=experiment):
        mlflow.log_metric("loss", 1.0)
    return {"seconds": time.perf_counter() - started}


# --- search: the same sweep in both stores -----------------------------------------------------

SEARCHES = {
    # name: (diary filter, diary order, MLflow filter, MLflow order). MLflow compares
    # parameters as text and only for equality.
    "search_filter": ("metrics.loss < 0.5", None, "metrics.loss < 0.5", None),
    "search_order": (None, "metrics.loss", None, "metrics.loss ASC"),
    "search_both": (
        "params.lr = 0.005 and metrics.loss < 0.5",
        None,
        "params.lr = '0.0050' and metrics.loss < 0.5",
        None,
    ),
}


def _fill_diary(folder: Path, size: int) -> None:
    import duckdb
    from sweep import Sweep, fill_diary

    store, experiment = _diary_run(folder)
    store.close()
    with duckdb.connect(str(folder / "diary.db")) as con:
        fill_diary(con, str(experiment.id), Sweep(size))


def _fill_mlflow(folder: Path, size: int) -> None:
    from sweep import Sweep, fill_mlflow

    _client, experiment = _mlflow(folder)
    fill_mlflow(folder / "mlflow.db", experiment, Sweep(size))


@workload("diary", "fill_sweep")
def diary_fill_sweep(folder: Path, size: int) -> dict[str, Any]:
    return {"seconds": _timed(lambda: _fill_diary(folder, size))}


@workload("mlflow", "fill_sweep")
def mlflow_fill_sweep(folder: Path, size: int) -> dict[str, Any]:
    return {"seconds": _timed(lambda: _fill_mlflow(folder, size))}


def _search_workload(name: str) -> None:
    diary_filter, diary_order, mlflow_filter, mlflow_order = SEARCHES[name]

    @workload("diary", name)
    def diary_search(folder: Path, size: int) -> dict[str, Any]:
        """Search a sweep ``fill_sweep`` loaded into ``folder`` (the rows as a DataFrame)."""
        import pandas  # noqa: F401  (MLflow imports it with itself; neither side is timed on it)

        from diary.query import search_runs

        store = _diary(folder)
        order = [diary_order] if diary_order else []
        found: list[int] = []
        seconds = _timed(
            lambda: found.append(len(search_runs(store, diary_filter, order_by=order).to_pandas()))
        )
        store.close()
        return {"seconds": seconds, "rows": found[0]}

    @workload("mlflow", name)
    def mlflow_search(folder: Path, size: int) -> dict[str, Any]:
        import mlflow

        _client, experiment = _mlflow(folder)
        order = [mlflow_order] if mlflow_order else None
        found: list[int] = []

        def run() -> None:
            frame = mlflow.search_runs(
                experiment_ids=[experiment],
                filter_string=mlflow_filter or "",
                order_by=order,
                max_results=1_000_000,
            )
            found.append(len(frame))

        return {"seconds": _timed(run), "rows": found[0]}


for _name in SEARCHES:
    _search_workload(_name)


def main(argv: list[str]) -> None:
    side, name, folder = argv[0], argv[1], Path(argv[2])
    size = int(argv[argv.index("--size") + 1]) if "--size" in argv else 0
    result = WORKLOADS[side][name](folder, size)
    print(json.dumps(result))


if __name__ == "__main__":
    main(sys.argv[1:])
