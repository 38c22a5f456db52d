"""The benchmark harness: figures, targets, alternating runs and subprocess timing.

A *figure* is one line of the table: the project's path measured next to the fastest raw use
of the same engine (its *baseline*), in the same run, alternating, and compared through
medians. A figure module defines functions decorated with :func:`figure`; importing the
module registers them (see ``bench.runner.FIGURE_MODULES``)::

    @figure(
        "history",
        "metric_history of a 100,000-point series",
        area="diary",
        unit=SECONDS,
        target=Target(">= 0.5 and < 0.1 s", min_ratio=0.5, max_value=0.1),
    )
    def history(ctx: Context) -> Measurement:
        n = ctx.size(full=100_000, quick=20_000, tiny=500)
        ...
        return ctx.compare(project_run, baseline_run, size={"points": n}, baseline="raw Arrow")

``project_run`` and ``baseline_run`` each return the seconds of one timed run (set-up and
clean-up stay outside the time). :meth:`Context.compare` runs them alternately, reports the
medians and the ratio *project speed / baseline speed* (1.0: as fast as the raw baseline).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BYTES_PER_POINT",
    "MIB",
    "POINTS_PER_SECOND",
    "REPO",
    "ROWS_PER_SECOND",
    "SECONDS",
    "Context",
    "Figure",
    "Measurement",
    "Mode",
    "Target",
    "Unit",
    "figure",
    "registered_figures",
    "subprocess_env",
    "time_command",
]

REPO = Path(__file__).resolve().parent.parent
Mode = Literal["full", "quick", "tiny"]


@dataclass(frozen=True)
class Unit:
    """How a figure's value reads.

    Attributes:
        name: shown after the value (``s``, ``points/s``).
        higher_is_better: throughputs are, durations and sizes are not.
        per_second: the value is ``work / seconds`` (work from the measurement's ``work``);
            otherwise the value is the run's number itself (seconds, bytes, MiB).
    """

    name: str
    higher_is_better: bool = False
    per_second: bool = False

    def format(self, value: float | None) -> str:
        """The value with its unit, rounded for the table."""
        if value is None:
            return "-"
        if self.per_second:
            return f"{_si(value)} {self.name}"
        if self.name == "s":
            return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
        return f"{value:.1f} {self.name}"


def _si(value: float) -> str:
    for limit, suffix in ((1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}"


SECONDS = Unit("s")
POINTS_PER_SECOND = Unit("points/s", higher_is_better=True, per_second=True)
ROWS_PER_SECOND = Unit("rows/s", higher_is_better=True, per_second=True)
BYTES_PER_POINT = Unit("B/point")
MIB = Unit("MiB")


@dataclass(frozen=True)
class Target:
    """A figure's target. Every given bound must hold (and every check of the measurement).

    Attributes:
        text: as shown in the table.
        min_ratio: project speed / baseline speed must be at least this.
        max_value: the project's value (in the figure's unit) must be below this.
        min_value: the project's value must be at least this.
    """

    text: str
    min_ratio: float | None = None
    max_value: float | None = None
    min_value: float | None = None


@dataclass
class Measurement:
    """What a figure measured.

    Attributes:
        project: the project's runs (seconds, or the value itself for non-rate units).
        baseline: the baseline's runs (empty when the figure has none).
        baseline_name: what the baseline is.
        work: units of work per run (points, rows) for per-second units.
        size: the sizes used, for the record.
        checks: named correctness checks (all points present, ...); a false one fails.
        extra: further numbers worth keeping (lock cost, import time, ...).
        notes: one-line remarks shown under the table.
    """

    project: list[float]
    baseline: list[float] = field(default_factory=list)
    baseline_name: str = "-"
    work: float | None = None
    size: dict[str, Any] = field(default_factory=dict)
    checks: dict[str, bool] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """One registered figure."""

    id: str
    title: str
    area: str
    unit: Unit
    target: Target
    run: Callable[[Context], Measurement]
    module: str


_FIGURES: dict[str, Figure] = {}


def figure(
    figure_id: str, title: str, *, area: str, unit: Unit, target: Target
) -> Callable[[Callable[[Context], Measurement]], Callable[[Context], Measurement]]:
    """Register a figure function (it takes a :class:`Context`, returns a Measurement)."""

    def register(run: Callable[[Context], Measurement]) -> Callable[[Context], Measurement]:
        if figure_id in _FIGURES:
            raise ValueError(f"figure {figure_id!r} registered twice")
        _FIGURES[figure_id] = Figure(figure_id, title, area, unit, target, run, run.__module__)
        return run

    return register


def registered_figures() -> list[Figure]:
    """Every registered figure, in registration order."""
    return list(_FIGURES.values())


class Context:
    """What a figure gets: the mode, sizes, repeats, a scratch folder and the run helpers.

    Args:
        mode: ``full`` (the issue's sizes), ``quick`` (small sizes) or ``tiny`` (smoke test).
        workdir: a scratch folder for this figure (removed afterwards).
        repeats: timed runs per side (at least 3 except in tiny mode).
    """

    def __init__(self, mode: Mode, workdir: Path, repeats: int) -> None:
        self.mode = mode
        self.workdir = workdir
        self.repeats = repeats
        self._counter = 0

    def size(self, *, full: int, quick: int, tiny: int) -> int:
        """The size for the current mode."""
        return {"full": full, "quick": quick, "tiny": tiny}[self.mode]

    @property
    def warmup(self) -> bool:
        """Whether an untimed warm-up run precedes the timed runs (not in tiny mode)."""
        return self.mode != "tiny"

    def path(self, name: str) -> Path:
        """A fresh path in the scratch folder (a new name every call)."""
        self._counter += 1
        return self.workdir / f"{self._counter:04d}-{name}"

    def compare(
        self,
        project: Callable[[], float],
        baseline: Callable[[], float] | None = None,
        *,
        baseline_name: str = "-",
        work: float | None = None,
        size: Mapping[str, Any] | None = None,
        repeats: int | None = None,
        warmup: bool | None = None,
    ) -> Measurement:
        """Run the project and the baseline alternately and collect every run.

        The order flips every round (P B, B P, ...) so neither side always runs on a machine
        just warmed (or just disturbed) by the other.
        """
        rounds = repeats if repeats is not None else self.repeats
        if warmup if warmup is not None else self.warmup:
            project()
            if baseline is not None:
                baseline()
        measured = Measurement([], [], baseline_name, work, dict(size or {}))
        for index in range(rounds):
            sides: list[tuple[Callable[[], float], list[float]]] = [(project, measured.project)]
            if baseline is not None:
                sides.append((baseline, measured.baseline))
            if index % 2:
                sides.reverse()
            for run, runs in sides:
                runs.append(run())
        return measured


@dataclass
class FigureResult:
    """A figure's outcome as written to JSON and shown in the table."""

    figure: Figure
    measurement: Measurement | None
    seconds: float
    error: str | None = None

    @property
    def project_value(self) -> float | None:
        """The project's median, in the figure's unit."""
        return self._value(self.measurement.project if self.measurement else [])

    @property
    def baseline_value(self) -> float | None:
        """The baseline's median, in the figure's unit."""
        return self._value(self.measurement.baseline if self.measurement else [])

    def _value(self, runs: Sequence[float]) -> float | None:
        if not runs:
            return None
        middle = statistics.median(runs)
        if self.figure.unit.per_second:
            work = self.measurement.work if self.measurement else None
            return (work or 0.0) / middle if middle > 0 else float("inf")
        return middle

    @property
    def ratio(self) -> float | None:
        """Project speed / baseline speed: 1.0 means as fast as the raw baseline."""
        if self.measurement is None or not self.measurement.baseline:
            return None
        project = statistics.median(self.measurement.project)
        baseline = statistics.median(self.measurement.baseline)
        if self.figure.unit.per_second or not self.figure.unit.higher_is_better:
            # Runs are seconds (or sizes): smaller is faster.
            return baseline / project if project > 0 else float("inf")
        return project / baseline if baseline > 0 else float("inf")

    @property
    def passed(self) -> bool | None:
        """Whether every bound of the target and every check holds (None: not measured)."""
        if self.measurement is None:
            return None
        target = self.figure.target
        value, ratio = self.project_value, self.ratio
        results = list(self.measurement.checks.values())
        if target.min_ratio is not None:
            results.append(ratio is not None and ratio >= target.min_ratio)
        if target.max_value is not None:
            results.append(value is not None and value < target.max_value)
        if target.min_value is not None:
            results.append(value is not None and value >= target.min_value)
        return all(results)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: the figure, its target, medians, ratio and every run."""
        m = self.measurement
        return {
            "id": self.figure.id,
            "title": self.figure.title,
            "area": self.figure.area,
            "module": self.figure.module,
            "unit": self.figure.unit.name,
            "target": {
                "text": self.figure.target.text,
                "min_ratio": self.figure.target.min_ratio,
                "max_value": self.figure.target.max_value,
                "min_value": self.figure.target.min_value,
            },
            "project": None if m is None else {"value": self.project_value, "runs": m.project},
            "baseline": None
            if m is None or not m.baseline
            else {"name": m.baseline_name, "value": self.baseline_value, "runs": m.baseline},
            "runs_unit": "s" if self.figure.unit.per_second else self.figure.unit.name,
            "work": None if m is None else m.work,
            "ratio": self.ratio,
            "passed": self.passed,
            "size": {} if m is None else m.size,
            "checks": {} if m is None else m.checks,
            "extra": {} if m is None else m.extra,
            "notes": [] if m is None else m.notes,
            "seconds": round(self.seconds, 3),
            "error": self.error,
        }


# ------------------------------------------------------------------------------------------
# Subprocesses


def subprocess_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for timed subprocesses: as a user runs them.

    ``PYTHONDONTWRITEBYTECODE`` is removed (this environment sets it, which would make every
    start-up recompile every module), and the repository is put on ``PYTHONPATH`` so that
    ``python -m bench.child`` works from any folder.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env.pop("DEARDIARY_DB_FILE", None)
    env.pop("DEARDIARY_DB_URL", None)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH", "")]))
    if extra:
        env.update(extra)
    return env


def time_command(
    argv: Sequence[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None
) -> float:
    """Run a whole command and return its wall time in seconds.

    Raises:
        RuntimeError: the command failed (its stderr is in the message).
    """
    started = time.perf_counter()
    done = subprocess.run(
        list(argv), cwd=cwd, env=dict(env or subprocess_env()), capture_output=True, check=False
    )
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise RuntimeError(
            f"{' '.join(argv)} exited {done.returncode}: {done.stderr.decode(errors='replace')}"
        )
    return elapsed


def run_child(
    args: Sequence[str], *, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> str:
    """Run ``python -m bench.child ARGS`` and return its stdout (the child's own timings).

    Raises:
        RuntimeError: the child failed.
    """
    done = subprocess.run(
        [sys.executable, "-m", "bench.child", *args],
        cwd=cwd,
        env=dict(env or subprocess_env()),
        capture_output=True,
        check=False,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.child {' '.join(args)} exited {done.returncode}: {done.stderr}")
    return done.stdout


@contextmanager
def scratch(parent: Path | None = None) -> Iterator[Path]:
    """A scratch folder, removed afterwards."""
    with tempfile.TemporaryDirectory(prefix="bench-", dir=parent) as folder:
        yield Path(folder)
