"""Whole-process figures: the command lines as a user runs them, timed from outside."""

from __future__ import annotations

import sys
from pathlib import Path

from bench.harness import SECONDS, Context, Measurement, Target, figure, time_command

BIN = Path(sys.executable).parent


def _help(ctx: Context, command: str) -> Measurement:
    measured = ctx.compare(
        lambda: time_command([str(BIN / command), "--help"]),
        lambda: time_command([sys.executable, "-c", "pass"]),
        baseline_name="python -c pass",
    )
    measured.notes.append("bytecode cached (PYTHONDONTWRITEBYTECODE unset; one untimed run first)")
    return measured


@figure(
    "diary_help",
    "`diary --help`, whole process",
    area="cli",
    unit=SECONDS,
    target=Target("< 0.3 s wall", max_value=0.3),
)
def diary_help(ctx: Context) -> Measurement:
    return _help(ctx, "diary")


@figure(
    "buildlog_help",
    "`buildlog --help`, whole process",
    area="cli",
    unit=SECONDS,
    target=Target("< 0.3 s wall", max_value=0.3),
)
def buildlog_help(ctx: Context) -> Measurement:
    return _help(ctx, "buildlog")


@figure(
    "diary_project_create",
    "`diary project create` on a new file, whole process",
    area="cli",
    unit=SECONDS,
    target=Target("< 1.0 s wall", max_value=1.0),
)
def diary_project_create(ctx: Context) -> Measurement:
    def project() -> float:
        db = ctx.path("diary.duckdb")
        return time_command([str(BIN / "diary"), "--db", str(db), "project", "create", "p"])

    return ctx.compare(
        project,
        lambda: time_command([sys.executable, "-c", "pass"]),
        baseline_name="python -c pass",
    )
