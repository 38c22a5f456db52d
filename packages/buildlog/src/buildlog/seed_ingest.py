"""``buildlog ingest-seeds``: import the seed files external producers left in their folders.

The original's layout and checks: each source (``~/.buildlog/interop.yaml``, else qortex's
``~/.qortex/seeds/{pending,processed,failed}``) has a pending folder; a file is skipped when
it is a symlink or its name is not ``[A-Za-z0-9_.-]+.yaml``, fails when it is too large, is not
a seed file or has too many or too long rules (moved to ``failed/`` with a ``.error`` JSON
beside it), and is otherwise imported (:func:`buildlog.seed_import.import_seed_file`) and moved
to ``processed/``. Each outcome is appended to the source's signal log. A file is moved only
after its import committed, so a run that is killed leaves it pending, and the next run
imports it again (importing is idempotent).
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from buildlog.identifiers import format_timestamp
from buildlog.seeds import read_seed
from storage_core.errors import StorageError

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = ["IngestResult", "InteropConfig", "SeedSource", "ingest_pending", "load_config"]

logger = logging.getLogger(__name__)

_SAFE_NAME = re.compile(r"^[a-zA-Z0-9_.-]+\.ya?ml$")


@dataclass
class SeedSource:
    """One producer's folders and signal log."""

    name: str
    pending_dir: Path
    processed_dir: Path
    failed_dir: Path
    signal_log: Path | None = None


@dataclass
class InteropConfig:
    """The sources and the limits a seed file must keep."""

    sources: list[SeedSource] = field(default_factory=list)
    max_file_size: int = 1_048_576
    max_rules_per_file: int = 500
    max_rule_text_length: int = 10_000


@dataclass
class IngestFileResult:
    """What happened to one file."""

    file: str
    status: Literal["ingested", "failed", "skipped"]
    persona: str = ""
    rule_count: int = 0
    error: str | None = None


