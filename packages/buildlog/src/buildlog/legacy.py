"""Readers for the original buildlog's per-project JSON/JSONL files. They never write.

Two layouts are recognised (formats reference, 1.1): the flat one, ``<root>/.buildlog/`` with
``<root>/bandit_state.jsonl`` beside it, and the one existing installations have,
``<root>/buildlog/.buildlog/`` with ``<root>/buildlog/bandit_state.jsonl``. Only the known data
files count as legacy data: ``seeds/``, ``gauntlet_cleared``, journal entries and archived
``*.migrated`` files do not.

Unlike the original, a malformed line is not dropped silently: the good records are returned
together with one :class:`ReadIssue` per bad line (``file:line: reason``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildlog.records import (
    BanditArm,
    Learning,
    Mistake,
    PosteriorSnapshot,
    RecordError,
    ReviewHistoryEntry,
    RewardEvent,
    Session,
    SkillDecision,
    parse_record,
)
from storage_core.errors import NotFound

__all__ = [
    "BANDIT_FILE",
    "DATA_DIR",
    "IMPORT_ORDER",
    "LegacyLayout",
    "LegacyRead",
    "ReadIssue",
    "Record",
    "find_layout",
    "find_tracking_layout",
    "is_archive",
    "layout_for",
    "read_legacy_file",
]

DATA_DIR = ".buildlog"
BANDIT_FILE = "bandit_state.jsonl"
# The original's import order (formats reference, 7.7), then the file it never imported.
IMPORT_ORDER = (
    "promoted.json",
    "rejected.json",
    "review_learnings.json",
    "reward_events.jsonl",
    "sessions.jsonl",
    "mistakes.jsonl",
    "active_session.json",
    BANDIT_FILE,
    "posterior_snapshots.jsonl",
)
# Files the original keeps beside its database (its promote writes promoted.json whatever its
# backend): beside a database, and with no other legacy file pending, they are not pending
# legacy data; migrate merges what is new in them and leaves them for the original to write.
TRACKING_FILES = ("promoted.json",)
# Entries of the data folder that are not storage data and must not be reported.
_NOT_DATA = frozenset({"seeds", "gauntlet_cleared", "buildlog.db"})
_ARCHIVE = re.compile(r"\.migrated(\.\d+)?$")

Record = (
    RewardEvent
    | Session
    | Mistake
    | BanditArm
    | Learning
    | ReviewHistoryEntry
    | SkillDecision
    | PosteriorSnapshot
)


def is_archive(name: str) -> bool:
    """Whether a file name is an archived, already imported file (``x.migrated[.N]``)."""
    return _ARCHIVE.search(name) is not None


@dataclass(frozen=True)
class LegacyLayout:
    """Where one project's legacy files are.

    Attributes:
        buildlog_dir: the folder holding ``.buildlog/`` and the bandit file.
        beside_database: a database exists: the original's tracking files
            (:data:`TRACKING_FILES`) are not pending legacy data.
    """

    buildlog_dir: Path
    beside_database: bool = False

    @property
    def data_dir(self) -> Path:
        """The ``.buildlog`` folder."""
        return self.buildlog_dir / DATA_DIR

    @property
    def bandit_file(self) -> Path:
        """The bandit state file, the sibling of ``.buildlog/``."""
        return self.buildlog_dir / BANDIT_FILE

    def pending_files(self) -> list[Path]:
        """Known legacy data files present and not yet archived, in import order.

        Without a ``.buildlog/`` folder there is no legacy data, not even the bandit file
        (as in the original).
        """
        if not self.data_dir.is_dir():
            return []
        found = [self.data_dir / name for name in IMPORT_ORDER if (self.data_dir / name).is_file()]
        if self.bandit_file.is_file():
            found.insert(IMPORT_ORDER.index(BANDIT_FILE), self.bandit_file)
        if self._only_tracking(found):
            return []
        return found

    def _only_tracking(self, found: list[Path]) -> bool:
        """Whether ``found`` is nothing but the original's tracking files beside a database.

        With other legacy files pending, they are a legacy set not fully imported yet (a
        migrate that was stopped): the tracking file is imported and archived with them.
        """
        return (
            self.beside_database
            and bool(found)
            and all(path.name in TRACKING_FILES for path in found)
        )

    def tracking_files(self) -> list[Path]:
        """The original's tracking files present beside a database (else none)."""
        if not self.beside_database or not self.data_dir.is_dir() or self.pending_files():
            return []
        return [self.data_dir / n for n in TRACKING_FILES if (self.data_dir / n).is_file()]

    def require_inside(self, root: Path) -> None:
        """Refuse a layout whose folder or files lead out of ``root`` through a symlink.

        Raises:
            OutsideProject: the ``.buildlog`` folder, a data file or the bandit file resolves
                outside ``root`` (a resolved path).
        """
        from buildlog.errors import OutsideProject

        for path in (
            self.buildlog_dir,
            self.data_dir,
            *self.pending_files(),
            *self.tracking_files(),
        ):
            target = path.resolve()
            if target != root and not target.is_relative_to(root):
                raise OutsideProject(str(path), str(target), str(root))

    def archived_files(self) -> list[Path]:
        """Files already imported and renamed ``*.migrated[.N]``."""
        folders = [self.data_dir, self.buildlog_dir]
        return sorted(
            p
            for folder in folders
            if folder.is_dir()
            for p in folder.iterdir()
            if is_archive(p.name)
        )

    def unknown_files(self) -> list[Path]:
        """Entries of ``.buildlog/`` that are neither data nor known non-data (reported only)."""
        if not self.data_dir.is_dir():
            return []
        return sorted(
            p
            for p in self.data_dir.iterdir()
            if p.name not in IMPORT_ORDER
            and p.name not in _NOT_DATA
            and not is_archive(p.name)
            and not p.name.endswith(".md")
            and not p.name.startswith(("buildlog.db-", "."))
        )


