"""``diary log`` (parameters and metrics) and ``diary metric`` (keys and histories)."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from decimal import Decimal
from typing import IO, Any

import click

from diary.cli.common import ITERATION, store
from diary.errors import InvalidValue
from diary.values import check_number, check_step
from storage_core.cli_support import echo_json, echo_table, json_option, output_format

__all__ = ["log", "metric", "read_points"]


@click.group()
def log() -> None:
    """Log parameters and metrics to an iteration."""


@log.command("param")
@click.argument("iteration_id", metavar="ITERATION", type=ITERATION)
@click.argument("key")
@click.argument("value")
def log_param(iteration_id: str, key: str, value: str) -> None:
    """Set parameter KEY of ITERATION to VALUE (once per iteration)."""
    store().log_param(iteration_id, key, value)


@log.command("metric", context_settings={"ignore_unknown_options": True})
@click.argument("iteration_id", metavar="ITERATION", type=ITERATION)
@click.argument("key")
@click.argument("value", type=float)
@click.option("--step", type=int, help="The step [default: the next step of KEY].")
@json_option
def log_metric(iteration_id: str, key: str, value: float, step: int | None, as_json: bool) -> None:
    """Log VALUE of metric KEY to ITERATION and print the step it got."""
    logged = store().log_metric(iteration_id, key, value, step)
    if as_json:
        echo_json({"key": key, "value": value, "step": logged})
    else:
        click.echo(str(logged))


def _number(source: str, line: int, field: str, raw: Any, kind: type) -> Any:
    name = f"{field} on line {line} of {source}"
    # JSON true/false are not numbers, and a fractional step is not silently truncated.
    try:
        return check_step(raw, name) if kind is int else check_number(name, raw)
    except InvalidValue as err:
        if not isinstance(raw, Decimal):
            raise
        # Show the number as the file has it, not as Decimal('1E+999').
        message = f"invalid {name} {raw}: {err.reason}"
        raise InvalidValue(name, raw, err.reason, message=message) from None


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object whose fields are named once: with a repeated field, which one is meant?"""
    item: dict[str, Any] = {}
    for field, value in pairs:
        if field in item:
            raise ValueError(f"the field {field!r} appears twice")
        item[field] = value
    return item


def _key(source: str, line: int, raw: Any) -> str:
    if not isinstance(raw, str) or not raw.strip():
        raise InvalidValue(f"key on line {line} of {source}", raw, "expected a non-empty text")
    return raw


def read_points(handle: IO[str], source: str) -> Iterator[tuple[str, float, int | None]]:
    """Parse ``key,value,step`` CSV (with that header) or JSON lines with those fields.

    The step may be empty or absent (the next step of the key).

    Raises:
        InvalidValue: a malformed line, naming its number.
    """
    try:
        text = handle.read()
    except UnicodeDecodeError as err:
        raise InvalidValue(source, err.object[:20], "expected UTF-8 text") from None
    stripped = text.lstrip()
    if stripped.startswith("{"):
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                # Decimal keeps a number as written: 1e999 is refused, not read as infinity.
                item = json.loads(line, object_pairs_hook=_object, parse_float=Decimal)
            except json.JSONDecodeError as err:
                raise InvalidValue(f"line {number} of {source}", line, err.msg) from None
            except ValueError as err:
                raise InvalidValue(f"line {number} of {source}", line, str(err)) from None
            if not isinstance(item, dict) or "key" not in item or "value" not in item:
                raise InvalidValue(
                    f"line {number} of {source}", line, "expected an object with key and value"
                )
            step = item.get("step")
            yield (
                _key(source, number, item["key"]),
                _number(source, number, "value", item["value"], float),
                None if step in (None, "") else _number(source, number, "step", step, int),
            )
        return
    reader = csv.DictReader(text.splitlines())
    if reader.fieldnames is None or not {"key", "value"} <= set(reader.fieldnames):
        raise InvalidValue(
            f"header of {source}",
            ",".join(reader.fieldnames or []),
            "expected key,value,step (CSV) or JSON lines",
        )
    for number, row in enumerate(reader, start=2):
        step = row.get("step")
        if None in row:  # more fields than the header names
            raise InvalidValue(
                f"line {number} of {source}",
                ",".join([*(row[f] or "" for f in reader.fieldnames), *row[None]]),
                f"expected at most {len(reader.fieldnames)} fields ({','.join(reader.fieldnames)})",
            )
        yield (
            _key(source, number, row["key"]),
            _number(source, number, "value", row["value"], float),
            None if step in (None, "") else _number(source, number, "step", step, int),
        )


@log.command("metrics")
@click.argument("iteration_id", metavar="ITERATION", type=ITERATION)
@click.argument("file", type=click.File("r"))
@json_option
def log_metrics(iteration_id: str, file: IO[str], as_json: bool) -> None:
    """Log the metric points in FILE to ITERATION in one transaction.

    FILE is CSV with the header key,value,step or JSON lines with those fields; "-" reads
    standard input. The step may be left empty (the next step of the key).
    """
    points = list(read_points(file, "stdin" if file.name == "<stdin>" else file.name))
    # Every point is checked before any is written, and all are written in one transaction.
    store().log_points(iteration_id, points)
    if as_json:
        echo_json({"logged": len(points)})
    else:
        click.echo(f"logged {len(points)} points")


@click.group()
def metric() -> None:
    """Read metrics: keys and histories."""


@metric.command("keys")
@click.argument("iteration_id", metavar="ITERATION", type=ITERATION)
@json_option
def metric_keys(iteration_id: str, as_json: bool) -> None:
    """List the metric keys of ITERATION."""
    keys = store().metric_keys(iteration_id)
    if as_json or output_format() == "jsonl":
        echo_json(keys)  # a JSON array, or one JSON string per line
    elif output_format() == "csv":
        echo_table([{"key": key} for key in keys], ["key"])
    else:
        for key in keys:
            click.echo(key)


@metric.command("history")
@click.argument("iteration_id", metavar="ITERATION", type=ITERATION)
@click.argument("key")
@json_option
def metric_history(iteration_id: str, key: str, as_json: bool) -> None:
    """Print the history of metric KEY of ITERATION, by step."""
    points = store().metric_history(iteration_id, key)
    rows = [point.to_dict() for point in points]
    if as_json:
        echo_json(rows)
    else:
        echo_table(rows, ["step", "value", "timestamp"])
