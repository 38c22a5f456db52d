"""``diary metric plot``: metric series as a line chart in the terminal, or in a file.

The terminal chart is drawn by plotext (a library made for terminal plots); ``--output`` writes
a PNG, SVG or PDF through matplotlib (the ``plot`` extra) or an HTML page through plotext. The
series are read as columns (``metric_history``), so 100,000 points plot at once, and reading
never waits for a training process that is still writing.
"""

from __future__ import annotations

import math
import shutil
import sys
import warnings
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import click

from diary.cli.common import direct_reader, store, stored_id
from diary.cli.tracking import metric
from diary.errors import InvalidValue, StorageError

__all__ = ["metric_plot"]

_FILE_KINDS = (".png", ".svg", ".pdf", ".html")


@metric.command("plot")
@click.argument("args", metavar="ITERATION... KEY", nargs=-1, required=True)
@click.option(
    "--key", "keys", multiple=True, help="A metric to draw (repeatable); then every argument "
    "is an ITERATION.",
)  # fmt: skip
@click.option("--output", type=click.Path(dir_okay=False), help="Write .png, .svg, .pdf or .html.")
@click.option("--width", type=click.IntRange(min=20), help="Columns [default: the terminal's].")
@click.option("--height", type=click.IntRange(min=5), help="Rows [default: 20].")
@click.option("--title", help="The chart's title [default: the keys].")
def metric_plot(
    args: tuple[str, ...],
    keys: tuple[str, ...],
    output: str | None,
    width: int | None,
    height: int | None,
    title: str | None,
) -> None:
    """Draw metric KEY of each ITERATION as lines by step, overlaid, with a legend.

    Example: diary metric plot 3f2a... 9c41... loss; or with several keys:
    diary metric plot 3f2a... --key loss --key val_loss
    """
    if keys:
        iterations = list(args)
    else:
        if len(args) < 2:
            raise click.UsageError("give ITERATION... KEY, or ITERATION... with --key KEY")
        iterations, keys = list(args[:-1]), (args[-1],)
    if output is not None and Path(output).suffix.lower() not in _FILE_KINDS:
        raise click.UsageError(f"--output must end in {', '.join(_FILE_KINDS)}")
    series = []
    for iteration_id, key, steps, values in _histories(iterations, keys):
        if not steps:
            raise InvalidValue("metric", key, f"iteration {iteration_id} has no points of it")
        finite = [i for i, value in enumerate(values) if math.isfinite(value)]
        if len(finite) < len(values):
            steps, values = [steps[i] for i in finite], [values[i] for i in finite]
        label = f"{iteration_id[:8]} {key}" if len(iterations) > 1 else key
        series.append((label, steps, values))
    heading = title or ", ".join(keys)
    if output is not None and not output.lower().endswith(".html"):
        _write_figure(Path(output), series, heading)
        click.echo(output)
        return
    chart = _terminal_chart(series, heading, width, height, colour=output is None)
    if output is not None:
        _write_html(Path(output), chart, heading)
        click.echo(output)
        return
    click.echo(chart)


def _terminal_chart(
    series: list[tuple[str, list[int], list[float]]],
    title: str,
    width: int | None,
    height: int | None,
    *,
    colour: bool,
) -> str:
    import plotext as plt

    plt.clear_figure()
    columns = width or shutil.get_terminal_size((100, 24)).columns
    plt.plotsize(columns, height or 20)
    if not colour or not sys.stdout.isatty():
        plt.theme("clear")  # no escape codes in a pipe or a file
    for label, steps, values in series:
        # A braille cell holds 2 dots across: more points than that per column draw nothing
        # more, and plotext's cost grows with the points (3 s for 100,000).
        kept_steps, kept_values = envelope(steps, values, 2 * columns)
        plt.plot(kept_steps, kept_values, label=label, marker="braille")
    plt.title(title)
    plt.xlabel("step")
    return str(plt.build())


def _histories(
    iterations: list[str], keys: Sequence[str]
) -> Iterator[tuple[str, str, list[int], list[float]]]:
    """(iteration id, key, steps, values) of each series, through the direct reader when it
    finds every iteration, else through the store."""
    reader = direct_reader()
    found = [reader.find_iteration(given) for given in iterations] if reader else []
    if reader is not None and None not in found:
        for iteration_id in found:
            for key in keys:
                yield (str(iteration_id), key, *reader.history(str(iteration_id), key))
        return
    opened = store()
    for given in iterations:
        record = opened.get_iteration(stored_id("iteration", given))
        for key in keys:
            history = opened.metric_history(record.id, key)
            yield str(record.id), key, _as_list(history.steps), _as_list(history.values)


def _as_list(column: Any) -> list[Any]:
    """A history column as a list (Arrow arrays convert in one call, not per element)."""
    convert = getattr(column, "to_pylist", None)
    return list(convert() if convert is not None else column)


def envelope(
    steps: Sequence[int], values: Sequence[float], buckets: int
) -> tuple[list[int], list[float]]:
    """At most ``2 * buckets`` points that draw like the series at that resolution.

    The points are cut into ``buckets`` runs of consecutive points; each run keeps its lowest
    and highest point, in their order, so spikes and the range survive (a plain stride would
    drop them). NaN and infinite values are kept as the run's extremes would hide them.
    """
    count = len(values)
    if count <= 2 * buckets:
        return list(steps), list(values)
    kept_steps: list[int] = []
    kept_values: list[float] = []
    size = count / buckets
    for bucket in range(buckets):
        start, end = int(bucket * size), int((bucket + 1) * size)
        run = range(start, max(end, start + 1))
        finite = [i for i in run if math.isfinite(values[i])]
        odd = [i for i in run if not math.isfinite(values[i])]
        chosen = set(odd)
        if finite:
            chosen.add(min(finite, key=values.__getitem__))
            chosen.add(max(finite, key=values.__getitem__))
        for i in sorted(chosen):
            kept_steps.append(steps[i])
            kept_values.append(values[i])
    return kept_steps, kept_values


def _write_html(path: Path, chart: str, title: str) -> None:
    import html

    page = (
        f"<!DOCTYPE html>\n<html><head><meta charset='utf-8'><title>{html.escape(title)}"
        f"</title></head>\n<body><pre>{html.escape(chart)}</pre></body></html>\n"
    )
    path.write_text(page, encoding="utf-8")


def _write_figure(path: Path, series: list[tuple[str, list[int], list[float]]], title: str) -> None:
    try:
        with warnings.catch_warnings():
            # Older matplotlib releases warn about their own dependencies on import.
            warnings.simplefilter("ignore", DeprecationWarning)
            import matplotlib

            matplotlib.use("Agg")  # no display needed
            import matplotlib.pyplot as pyplot
    except ImportError:
        raise StorageError(
            "writing .png, .svg or .pdf needs matplotlib; install the extra: "
            "pip install 'deardiary-tracking[plot]' (or write .html)"
        ) from None
    figure: Any
    figure, axes = pyplot.subplots(figsize=(10, 5))
    for label, steps, values in series:
        axes.plot(steps, values, label=label, linewidth=1)
    axes.set_title(title)
    axes.set_xlabel("step")
    axes.legend()
    figure.tight_layout()
    figure.savefig(path)
    pyplot.close(figure)