def layout_for(buildlog_dir: Path | str) -> LegacyLayout:
    """The layout of an explicitly given buildlog dir (``migrate --buildlog-dir``).

    Raises:
        NotFound: the folder does not exist (or is a file).
    """
    folder = Path(buildlog_dir).expanduser().resolve()
    if not folder.is_dir():
        problem = "is a file, not a folder" if folder.exists() else "does not exist"
        raise NotFound("buildlog folder", str(folder), f"buildlog folder {folder} {problem}")
    layout = LegacyLayout(folder)
    layout.require_inside(folder)
    return layout


def find_layout(root: Path | str, *, beside_database: bool = False) -> LegacyLayout | None:
    """Find the legacy data of the project at ``root``: flat layout first, then template.

    Args:
        root: the project root.
        beside_database: a database exists (the original's tracking files are then not
            pending data; a layout with only those is found only by
            :func:`find_tracking_layout`).

    Returns:
        The first layout with pending data files, else None.
    """
    given = Path(root).expanduser().absolute()
    resolved = given.resolve()
    for folder in (resolved, resolved / "buildlog"):
        layout = LegacyLayout(folder, beside_database)
        if layout.pending_files():
            layout.require_inside(resolved)
            return layout
    return None


def find_tracking_layout(root: Path | str) -> LegacyLayout | None:
    """The layout holding the original's tracking files beside a database, if any."""
    resolved = Path(root).expanduser().absolute().resolve()
    for folder in (resolved, resolved / "buildlog"):
        layout = LegacyLayout(folder, beside_database=True)
        if layout.tracking_files():
            layout.require_inside(resolved)
            return layout
    return None


@dataclass(frozen=True)
class ReadIssue:
    """A part of a legacy file that could not be read.

    Attributes:
        path: the file.
        line: the 1-based line number, None for a whole-file or structural problem.
        reason: why it was skipped.
    """

    path: Path
    line: int | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where}: {self.reason}"


@dataclass
class LegacyRead:
    """What a legacy file held: its valid records and the issues met on the way.

    Attributes:
        path: the file.
        records: valid records in file order (after compaction for bandit files).
        issues: the skipped lines or parts.
    """

    path: Path
    records: list[Record] = field(default_factory=list)
    issues: list[ReadIssue] = field(default_factory=list)

    def issue(self, line: int | None, reason: str) -> None:
        """Record one problem."""
        self.issues.append(ReadIssue(self.path, line, reason))


def _jsonl_objects(path: Path, result: LegacyRead) -> Iterator[tuple[int, Any]]:
    """Decoded JSON values of a JSONL file with their line numbers; bad lines become issues."""
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                result.issue(number, f"invalid UTF-8 at byte {err.start}")
                continue
            try:
                yield number, json.loads(text)
            except json.JSONDecodeError as err:
                result.issue(number, f"invalid JSON: {err.msg} (column {err.colno})")


def _read_jsonl(path: Path, cls: type[Record]) -> LegacyRead:
    result = LegacyRead(path)
    for number, value in _jsonl_objects(path, result):
        try:
            result.records.append(parse_record(cls, value, original_formats=True))
        except RecordError as err:
            result.issue(number, str(err))
    return result


