"""The record kinds buildlog stores, with validation from (and conversion to) plain JSON.

Every record is a small dataclass. :func:`parse_record` builds one from a decoded JSON object
and raises :class:`RecordError` with a one-line reason (missing field, wrong type) that the
legacy readers report as ``file:line: reason``. ``to_dict`` gives the record back with real
JSON types (lists are lists, booleans are booleans, absent optionals are ``None``).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, TypeVar

from storage_core.errors import StorageError

__all__ = [
    "ActiveSession",
    "BanditArm",
    "EmissionEdge",
    "GauntletCredit",
    "GauntletRule",
    "Learning",
    "Mistake",
    "PosteriorSnapshot",
    "RecordError",
    "ReviewHistoryEntry",
    "RewardEvent",
    "Session",
    "SkillDecision",
    "check_text",
    "field_kinds",
    "parse_record",
    "record_to_dict",
]

Kind = Literal["str", "float", "int", "bool", "str_list", "loose_list", "json"]
Decision = Literal["promoted", "rejected"]


class RecordError(StorageError, ValueError):
    """A JSON object is not a valid record; ``str()`` is the one-line reason."""


@dataclass(slots=True)
class RewardEvent:
    """The outcome of one piece of agent work (``reward_events``)."""

    id: str
    timestamp: str
    outcome: str
    reward_value: float
    rules_active: list[str] = field(default_factory=list)
    revision_distance: float | None = None
    error_class: str | None = None
    notes: str | None = None
    source: str | None = None
    session_id: str | None = None


@dataclass(slots=True)
class Session:
    """A finished (or, as :class:`ActiveSession`, running) experiment session (``sessions``)."""

    id: str
    started_at: str
    ended_at: str | None = None
    rules_at_start: list[str] = field(default_factory=list)
    rules_at_end: list[str] = field(default_factory=list)
    selected_rules: list[str] = field(default_factory=list)
    error_class: str | None = None
    entry_file: str | None = None
    notes: str | None = None


ActiveSession = Session
"""The running session has the same shape as a finished one, with ``ended_at`` None."""


@dataclass(slots=True)
class Mistake:
    """A mistake logged during a session (``mistakes``)."""

    id: str
    session_id: str
    timestamp: str
    error_class: str
    description: str
    semantic_hash: str
    was_repeat: bool = False
    corrected_by_rule: str | None = None
    # NULL, a list, or the text the original stored (it keeps these as given and exports the
    # stored text): kept exactly, never turned into one another.
    related_concepts: list[str] | str | None = None
    relation_to_prior: str | None = None
    resolution_action: str | None = None
    context: str | None = None
    severity: str | None = None
    rules_consulted: list[str] | str | None = None


@dataclass(slots=True)
class BanditArm:
    """Beta posterior of one rule in one context (``bandit_arms``)."""

    context: str
    rule_id: str
    alpha: float = 1.0
    beta: float = 1.0
    is_seed: bool = False
    updated_at: str | None = None

    @property
    def mean(self) -> float:
        """Posterior mean ``alpha / (alpha + beta)``, rounded to 4 places as exported."""
        total = self.alpha + self.beta
        return round(self.alpha / total, 4) if total else 0.0


@dataclass(slots=True)
class Learning:
    """A rule learned from reviews (``review_learnings``)."""

    id: str
    rule: str
    category: str
    severity: str
    source: str
    first_seen: str
    last_reinforced: str
    reinforcement_count: int = 1
    contradiction_count: int = 0
    functional_principle: str | None = None


@dataclass(slots=True)
class ReviewHistoryEntry:
    """One review that produced or reinforced learnings (``review_history``)."""

    timestamp: str
    source: str | None = None
    issues_count: int = 0
    new_learning_ids: list[str] = field(default_factory=list)
    reinforced_learning_ids: list[str] = field(default_factory=list)


@dataclass(slots=True)
class SkillDecision:
    """A skill id promoted or rejected by the user (``skill_decisions``).

    ``metadata`` is whatever JSON value the original kept per id (usually the decision
    timestamp); ``decided_at`` is when the decision was recorded.
    """

    skill_id: str
    decision: str
    decided_at: str | None = None
    metadata: Any = None


@dataclass(slots=True)
class PosteriorSnapshot:
    """A snapshot of one rule's posterior (``posterior_snapshots``)."""

    rule_id: str
    alpha: float
    beta: float
    mean: float
    trigger: str
    timestamp: str | None = None
    iteration: int | None = None
    batch_id: str | None = None


