"""Seed rule files (``.buildlog/seeds/*.yaml``) and the rules join written by export.

Seeds are input, not data: they are read, never imported or changed. The join maps each
buildlog rule id to the upstream provenance recorded in the seed (formats reference, 8.4).
Unlike the original, the upstream ``id``, ``domain`` and ``derivation`` keys real seeds use
are kept (under those names) instead of being dropped.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlog.identifiers import rule_id

__all__ = ["SeedRules", "find_seeds_dir", "load_rules_join"]

logger = logging.getLogger(__name__)

_PROVENANCE_FIELDS = ("source_id", "source_domain", "source_derivation", "graph_version")
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


def _join_row(persona: str, rule: dict[str, Any]) -> dict[str, Any]:
    category = str(rule.get("category") or "general")
    text: str = rule["rule"]
    row: dict[str, Any] = {
        "buildlog_id": rule_id(text, category),
        "rule": text,
        "category": category,
        "confidence": "high",
        "persona": persona,
    }
    provenance: dict[str, Any] = rule.get("provenance") or {}
    for key in _PROVENANCE_FIELDS:
        if key in provenance:
            row[key] = provenance[key]
    if "source_confidence" in provenance:
        row["source_confidence"] = provenance["source_confidence"]
    if "confidence" in provenance:  # applied last, so it wins, as in the original
        row["source_confidence"] = provenance["confidence"]
    for key in _UPSTREAM_KEYS:
        if key in provenance:
            row[key] = provenance[key]
    return row


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
        result.rows.extend(_join_row(persona, rule) for rule in rules)
    return result
