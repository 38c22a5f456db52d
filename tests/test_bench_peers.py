"""``make bench-peers`` cannot rot on diary's side: every diary workload runs at a small size,
and the searches find exactly the runs the sweep's definition says (MLflow is not installed
by ``make test``; its side shares the sweep and the table code checked here)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
WORKLOADS = REPO / "bench" / "peers" / "workloads.py"
SIZES = {
    "artifacts": 3,
    "durable_points": 20,
    "batch_points": 2500,
    "single_points": 500,
    "history": 500,
    "iterations": 5,
    "params_tags_single": 20,
    "params_tags_batch": 20,
}


def _run(side: str, workload: str, folder: Path, size: int) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, str(WORKLOADS), side, workload, str(folder), "--size", str(size)],
        capture_output=True, text=True, cwd=folder, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


@pytest.mark.timeout(600)
def test_every_diary_workload_runs(tmp_path: Path) -> None:
    sys.path.insert(0, str(WORKLOADS.parent))
    try:
        import workloads
    finally:
        sys.path.remove(str(WORKLOADS.parent))
    names = set(workloads.WORKLOADS["diary"])
    assert names == set(workloads.WORKLOADS["mlflow"])  # every workload on both sides
    for name in sorted(names - {"fill_sweep", *workloads.SEARCHES}):
        folder = tmp_path / name
        folder.mkdir()
        result = _run("diary", name, folder, SIZES.get(name, 10))
        assert float(result["seconds"]) > 0  # type: ignore[arg-type]
        if "bytes" in result:
            assert int(result["bytes"]) > 0  # type: ignore[call-overload]


def test_searches_find_what_the_sweep_defines(tmp_path: Path) -> None:
    runs = 300
    _run("diary", "fill_sweep", tmp_path, runs)

    def last(i: int, key: int) -> float:  # the sweep's definition (bench/peers/sweep.py)
        return ((7 * i + key + 99) % 1000) / 1000

    expected = {
        "search_filter": sum(last(i, 0) < 0.5 for i in range(runs)),
        "search_order": runs,
        "search_both": sum(i % 97 == 50 and last(i, 0) < 0.5 for i in range(runs)),
    }
    assert expected["search_both"] > 0
    for name, rows in expected.items():
        assert _run("diary", name, tmp_path, runs)["rows"] == rows, name


def test_the_peers_table_reads_ratios_both_ways() -> None:
    sys.path.insert(0, str(REPO))
    try:
        from bench.peers.__main__ import table
    finally:
        sys.path.remove(str(REPO))
    rows = [
        {"title": "fast", "unit": "s", "diary": 1.0, "mlflow": 5.0, "mlflow_over_diary": 5.0,
         "mlflow_projected_from": 2000},
        {"title": "slow", "unit": "s", "diary": 2.0, "mlflow": 1.0, "mlflow_over_diary": 0.5,
         "mlflow_projected_from": None},
        {"title": "disk", "unit": "bytes/point", "diary": 34.0, "mlflow": 242.0,
         "mlflow_over_diary": 242 / 34, "mlflow_projected_from": None},
    ]  # fmt: skip
    text = table(rows)
    assert "| fast | 5.000 s (projected from 2,000) | 1.000 s | 5.0x faster |" in text
    assert "| slow | 1.000 s | 2.000 s | 2.0x slower |" in text
    assert "| disk | 242 B | 34 B | 7.1x smaller |" in text
