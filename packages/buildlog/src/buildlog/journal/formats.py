"""A skill set printed as the original's ``buildlog skills --format`` prints it: yaml, json,
markdown, rules and settings (the text only; nothing here writes agent instruction files)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable

from buildlog.journal.confidence import Level
from buildlog.journal.skills import Skill, SkillSet

__all__ = ["FORMATS", "format_skills", "to_imperative"]


def _yaml(skill_set: SkillSet) -> str:
    import yaml  # only this format needs it

    return str(
        yaml.dump(skill_set.to_dict(), default_flow_style=False, allow_unicode=True,
                  sort_keys=False)
    )  # fmt: skip


def _json(skill_set: SkillSet) -> str:
    return json.dumps(skill_set.to_dict(), indent=2, ensure_ascii=False)


_TITLES = {"architectural": "Architectural", "workflow": "Workflow",
           "tool_usage": "Tool Usage", "domain_knowledge": "Domain Knowledge"}  # fmt: skip
_BADGES = {"high": "🟢", "medium": "🟡", "low": "⚪"}


def _markdown(skill_set: SkillSet) -> str:
    lines = [
        "## Learned Skills",
        "",
        f"Based on {skill_set.source_entries} buildlog entries, "
        f"{skill_set.total_skills} actionable skills have emerged:",
        "",
    ]
    for category, skills in skill_set.skills.items():
        if not skills:
            continue
        title = _TITLES.get(category, category.replace("_", " ").title())
        lines += [f"### {title} ({len(skills)} skills)", ""]
        for skill in skills:
            seen = f"seen {skill.frequency}x" if skill.frequency > 1 else "seen once"
            lines.append(f"- {_BADGES.get(skill.confidence, '')} **{skill.rule}** ({seen})")
        lines.append("")
    lines += ["---", f"*Generated: {skill_set.generated_at}*"]
    return "\n".join(lines)


# The original's wording rules for turning an observation into an imperative.
_NEGATIVE = tuple(
    re.compile(p)
    for p in (r"\bdon't\b", r"\bdo not\b", r"\bnever\b", r"\bavoid\b", r"\bstop\b",
              r"\bshouldn't\b", r"\bshould not\b")
)  # fmt: skip
# "over" needs a word on each side: "game over" is no comparison.
_COMPARISON = tuple(
    re.compile(p)
    for p in (r"\binstead of\b", r"\brather than\b", r"\bbetter than\b", r"\b\w+\s+over\s+\w+\b")
)
_MODIFIERS = ("always", "never", "prefer", "avoid", "consider", "remember", "don't", "do not")
# Longer first: "you should " must win over "should ".
_CLEANERS = (
    "you shouldn't ", "we shouldn't ", "shouldn't ", "you should not ", "we should not ",
    "should not ", "you should ", "we should ", "should ", "it's better to ", "it is better to ",
)  # fmt: skip
_GERUNDS = {
    "use": "using", "run": "running", "make": "making", "write": "writing", "read": "reading",
    "put": "putting", "get": "getting", "set": "setting", "add": "adding",
    "create": "creating", "delete": "deleting", "call": "calling", "pass": "passing",
    "send": "sending", "store": "storing", "cache": "caching",
}  # fmt: skip


def _prefix(lower: str, confidence: Level) -> str:
    negative = any(p.search(lower) for p in _NEGATIVE)
    if confidence == "high":
        return "Never" if negative else "Always"
    if negative:
        return "Avoid"
    return "Prefer" if any(p.search(lower) for p in _COMPARISON) else "Prefer to"


def to_imperative(rule: str, confidence: Level) -> str:
    """A rule as an instruction: high -> "Always/Never ...", medium -> "Prefer (to)/Avoid
    ...", low -> "Consider: ..."; a rule that starts with such a word is only capitalised.

    Raises:
        ValueError: ``confidence`` is not a level.
    """
    if confidence not in ("high", "medium", "low"):
        raise ValueError(f"Invalid confidence level: {confidence!r}")
    rule = rule.strip()
    if not rule:
        return ""
    lower = rule.lower()
    if lower.startswith(_MODIFIERS):
        return rule[0].upper() + rule[1:]
    if confidence == "low":
        return f"Consider: {rule}"
    prefix = _prefix(lower, confidence)
    cleaned = rule
    for cleaner in _CLEANERS:
        if lower.startswith(cleaner):
            cleaned = cleaned[len(cleaner) :]
            break
    if prefix in ("Never", "Avoid") and cleaned.lower().startswith("not "):
        cleaned = cleaned[4:]
    # No "Avoid avoid ..." / "Prefer preferring ...".
    word = prefix.lower()
    if cleaned.lower().startswith((word + " ", word + "ing ")) and cleaned.find(" ") > 0:
        cleaned = cleaned[cleaned.find(" ") + 1 :]
    if prefix in ("Avoid", "Prefer"):
        words = cleaned.lower().split()
        if words and words[0] in _GERUNDS:
            cleaned = _GERUNDS[words[0]] + cleaned[len(words[0]) :]
    if cleaned and cleaned[0].isupper():
        cleaned = cleaned[0].lower() + cleaned[1:]
    return f"{prefix} {cleaned}"


_SECTIONS: tuple[tuple[Level, str], ...] = (
    ("high", "Core Rules"), ("medium", "Established Patterns"), ("low", "Considerations"),
)  # fmt: skip


def _rules(skill_set: SkillSet) -> str:
    lines = [
        "# Project Rules",
        "",
        f"*Auto-generated from {skill_set.source_entries} buildlog entries. "
        f"{skill_set.total_skills} rules extracted.*",
        "",
    ]
    every = skill_set.all()
    for level, heading in _SECTIONS:
        chosen: list[Skill] = [s for s in every if s.confidence == level]
        if chosen:
            lines += [f"## {heading}", ""]
            ranked = sorted(chosen, key=lambda s: -s.frequency)
            lines += [f"- {to_imperative(s.rule, level)}" for s in ranked]
            lines.append("")
    lines += ["---", f"*Generated: {skill_set.generated_at}*"]
    return "\n".join(lines)


def _settings(skill_set: SkillSet) -> str:
    # Only rules established enough to steer an agent: high and medium.
    output = {
        "_comment": f"Auto-generated from {skill_set.source_entries} buildlog entries",
        "_generated": skill_set.generated_at,
        "rules": [s.rule for s in skill_set.all() if s.confidence in ("high", "medium")],
    }
    return json.dumps(output, indent=2, ensure_ascii=False)


_FORMATTERS: dict[str, Callable[[SkillSet], str]] = {
    "yaml": _yaml, "json": _json, "markdown": _markdown, "rules": _rules, "settings": _settings,
}  # fmt: skip

#: The formats of ``buildlog skills --format``.
FORMATS: tuple[str, ...] = tuple(_FORMATTERS)


def format_skills(skill_set: SkillSet, fmt: str = "yaml") -> str:
    """The skill set as text in one of :data:`FORMATS` (no trailing newline added).

    Raises:
        ValueError: an unknown format.
    """
    try:
        return _FORMATTERS[fmt](skill_set)
    except KeyError:
        raise ValueError(f"Unknown format: {fmt}. Must be one of: {list(FORMATS)}") from None