@dataclass(slots=True)
class GauntletCredit:
    """The rules a gauntlet review credited (``gauntlet_credits``); a reward given without
    rules credits those of the project's latest one."""

    timestamp: str
    iteration: int
    rules: list[str]


@dataclass(slots=True)
class EmissionEdge:
    """A relation the original emitted for downstream consumers (``emission_edges``)."""

    source_id: str
    target_id: str
    relation_type: str
    artifact_type: str
    emitted_at: str
    consumed_at: str
    confidence: float | None = None
    properties: Any = None


@dataclass(slots=True)
class GauntletRule:
    """A reviewer persona's rule (``gauntlet_rules``); rules belong to no project."""

    rule_id: str
    persona: str
    rule: str
    category: str
    created_at: str
    updated_at: str
    context: str = ""
    antipattern: str = ""
    rationale: str = ""
    tags: list[str] = field(default_factory=list)
    refs: Any = None
    provenance: Any = None
    version: int = 1
    active: bool = True
    seed_file_hash: str | None = None
    seed_filename: str | None = None


R = TypeVar("R")

_KINDS: dict[object, Kind] = {
    str: "str",
    float: "float",
    int: "int",
    bool: "bool",
    list[str]: "str_list",
}
_TYPE_NAMES = {
    "str": "a string",
    "float": "a number",
    "int": "an integer",
    "bool": "a boolean",
    "str_list": "a list of strings",
    "loose_list": "a list of strings or a string",
}


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _coerce(kind: Kind, name: str, value: object) -> object:
    ok: bool
    if kind == "json":
        return value
    if kind == "loose_list":
        if isinstance(value, str):
            _require_unicode(name, value)
            return value
        kind = "str_list"
    if kind == "str":
        ok = isinstance(value, str)
        if ok:
            _require_unicode(name, value)  # type: ignore[arg-type]
    elif kind == "float":
        # bool is an int subclass; True is not a probability.
        if isinstance(value, int | float) and not isinstance(value, bool):
            if not math.isfinite(value):
                raise RecordError(f"field {name!r} must be a finite number, got {value!r}")
            return float(value)
        ok = False
    elif kind == "int":
        ok = isinstance(value, int) and not isinstance(value, bool)
    elif kind == "bool":
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, list) and all(isinstance(item, str) for item in value)
        if isinstance(value, list) and not ok:
            raise RecordError(f"field {name!r} must be {_TYPE_NAMES[kind]}")
        if ok and isinstance(value, list):
            for item in value:
                _require_unicode(name, item)
    if not ok:
        raise RecordError(f"field {name!r} must be {_TYPE_NAMES[kind]}, got {_json_type(value)}")
    return value


def _unicode_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored as UTF-8 text, or None."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as err:
        # JSON escapes ("\\udcff") and undecodable command-line bytes give lone surrogates.
        return f"is not valid Unicode (a lone surrogate at position {err.start})"
    return None


def _require_unicode(name: str, value: str) -> None:
    problem = _unicode_problem(value)
    if problem is not None:
        raise RecordError(f"field {name!r} {problem}")


def check_text(where: str, value: str | None, *, required: bool = False) -> None:
    """Validate a piece of text given to the library (a rule, a note, an id).

    Args:
        where: what the text is, for the message (``"--rule"``, ``"skill id"``).
        value: the text.
        required: whether it must be present and not blank.

    Raises:
        RecordError: a required text is missing or blank, or the text is not valid Unicode
            (lone surrogates come from undecodable bytes on the command line) or holds a
            NUL character.
    """
    if value is None:
        if required:
            raise RecordError(f"{where} must not be empty")
        return
    if required and not value.strip():
        raise RecordError(f"{where} must not be empty")
    problem = _unicode_problem(value)
    if problem is not None:
        raise RecordError(f"{where} {problem}")
    if "\x00" in value:
        raise RecordError(f"{where} holds a NUL character")


