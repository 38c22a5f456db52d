"""Run every workload on diary and on MLflow, side by side; write ``bench/results/peers.json``.

::

    python -m bench.peers                  # make bench-peers: full sizes (~20 minutes)
    python -m bench.peers --quick          # small sizes, one repetition (a few minutes)
    python -m bench.peers --only iterations,history --repeats 5

MLflow is installed into a virtualenv of its own (``.venv-mlflow``, created on first use with
``uv``), never into the project's. Each measurement is a fresh process; the sides alternate
(which one goes first alternates too), and the table shows medians and the ratio
``MLflow time / diary time`` (above 1: diary is faster).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
WORKLOADS = Path(__file__).with_name("workloads.py")
MLFLOW_VENV = REPO / ".venv-mlflow"
MLFLOW_REQUIREMENT = "mlflow==3.17.2"
RESULTS = REPO / "bench" / "results" / "peers.json"


@dataclass(frozen=True)
class Case:
    """One line of the table: a workload at a size on both sides."""

    name: str
    title: str
    workload: str
    full: int
    quick: int
    mlflow_size: int | None = None  # MLflow runs a smaller size, projected (too slow otherwise)
    sweep: int | None = None  # searches: the sweep size (runs), loaded once per side
    reads: str = "seconds"  # "seconds", or "bytes_per_point"


CASES = (
    Case("iterations", "1,000 iterations, each `with` + one param + one metric", "iterations",
         1000, 100),
    Case("params_tags_single", "100 params + 10 tags, one call each, durable",
         "params_tags_single", 100, 100),
    Case("params_tags_batch", "100 params + 10 tags in one batch call", "params_tags_batch",
         100, 100),
    Case("artifacts", "200 x 1 MiB artifacts, one `log_artifact` call each", "artifacts",
         200, 20),
    Case("durable_points", "2,000 durable single points", "durable_points", 2000, 200),
    Case("search_filter_1k", "search 1,000 runs: metric filter", "search_filter", 0, 0,
         sweep=1000),
    Case("search_order_1k", "search 1,000 runs: order by a metric", "search_order", 0, 0,
         sweep=1000),
    Case("search_both_1k", "search 1,000 runs: param and metric filter", "search_both", 0, 0,
         sweep=1000),
    Case("search_both_10k", "search 10,000 runs (20 params, 10 x 100 points): param and metric",
         "search_both", 0, 0, sweep=10_000),
    Case("first_use", "first use, import included", "first_use", 0, 0),
    Case("batch_points", "100,000 points in batches of 1,000", "batch_points", 100_000, 10_000),
    Case("single_points", "100,000 single `log_metric` calls, default settings",
         "single_points", 100_000, 10_000, mlflow_size=2000),
    Case("history", "history of 100,000 points", "history", 100_000, 10_000),
    Case("disk_per_point", "disk per point (100,000 points in batches)", "batch_points",
         100_000, 10_000, reads="bytes_per_point"),
)  # fmt: skip


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".venv" / "bin" / "uv")
    if not Path(found).exists():
        raise SystemExit("uv is needed to create MLflow's virtualenv (make install provides it)")
    return found


def ensure_mlflow() -> Path:
    """MLflow's own virtualenv, created once and reused; its Python."""
    python = MLFLOW_VENV / "bin" / "python"
    check = [str(python), "-c", "import mlflow, sys; sys.exit(mlflow.__version__ != '3.17.2')"]
    if python.exists() and subprocess.run(check, capture_output=True).returncode == 0:
        return python
    uv = _uv()
    print(f"installing {MLFLOW_REQUIREMENT} into {MLFLOW_VENV} ...", file=sys.stderr)
    subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(MLFLOW_VENV)],
                   check=True)  # fmt: skip
    subprocess.run(
        [uv, "pip", "install", "--quiet", "--python", str(python), MLFLOW_REQUIREMENT],
        check=True,
    )
    return python


def precompile(python: Path, *folders: Path) -> None:
    """Byte-compile a side's installed packages (and ``folders``) once, as pip does when it
    installs: otherwise, where ``PYTHONDONTWRITEBYTECODE`` is set, every fresh process would
    compile its imports from source, and the figures would measure the compiler."""
    site = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    subprocess.run(
        [str(python), "-m", "compileall", "-q", "-j", "0", site, *map(str, folders)],
        capture_output=True, check=False,  # a file that does not compile is skipped, not fatal
    )  # fmt: skip


