"""The rules join written by export (``rules.jsonl``): the seed rule files
(``.buildlog/seeds/*.yaml``) and the database's ``gauntlet_rules``.

Seeds are input, not data: they are read, never imported or changed. The join maps each
buildlog rule id to the upstream provenance recorded with the rule (formats reference, 8.4).
The original 0.23 builds the join from ``gauntlet_rules`` (importing its bundled seed files into
the database first when the table is empty); ours writes both the database's rules and the
project's seed files, each row's ``origin`` saying which (``gauntlet_rules`` or ``seeds``), and
never writes the database while exporting. Unlike the original, the upstream ``id``,
``domain`` and ``derivation`` keys of the provenance are kept (under those names) instead of
being dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildlog.identifiers import rule_id

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

__all__ = [
    "ORIGINS",
    "SeedRules",
    "database_rules_join",
    "find_seeds_dir",
    "load_rules_join",
    "read_seed",
    "seed_version",
]

logger = logging.getLogger(__name__)

_PROVENANCE_FIELDS = ("source_id", "source_domain", "source_derivation", "graph_version")
# The ``origin`` of a join row: the database's gauntlet rules, or a seed file of the project.
ORIGINS = ("gauntlet_rules", "seeds")
_UPSTREAM_KEYS = ("id", "domain", "derivation")


@dataclass
class SeedRules:
    """The rules join and the seed files that could not be used.

    Attributes:
        rows: one row per seed rule, persona by persona.
        problems: ``file: reason`` for each skipped seed file.
        folder: the seeds folder read, None when there was none.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    folder: Path | None = None


def find_seeds_dir(project_root: Path) -> Path | None:
    """``<root>/.buildlog/seeds`` if it holds ``*.yaml``, else ``<root>/buildlog/.buildlog/seeds``.

    Returns:
        The folder, or None when neither holds a ``*.yaml`` file.
    """
    for folder in (
        project_root / ".buildlog" / "seeds",
        project_root / "buildlog" / ".buildlog" / "seeds",
    ):
        if folder.is_dir() and any(folder.glob("*.yaml")):
            return folder
    return None


def _load_seed(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The persona and the validated rules of one seed file (ValueError when invalid)."""
    import yaml

    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ValueError(f"not valid YAML ({type(err).__name__})") from err
    if not isinstance(document, dict):
        raise ValueError("expected a mapping at the top level")
    rules = document.get("rules")
    if not isinstance(rules, list) or not all(
        isinstance(rule, dict) and isinstance(rule.get("rule"), str) for rule in rules
    ):
        raise ValueError("'rules' must be a list of mappings, each with a 'rule' string")
    for rule in rules:
        if "provenance" in rule and not isinstance(rule["provenance"], dict):
            raise ValueError(f"provenance of rule {rule['rule']!r} must be a mapping")
    return str(document.get("persona") or "unknown"), rules


def seed_version(path: Path) -> int:
    """The ``version`` of a seed file (1 when missing or not a number), as the original reads
    it; call after :func:`read_seed` accepted the file."""
    import yaml

    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    version = document.get("version", 1) if isinstance(document, dict) else 1
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def read_seed(path: Path) -> tuple[str, list[dict[str, Any]]]:
    """The persona and the rules of a seed file, validated as the original validates them.

    Raises:
        ValueError: not valid YAML, or not the seed file shape.
        OSError: the file cannot be read.
    """
    return _load_seed(path)


def _join_row(persona: str, rule: dict[str, Any], origin: str) -> dict[str, Any]:
    category = str(rule.get("category") or "general")
    text: str = rule["rule"]
    row: dict[str, Any] = {
        "buildlog_id": rule_id(text, category),
        "rule": text,
        "category": category,
        "confidence": "high",
        "persona": persona,
    }
    provenance = rule.get("provenance")
    provenance = provenance if isinstance(provenance, dict) else {}
    for key in _PROVENANCE_FIELDS:
        if key in provenance:
            row[key] = provenance[key]
    # As the original 0.23: the provenance's own source_confidence wins over its confidence.
    if "confidence" in provenance:
        row["source_confidence"] = provenance["confidence"]
    if "source_confidence" in provenance:
        row["source_confidence"] = provenance["source_confidence"]
    for key in _UPSTREAM_KEYS:
        if key in provenance:
            row[key] = provenance[key]
    row["origin"] = origin
    return row


def database_rules_join(engine: Engine) -> list[dict[str, Any]]:
    """The join rows of the database's active gauntlet rules, as the original's export builds
    them: persona by persona, in the order the rules were stored.

    The rules belong to no project (the original keeps them for every project), so every
    export carries them. A provenance that is not a JSON object counts as none.
    """
    from buildlog.gauntlet import load_personas

    return [
        _join_row(name, {"rule": r.rule, "category": r.category, "provenance": r.provenance},
                  "gauntlet_rules")
        for name, persona in load_personas(engine).items()
        for r in persona.rules
    ]  # fmt: skip


def _seed_files(folder: Path) -> Iterator[Path]:
    yield from sorted(p for p in folder.glob("*.yaml") if p.is_file())


def load_rules_join(project_root: Path, seeds_dir: Path | None = None) -> SeedRules:
    """Read the seed files and build the rules join.

    Only ``*.yaml`` files are read, in name order; the last file wins per persona.

    Args:
        project_root: where to look for the seeds folder.
        seeds_dir: an explicit seeds folder (overrides the lookup).

    Returns:
        The join rows and the problems met.
    """
    result = SeedRules(folder=seeds_dir or find_seeds_dir(project_root))
    if result.folder is None:
        return result
    personas: dict[str, list[dict[str, Any]]] = {}
    for path in _seed_files(result.folder):
        try:
            persona, rules = _load_seed(path)
        except (OSError, ValueError) as err:
            result.problems.append(f"{path}: {err}")
            continue
        personas[persona] = rules
    for persona, rules in personas.items():
        result.rows.extend(_join_row(persona, rule, "seeds") for rule in rules)
    return result