@dataclass
class IngestResult:
    """What one source's run did."""

    source: str
    ingested: int = 0
    failed: int = 0
    skipped: int = 0
    files: list[IngestFileResult] = field(default_factory=list)
    message: str = ""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (the original's fields)."""
        return asdict(self)


def _home() -> Path:
    return Path(os.environ.get("HOME") or Path.home())


def _default_source() -> SeedSource:
    root = _home() / ".qortex"
    return SeedSource(
        "qortex",
        root / "seeds" / "pending",
        root / "seeds" / "processed",
        root / "seeds" / "failed",
        root / "signals" / "projections.jsonl",
    )


def _path(text: object) -> Path:
    return Path(str(text or "")).expanduser().resolve()


def load_config() -> InteropConfig:
    """``~/.buildlog/interop.yaml``, or qortex's default layout (also when the file cannot be
    read or names no valid source, as the original)."""
    import yaml

    path = _home() / ".buildlog" / "interop.yaml"
    default = InteropConfig(sources=[_default_source()])
    if not path.exists():
        return default
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as err:
        logger.warning("cannot read %s (%s); using qortex's default folders", path, err)
        return default
    if not isinstance(data, dict):
        logger.warning("%s is not a mapping; using qortex's default folders", path)
        return default
    sources = [
        SeedSource(
            str(item["name"]),
            _path(item.get("pending_dir")),
            _path(item.get("processed_dir")),
            _path(item.get("failed_dir")),
            _path(item["signal_log"]) if item.get("signal_log") else None,
        )
        for item in data.get("sources") or []
        if isinstance(item, dict) and "name" in item
    ]
    return InteropConfig(
        sources=sources or default.sources,
        max_file_size=int(data.get("max_file_size", 1_048_576)),
        max_rules_per_file=int(data.get("max_rules_per_file", 500)),
        max_rule_text_length=int(data.get("max_rule_text_length", 10_000)),
    )


def _signal(source: SeedSource, event: dict[str, Any]) -> None:
    if source.signal_log is None:
        return
    try:
        source.signal_log.parent.mkdir(parents=True, exist_ok=True)
        with source.signal_log.open("a", encoding="utf-8") as log:
            log.write(json.dumps({**event, "timestamp": format_timestamp()}) + "\n")
    except OSError as err:
        logger.warning("cannot append to %s: %s", source.signal_log, err)


def _fail(
    path: Path, error: str, source: SeedSource, result: IngestResult, persona: str = ""
) -> None:
    target = source.failed_dir / path.name
    shutil.move(str(path), str(target))
    sidecar = target.with_suffix(target.suffix + ".error")
    payload = {"file": target.name, "error": error, "timestamp": format_timestamp()}
    sidecar.write_text(json.dumps(payload, indent=2), encoding="utf-8")
    result.failed += 1
    result.files.append(IngestFileResult(path.name, "failed", persona=persona, error=error))
    _signal(source, {"type": "seed_failed", "file": path.name, "error": error})


def _problem(path: Path, config: InteropConfig) -> tuple[str, bool] | None:
    """Why a file cannot be imported, and whether it is skipped (left in place)."""
    if path.is_symlink():
        return "symlink rejected", True
    if not _SAFE_NAME.match(path.name):
        return f"unsafe filename: {path.name}", True
    size = path.stat().st_size
    if size > config.max_file_size:
        return f"file too large: {size} bytes (max {config.max_file_size})", False
    return None


def ingest_pending(
    engine: Engine,
    project_id: str,
    target_dir: Path,
    *,
    config: InteropConfig | None = None,
    source_name: str | None = None,
) -> list[IngestResult]:
    """Import every pending seed file of the sources (one source when ``source_name``)."""
    config = config or load_config()
    results = []
    for source in config.sources:
        if source_name is not None and source.name != source_name:
            continue
        result = IngestResult(source.name)
        results.append(result)
        if not source.pending_dir.is_dir():
            result.message = f"No pending directory: {source.pending_dir}"
            continue
        pending = sorted(source.pending_dir.iterdir())
        if not pending:
            result.message = "No pending files"
            continue
        source.processed_dir.mkdir(parents=True, exist_ok=True)
        source.failed_dir.mkdir(parents=True, exist_ok=True)
        for path in pending:
            if not path.is_file() and not path.is_symlink():
                continue
            _ingest_one(engine, project_id, target_dir, config, source, result, path)
        counts = [f"{n} {what}" for n, what in ((result.ingested, "ingested"),
                  (result.failed, "failed"), (result.skipped, "skipped")) if n]  # fmt: skip
        result.message = f"[{source.name}] " + (", ".join(counts) or "nothing to do")
    return results


def _ingest_one(
    engine: Engine,
    project_id: str,
    target_dir: Path,
    config: InteropConfig,
    source: SeedSource,
    result: IngestResult,
    path: Path,
) -> None:
    from buildlog.seed_import import import_seed_file

    problem = _problem(path, config)
    if problem is not None:
        error, skipped = problem
        if not skipped:
            _fail(path, error, source, result)
            return
        result.skipped += 1
        result.files.append(IngestFileResult(path.name, "skipped", error=error))
        _signal(source, {"type": "seed_skipped", "file": path.name, "error": error})
        return
    try:
        persona, rules = read_seed(path)
    except (OSError, ValueError):
        _fail(path, "Invalid YAML or schema", source, result)
        return
    if len(rules) > config.max_rules_per_file:
        error = f"Too many rules: {len(rules)} (max {config.max_rules_per_file})"
        _fail(path, error, source, result, persona)
        return
    limit = config.max_rule_text_length
    longest = next((len(r["rule"]) for r in rules if len(r["rule"]) > limit), None)
    if longest is not None:
        error = f"Rule text too long: {longest} chars (max {limit})"
        _fail(path, error, source, result, persona)
        return
    try:
        imported = import_seed_file(engine, project_id, path, target_dir)
    except StorageError as err:
        _fail(path, str(err), source, result, persona)
        return
    shutil.move(str(path), str(source.processed_dir / path.name))
    result.ingested += 1
    result.files.append(
        IngestFileResult(path.name, "ingested", imported.persona, imported.rule_count)
    )
    _signal(
        source,
        {"type": "seed_ingested", "file": path.name, "persona": imported.persona,
         "rule_count": imported.rule_count},
    )  # fmt: skip
