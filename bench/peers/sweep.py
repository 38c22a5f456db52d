"""One hyperparameter sweep, written straight into diary's and MLflow's tables.

The search figures measure reading, so the sweep is loaded with each engine's own bulk SQL
(tens of seconds instead of hours through either library's API). Both sides get the same rows:
run ``i`` has parameters ``lr``, ``p1`` ... (all ``(i % 97) * 0.0001`` as text with four
decimals) and metric keys ``loss``, ``m1`` ... of ``points`` steps each, step ``s`` of key ``k``
worth ``((7 i + k + s) % 1000) / 1000``. Only the standard library and the engine's own driver
are imported, so the module runs in MLflow's virtualenv too.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Sweep:
    """The shape of a sweep: runs, parameters per run, metric keys per run, points per key."""

    runs: int
    params: int = 20
    keys: int = 10
    points: int = 100

    @property
    def param_names(self) -> list[str]:
        return ["lr", *(f"p{j}" for j in range(1, self.params))]

    @property
    def metric_names(self) -> list[str]:
        return ["loss", *(f"m{k}" for k in range(1, self.keys))]


# Each name with its position, as an inline table both engines read.
def _names(names: list[str]) -> str:
    return "(VALUES " + ", ".join(f"('{name}', {n})" for n, name in enumerate(names)) + ")"


def fill_diary(duckdb_connection: Any, experiment_id: str, sweep: Sweep) -> None:
    """Insert the sweep's iterations, parameters, points and metric summaries into a diary
    DuckDB database.

    ``duckdb_connection`` is a raw ``duckdb`` connection to the file (no store open on it).
    """
    con = duckdb_connection
    con.execute("BEGIN")
    con.execute(
        "CREATE TEMP TABLE sweep_runs AS SELECT range AS i, uuid() AS id FROM range(?)",
        [sweep.runs],
    )
    con.execute(
        "INSERT INTO iteration (id, experiment_id, status, created_at, ended_at) "
        "SELECT id, ?::UUID, 'succeeded', "
        "TIMESTAMP '2026-01-01' + to_microseconds(i * 1000), "
        "TIMESTAMP '2026-01-01' + to_microseconds(i * 1000 + 500) FROM sweep_runs ORDER BY i",
        [experiment_id],
    )
    con.execute(
        "INSERT INTO parameter (iteration_id, key, value, created_at) "
        "SELECT r.id, p.name, printf('%.4f', (r.i % 97) * 0.0001), TIMESTAMP '2026-01-01' "
        f"FROM sweep_runs r, {_names(sweep.param_names)} p(name, n) ORDER BY r.i, p.n"
    )
    con.execute(
        "INSERT INTO metric (iteration_id, key, step, value, timestamp) "
        "SELECT r.id, k.name, s.range, ((7 * r.i + k.n + s.range) % 1000) / 1000.0, "
        "TIMESTAMP '2026-01-01' "
        f"FROM sweep_runs r, {_names(sweep.metric_names)} k(name, n), range(?) s "
        "ORDER BY r.i, k.n, s.range",
        [sweep.points],
    )
    # What diary's writes keep up to date with the points (as MLflow's latest_metrics).
    latest = "(step, timestamp, value)"
    con.execute(
        "INSERT INTO metric_summary (iteration_id, key, last, step, last_timestamp, min, max, "
        f"count) SELECT iteration_id, key, arg_max(value, {latest}), max(step), "
        f"arg_max(timestamp, {latest}), min(value), max(value), count(*) FROM metric "
        "WHERE iteration_id IN (SELECT id FROM sweep_runs) GROUP BY iteration_id, key"
    )
    con.execute("DROP TABLE sweep_runs")
    con.execute("COMMIT")


def fill_mlflow(database: Path, experiment_id: str, sweep: Sweep) -> None:
    """Insert the sweep's runs, params, metrics and latest metrics into MLflow's SQLite store.

    The tables must exist (create the experiment through MLflow first).
    """
    con = sqlite3.connect(database)
    try:
        con.execute("BEGIN")
        con.execute("CREATE TEMP TABLE sweep_runs (i INTEGER PRIMARY KEY, id TEXT)")
        con.executemany(
            "INSERT INTO sweep_runs VALUES (?, ?)", ((i, f"{i:032x}") for i in range(sweep.runs))
        )
        con.execute("CREATE TEMP TABLE steps (s INTEGER PRIMARY KEY)")
        con.executemany("INSERT INTO steps VALUES (?)", ((s,) for s in range(sweep.points)))
        con.execute(
            "INSERT INTO runs (run_uuid, name, source_type, source_name, entry_point_name, "
            "user_id, status, start_time, end_time, source_version, lifecycle_stage, "
            "artifact_uri, experiment_id) "
            "SELECT id, 'run-' || i, 'LOCAL', '', '', 'bench', 'FINISHED', "
            "1767225600000 + i, 1767225600000 + i + 1, '', 'active', '', ? FROM sweep_runs",
            [experiment_id],
        )
        con.execute(
            "INSERT INTO params (key, value, run_uuid) "
            "SELECT p.column1, printf('%.4f', (r.i % 97) * 0.0001), r.id "
            f"FROM sweep_runs r, {_names(sweep.param_names)} p"
        )
        metric = "((7 * r.i + k.column2 + s.s) % 1000) / 1000.0"
        con.execute(
            "INSERT INTO metrics (key, value, timestamp, run_uuid, step, is_nan) "
            f"SELECT k.column1, {metric}, 1767225600000, r.id, s.s, 0 "
            f"FROM sweep_runs r, {_names(sweep.metric_names)} k, steps s"
        )
        last = sweep.points - 1
        con.execute(
            "INSERT INTO latest_metrics (key, value, timestamp, step, is_nan, run_uuid) "
            f"SELECT k.column1, {metric.replace('s.s', str(last))}, 1767225600000, {last}, 0, "
            f"r.id FROM sweep_runs r, {_names(sweep.metric_names)} k"
        )
        con.execute("COMMIT")
    finally:
        con.close()