def _read_bandit(path: Path) -> LegacyRead:
    """Read and compact: per (context, rule_id) the line with the greatest ``updated_at``."""
    result = _read_jsonl(path, BanditArm)
    latest: dict[tuple[str, str], BanditArm] = {}
    for arm in result.records:
        assert isinstance(arm, BanditArm)
        key = (arm.context, arm.rule_id)
        kept = latest.get(key)
        # On a tie the earlier line wins, as in the original.
        if kept is None or (arm.updated_at or "") > (kept.updated_at or ""):
            latest[key] = arm
    result.records = list(latest.values())
    return result


def _load_json(path: Path, result: LegacyRead) -> object:
    """The decoded JSON document, or None (with an issue) when it cannot be decoded.

    An empty file is an empty document, as the original treats it.
    """
    raw = path.read_bytes()
    if not raw.strip():
        return None
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as err:
        result.issue(None, f"invalid UTF-8 at byte {err.start}")
    except json.JSONDecodeError as err:
        result.issue(err.lineno, f"invalid JSON: {err.msg} (column {err.colno})")
    return None


def _read_id_set(path: Path, decision: str) -> LegacyRead:
    result = LegacyRead(path)
    document = _load_json(path, result)
    if document is None:
        return result
    if not isinstance(document, dict):
        result.issue(None, "expected a JSON object")
        return result
    ids = document.get("skill_ids")
    if not isinstance(ids, list):
        result.issue(None, "field 'skill_ids' must be a list of strings")
        return result
    stamps = document.get(f"{decision}_at")
    stamps = stamps if isinstance(stamps, dict) else {}
    for index, skill_id in enumerate(ids):
        if not isinstance(skill_id, str) or not skill_id:
            result.issue(None, f"skill_ids[{index}] must be a non-empty string")
            continue
        stamp = stamps.get(skill_id)
        result.records.append(
            SkillDecision(
                skill_id=skill_id,
                decision=decision,
                decided_at=stamp if isinstance(stamp, str) else None,
                metadata=stamp,
            )
        )
    return result


def _read_learnings(path: Path) -> LegacyRead:
    result = LegacyRead(path)
    document = _load_json(path, result)
    if document is None:
        return result
    if not isinstance(document, dict):
        result.issue(None, "expected a JSON object")
        return result
    learnings = document.get("learnings", {})
    if not isinstance(learnings, dict):
        result.issue(None, "field 'learnings' must be an object")
        learnings = {}
    for key, value in learnings.items():
        try:
            result.records.append(parse_record(Learning, value, original_formats=True))
        except RecordError as err:
            result.issue(None, f"learning {key!r}: {err}")
    history = document.get("review_history", [])
    if not isinstance(history, list):
        result.issue(None, "field 'review_history' must be a list")
        history = []
    for index, value in enumerate(history):
        try:
            result.records.append(parse_record(ReviewHistoryEntry, value, original_formats=True))
        except RecordError as err:
            result.issue(None, f"review_history[{index}]: {err}")
    return result


def _read_active_session(path: Path) -> LegacyRead:
    result = LegacyRead(path)
    document = _load_json(path, result)
    if document is None:
        return result
    try:
        result.records.append(parse_record(Session, document, original_formats=True))
    except RecordError as err:
        result.issue(None, str(err))
    return result


def read_legacy_file(path: Path) -> LegacyRead:
    """Read any legacy data file, choosing the format by its name.

    Args:
        path: a file named as in :data:`IMPORT_ORDER` (``bandit_state.jsonl`` wherever it is).

    Returns:
        The valid records and the issues.

    Raises:
        ValueError: the name is not a known legacy file.
        OSError: the file cannot be read.
    """
    name = path.name
    if name in ("promoted.json", "rejected.json"):
        return _read_id_set(path, name.removesuffix(".json"))
    if name == "review_learnings.json":
        return _read_learnings(path)
    if name == "active_session.json":
        return _read_active_session(path)
    if name == BANDIT_FILE:
        return _read_bandit(path)
    jsonl: dict[str, type[Record]] = {
        "reward_events.jsonl": RewardEvent,
        "sessions.jsonl": Session,
        "mistakes.jsonl": Mistake,
        "posterior_snapshots.jsonl": PosteriorSnapshot,
    }
    if name in jsonl:
        return _read_jsonl(path, jsonl[name])
    raise ValueError(f"not a legacy buildlog file: {path}")