def _environment() -> dict[str, str]:
    env = {**os.environ, "MLFLOW_ENABLE_ASYNC_LOGGING": "false", "PYTHONWARNINGS": "ignore"}
    env.pop("PYTHONDONTWRITEBYTECODE", None)  # both sides run as installed: bytecode cached
    for name in [name for name in env if name.startswith("DEARDIARY_")]:
        del env[name]  # both sides run with their defaults
    return env


def run_workload(python: Path, side: str, workload: str, folder: Path, size: int) -> dict[str, Any]:
    """One fresh process of one side; its JSON result."""
    done = subprocess.run(
        [str(python), str(WORKLOADS), side, workload, str(folder), "--size", str(size)],
        capture_output=True, text=True, env=_environment(), cwd=folder, timeout=3600,
    )  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"{side} {workload} failed:\n{done.stderr[-3000:]}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def time_cli(command: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, env=env, cwd=cwd, timeout=600)
    return time.perf_counter() - started


def _value(case: Case, result: dict[str, Any], size: int, projected_to: int) -> float:
    if case.reads == "bytes_per_point":
        return float(result["bytes"]) / float(result["points"])
    if not size:
        return float(result["seconds"])
    return float(result["seconds"]) * projected_to / size


def measure(
    case: Case, pythons: dict[str, Path], repeats: int, quick: bool, sweeps: dict[Any, Path]
) -> dict[str, Any]:
    size = case.quick if quick else case.full
    runs: dict[str, list[float]] = {"diary": [], "mlflow": []}
    sides = ["diary", "mlflow"]
    for repetition in range(repeats):
        for side in sides if repetition % 2 == 0 else sides[::-1]:
            side_size = (
                min(size, case.mlflow_size) if side == "mlflow" and case.mlflow_size else size
            )
            if case.sweep is not None:
                sweep = case.sweep if not quick else max(case.sweep // 10, 100)
                folder = sweeps.get((side, sweep))
                if folder is None:
                    folder = Path(tempfile.mkdtemp(prefix=f"peers-{side}-sweep-"))
                    run_workload(pythons[side], side, "fill_sweep", folder, sweep)
                    sweeps[(side, sweep)] = folder
                result = run_workload(pythons[side], side, case.workload, folder, sweep)
                runs[side].append(float(result["seconds"]))
                continue
            with tempfile.TemporaryDirectory(prefix=f"peers-{side}-") as scratch:
                result = run_workload(pythons[side], side, case.workload, Path(scratch), side_size)
            runs[side].append(_value(case, result, side_size, size))
    diary, mlflow = statistics.median(runs["diary"]), statistics.median(runs["mlflow"])
    return {
        "name": case.name,
        "title": case.title,
        "unit": "bytes/point" if case.reads == "bytes_per_point" else "s",
        "size": size,
        "mlflow_projected_from": case.mlflow_size
        if case.mlflow_size and case.mlflow_size < size
        else None,
        "diary": diary,
        "mlflow": mlflow,
        "mlflow_over_diary": mlflow / diary if diary else None,
        "runs": runs,
    }


def measure_cli(
    pythons: dict[str, Path], repeats: int, sweeps: dict[Any, Path]
) -> list[dict[str, Any]]:
    """`--help` and listing 1,000 runs, whole processes, from each side's own command."""
    sweep = 1000
    for side in ("diary", "mlflow"):
        if (side, sweep) not in sweeps:
            folder = Path(tempfile.mkdtemp(prefix=f"peers-{side}-sweep-"))
            run_workload(pythons[side], side, "fill_sweep", folder, sweep)
            sweeps[(side, sweep)] = folder
    diary_bin = Path(sys.executable).parent / "diary"
    mlflow_bin = pythons["mlflow"].parent / "mlflow"
    env = _environment()
    mlflow_env = {
        **env,
        "MLFLOW_TRACKING_URI": f"sqlite:///{sweeps[('mlflow', sweep)] / 'mlflow.db'}",
    }
    experiment = subprocess.run(
        [str(pythons["mlflow"]), "-c",
         "import mlflow; print(mlflow.get_experiment_by_name('bench').experiment_id)"],
        check=True, capture_output=True, text=True, env=mlflow_env,
    ).stdout.strip()  # fmt: skip
    commands = {
        "cli_help": (
            "`--help`, whole process",
            ([str(diary_bin), "--help"], env),
            ([str(mlflow_bin), "--help"], mlflow_env),
        ),
        "cli_list": (
            "list 1,000 runs from the command line",
            ([str(diary_bin), "--db", str(sweeps[("diary", sweep)] / "diary.db"),
              "iteration", "list", "bench", "--format", "csv"], env),
            ([str(mlflow_bin), "runs", "list", "--experiment-id", experiment], mlflow_env),
        ),
    }  # fmt: skip
    results = []
    for name, (title, (diary_cmd, diary_env), (mlflow_cmd, m_env)) in commands.items():
        runs: dict[str, list[float]] = {"diary": [], "mlflow": []}
        time_cli(diary_cmd, diary_env, REPO)  # bytecode compiled, caches warm: as a user sees it
        time_cli(mlflow_cmd, m_env, REPO)
        for repetition in range(repeats):
            order = [("diary", diary_cmd, diary_env), ("mlflow", mlflow_cmd, m_env)]
            for side, command, side_env in order if repetition % 2 == 0 else order[::-1]:
                runs[side].append(time_cli(command, side_env, REPO))
        diary, mlflow = statistics.median(runs["diary"]), statistics.median(runs["mlflow"])
        results.append({
            "name": name, "title": title, "unit": "s", "size": sweep, "mlflow_projected_from": None,
            "diary": diary, "mlflow": mlflow, "mlflow_over_diary": mlflow / diary, "runs": runs,
        })  # fmt: skip
    return results


def _format(value: float, unit: str) -> str:
    if unit == "bytes/point":
        return f"{value:.0f} B"
    return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"


def table(results: list[dict[str, Any]]) -> str:
    """The Markdown table of docs/performance.md."""
    lines = ["| workload | MLflow | diary | diary is |", "|---|---|---|---|"]
    for row in results:
        ratio = row["mlflow_over_diary"]
        verdict = f"{ratio:.1f}x faster" if ratio >= 1 else f"{1 / ratio:.1f}x slower"
        if row["unit"] == "bytes/point":
            verdict = f"{ratio:.1f}x smaller" if ratio >= 1 else f"{1 / ratio:.1f}x larger"
        mlflow = _format(row["mlflow"], row["unit"])
        if row["mlflow_projected_from"]:
            mlflow += f" (projected from {row['mlflow_projected_from']:,})"
        lines.append(
            f"| {row['title']} | {mlflow} | {_format(row['diary'], row['unit'])} | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.peers", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--quick", action="store_true", help="small sizes, one repetition")
    parser.add_argument("--repeats", type=int, default=None, help="repetitions per side (3)")
    parser.add_argument("--only", default="", help="comma-separated case names (and cli)")
    args = parser.parse_args(argv)
    repeats = args.repeats or (1 if args.quick else 3)
    only = {name for name in args.only.split(",") if name}
    pythons = {"diary": Path(sys.executable), "mlflow": ensure_mlflow()}
    print("byte-compiling both sides ...", file=sys.stderr, flush=True)
    precompile(pythons["diary"], *sorted((REPO / "packages").glob("*/src")), WORKLOADS.parent)
    precompile(pythons["mlflow"])
    sweeps: dict[Any, Path] = {}
    results = []
    try:
        for case in CASES:
            if only and case.name not in only:
                continue
            print(f"{case.name} ...", file=sys.stderr, flush=True)
            results.append(measure(case, pythons, repeats, args.quick, sweeps))
        if not only or "cli" in only:
            print("cli ...", file=sys.stderr, flush=True)
            results.extend(measure_cli(pythons, repeats, sweeps))
    finally:
        for folder in sweeps.values():
            shutil.rmtree(folder, ignore_errors=True)
    version = subprocess.run(
        [str(pythons["mlflow"]), "-c", "import mlflow; print(mlflow.__version__)"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    report = {
        "measured_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "mode": "quick" if args.quick else "full",
        "repeats": repeats,
        "mlflow": version,
        "cpus": os.cpu_count(),
        "results": results,
    }
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(table(results))
    print(f"\nwrote {RESULTS.relative_to(REPO)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
