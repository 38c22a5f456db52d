"""``buildlog import-seed``: a seed file of reviewer rules into the project and the database.

As the original, the file is copied into the project's seeds folder, and when a rule's upstream
``graph_version`` changed since the last import, the learned signal of its bandit arms is
decayed (``alpha = 1 + (alpha - 1) * 0.5``, the same for ``beta``). Ours also stores the
file's rules in ``gauntlet_rules`` (what the original does only when that table is empty), in
the same transaction as the decay, so ``gauntlet rules`` shows what was imported. The previous
versions are read from the database's rules of the persona (else from the file being
replaced), so an import that is run again after a failure decays nothing twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from buildlog.errors import InvalidRecord
from buildlog.identifiers import format_timestamp, rule_id
from buildlog.seeds import read_seed, seed_version
from storage_core.errors import NotFound

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

__all__ = ["DECAY_FACTOR", "ImportSeedResult", "gauntlet_rule_id", "import_seed_file"]

#: How much learned signal a decayed arm keeps (the original's default).
DECAY_FACTOR = 0.5


@dataclass
class ImportSeedResult:
    """What an import did (the original's fields, then ours)."""

    persona: str
    rule_count: int
    provenance_count: int
    target_path: str
    version_changed: bool
    decayed_rules: int
    message: str
    rules_stored: int = 0

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


def gauntlet_rule_id(persona: str, text: str) -> str:
    """The original's content id of a gauntlet rule: ``persona:`` + 8 hex of sha256(rule)."""
    return f"{persona}:{hashlib.sha256(text.encode()).hexdigest()[:8]}"


def _versions(rules: list[dict[str, Any]]) -> dict[str, str | None]:
    found: dict[str, str | None] = {}
    for rule in rules:
        provenance = rule.get("provenance")
        version = provenance.get("graph_version") if isinstance(provenance, dict) else None
        found[rule["rule"]] = None if version is None else str(version)
    return found


def import_seed_file(
    engine: Engine, project_id: str, source: Path, target_dir: Path
) -> ImportSeedResult:
    """Import the seed file ``source``: rules into ``gauntlet_rules``, arms of changed rules
    decayed, the file copied to ``target_dir`` (see the module docstring).

    Raises:
        NotFound: ``source`` does not exist.
        InvalidRecord: ``source`` is not a seed file.
    """
    from storage_core.blobs.localfs import atomic_write

    if not source.is_file():
        raise NotFound("seed file", str(source), f"seed file not found: {source}")
    try:
        persona, rules = read_seed(source)
        version = seed_version(source)
        content = source.read_bytes()
    except (OSError, ValueError) as err:
        raise InvalidRecord(str(source), f"not a seed file: {err}") from None
    target = target_dir / source.name
    previous: list[dict[str, Any]] = []
    if target.is_file():
        try:
            previous = read_seed(target)[1]
        except (OSError, ValueError):
            previous = []
    with engine.begin() as conn:
        stored = _stored_rules(conn, persona)
        old = _versions(stored or previous)
        new = _versions(rules)
        changed = [
            rule for rule in rules
            if old.get(rule["rule"]) is not None and new[rule["rule"]] is not None
            and old[rule["rule"]] != new[rule["rule"]]
        ]  # fmt: skip
        decayed = sum(_decay(conn, project_id, rule) for rule in changed)
        count = _store_rules(conn, persona, version, rules, content, source.name)
    try:
        atomic_write(target, [content])
    except OSError as err:
        raise InvalidRecord(str(target), f"cannot write the seed file ({err.strerror})") from None
    with_provenance = sum(1 for rule in rules if isinstance(rule.get("provenance"), dict))
    parts = [f"Imported {len(rules)} rules for {persona}"]
    if with_provenance:
        parts.append(f"{with_provenance} with provenance")
    if changed:
        parts.append(f"version changed, {decayed} arms decayed")
    return ImportSeedResult(
        persona=persona,
        rule_count=len(rules),
        provenance_count=with_provenance,
        target_path=str(target),
        version_changed=bool(changed),
        decayed_rules=decayed,
        message=" | ".join(parts),
        rules_stored=count,
    )


def _stored_rules(conn: Connection, persona: str) -> list[dict[str, Any]]:
    import sqlalchemy as sa

    from buildlog.models import metadata

    table = metadata.tables["gauntlet_rules"]
    rows = conn.execute(
        sa.select(table.c.rule, table.c.provenance).where(table.c.persona == persona)
    ).all()
    found = []
    for text, provenance in rows:
        try:
            parsed = json.loads(provenance) if provenance else None
        except ValueError:
            parsed = None
        found.append({"rule": text, "provenance": parsed})
    return found


def _decay(conn: Connection, project_id: str, rule: dict[str, Any]) -> bool:
    """Decay the project's arms of a rule in every context; whether it had any."""
    import sqlalchemy as sa

    from buildlog.models import bandit_arms

    skill = rule_id(rule["rule"], str(rule.get("category") or "general"))
    where = sa.and_(bandit_arms.c.project_id == project_id, bandit_arms.c.rule_id == skill)
    updated = conn.execute(
        bandit_arms.update()
        .where(where)
        .values(
            alpha=1.0 + (bandit_arms.c.alpha - 1.0) * DECAY_FACTOR,
            beta=1.0 + (bandit_arms.c.beta - 1.0) * DECAY_FACTOR,
            updated_at=format_timestamp(),
        )
    )
    return bool(updated.rowcount)


def _store_rules(
    conn: Connection,
    persona: str,
    version: int,
    rules: list[dict[str, Any]],
    content: bytes,
    filename: str,
) -> int:
    """Upsert the rules as the original's ``save_gauntlet_rules_batch`` does."""
    from sqlalchemy.dialects import postgresql, sqlite

    from buildlog.models import metadata

    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert

    table = metadata.tables["gauntlet_rules"]
    now = format_timestamp()
    digest = hashlib.sha256(content).hexdigest()
    rows = []
    for rule in rules:
        key = gauntlet_rule_id(persona, rule["rule"])
        provenance = dict(rule["provenance"]) if isinstance(rule.get("provenance"), dict) else {}
        provenance["id"] = key
        references = rule.get("references")
        refs = [
            {"url": ref.get("url"), "title": ref.get("title")}
            for ref in (references if isinstance(references, list) else [])
            if isinstance(ref, dict)
        ]
        tags = rule.get("tags")
        rows.append({
            "rule_id": key, "persona": persona, "rule": rule["rule"],
            "category": str(rule.get("category") or "general"),
            "context": str(rule.get("context") or ""),
            "antipattern": str(rule.get("antipattern") or ""),
            "rationale": str(rule.get("rationale") or ""),
            "tags": json.dumps([str(t) for t in tags] if isinstance(tags, list) else []),
            "refs": json.dumps(refs), "provenance": json.dumps(provenance),
            "version": version, "active": 1, "created_at": now, "updated_at": now,
            "seed_file_hash": digest, "seed_filename": filename,
        })  # fmt: skip
    if not rows:
        return 0
    statement = insert(table)
    kept = ("rule_id", "persona", "created_at")
    statement = statement.on_conflict_do_update(
        index_elements=[table.c.rule_id],
        set_={name: statement.excluded[name] for name in rows[0] if name not in kept},
    )
    conn.execute(statement, rows)
    return len(rows)