def parse_record(cls: type[R], data: object, *, original_formats: bool = False) -> R:
    """Build a record of type ``cls`` from a decoded JSON value, validating every field.

    Unknown keys are ignored (newer writers may add some). A ``null`` optional field counts
    as absent; a ``null`` required field is an error.

    Args:
        cls: one of the record dataclasses of this module.
        data: the decoded JSON value.
        original_formats: also judge values against the original tool's file formats
            (legacy files): real timestamps with the offset it writes, its three outcomes,
            reward values from 0 to 1.

    Returns:
        The record.

    Raises:
        RecordError: ``data`` is not an object, lacks a required field or has a field of the
            wrong type.
    """
    if not isinstance(data, Mapping):
        raise RecordError(f"expected a JSON object, got {_json_type(data)}")
    values: dict[str, object] = {}
    record_type: type = cls
    for name, kind, required in field_kinds(record_type):
        value = data.get(name)
        if value is None:
            if required:
                raise RecordError(f"missing required field {name!r}")
            continue
        values[name] = _coerce(kind, name, value)
    record = cls(**values)
    if original_formats:
        _check_meaning(record)
    return record


#: The outcomes the original tool writes (it has no CHECK, but writes no other).
OUTCOMES = ("accepted", "revision", "rejected")

# Timestamps the original writes as ``datetime.now(timezone.utc).isoformat()``: an offset is
# part of the format. (Not here: skill decisions, whose times the original's renderer writes
# naive; bandit arms and posterior snapshots, whose times it stores as given.)
_AWARE_TIMESTAMPS: dict[str, tuple[str, ...]] = {
    "RewardEvent": ("timestamp",),
    "Session": ("started_at", "ended_at"),
    "Mistake": ("timestamp",),
    "ReviewHistoryEntry": ("timestamp",),
}


def _check_meaning(record: object) -> None:
    """Judge field values against the original tool's formats, beyond their JSON types.

    Raises:
        RecordError: a timestamp that is no date (or lacks the offset the original always
            writes), an outcome the original never writes, a reward value outside 0..1.
    """
    kind = type(record).__name__
    for name in _AWARE_TIMESTAMPS.get(kind, ()):
        value = getattr(record, name)
        if value is not None:
            _require_aware_timestamp(name, value)
    if isinstance(record, RewardEvent):
        if record.outcome not in OUTCOMES:
            raise RecordError(
                f"field 'outcome' is {record.outcome!r}; expected one of {', '.join(OUTCOMES)}"
            )
        if not 0.0 <= record.reward_value <= 1.0:
            raise RecordError(
                f"field 'reward_value' is {record.reward_value!r}; expected a number from 0 to 1"
            )


def _require_aware_timestamp(name: str, value: str) -> None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise RecordError(f"field {name!r} is not an ISO 8601 timestamp: {value!r}") from None
    if parsed.tzinfo is None:
        raise RecordError(
            f"field {name!r} has no UTC offset: {value!r} (the original writes e.g. "
            "2026-02-05T14:45:00.123456+00:00)"
        )


def field_kinds(cls: type[Any]) -> tuple[tuple[str, Kind, bool], ...]:
    """(name, kind, required) per field of a record class, the kind read from its type hint.

    Kinds: ``str``, ``float``, ``int``, ``bool``, ``str_list``, ``loose_list`` (a list of
    strings or the text the original stored) and ``json`` (any value).
    """
    kinds = _KIND_CACHE.get(cls)
    if kinds is None:
        kinds = _KIND_CACHE[cls] = _compute_field_kinds(cls)
    return kinds


_KIND_CACHE: dict[type[Any], tuple[tuple[str, Kind, bool], ...]] = {}


def _compute_field_kinds(cls: type[Any]) -> tuple[tuple[str, Kind, bool], ...]:
    hints = typing.get_type_hints(cls)
    kinds: list[tuple[str, Kind, bool]] = []
    for spec in dataclasses.fields(cls):
        hint = hints[spec.name]
        args = [a for a in typing.get_args(hint) if a is not type(None)]
        base = args[0] if typing.get_origin(hint) in (types.UnionType, typing.Union) else hint
        kind: Kind = _KINDS.get(base, "json")
        is_union = typing.get_origin(hint) in (types.UnionType, typing.Union)
        if kind == "str_list" and is_union and str in args:
            kind = "loose_list"
        required = (
            spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING
        )
        kinds.append((spec.name, kind, required))
    return tuple(kinds)


def record_to_dict(record: object) -> dict[str, Any]:
    """A record as a JSON-ready dict (every field, lists copied, absent optionals None)."""
    return {
        spec.name: list(value) if isinstance(value := getattr(record, spec.name), list) else value
        for spec in dataclasses.fields(record)  # type: ignore[arg-type]
    }
