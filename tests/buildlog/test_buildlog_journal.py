"""Skills from the markdown journal (:mod:`buildlog.journal`): parsing, similarity, ids,
confidence, generation and the five formats, each checked against values the original
buildlog 0.23.0 gives (the compat suite compares the whole commands)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from buildlog.journal.confidence import confidence_level, confidence_score, confidence_tier
from buildlog.journal.entries import distill, iter_entries, parse_improvements
from buildlog.journal.formats import format_skills, to_imperative
from buildlog.journal.similarity import group_insights, similarity, tokens
from buildlog.journal.skills import Skill, SkillSet, extract_tags, generate_skills, skill_id
from buildlog.records import Learning

ENTRY = """# Build Journal: Auth refactor

## What happened
- not an insight

## Improvements

### Architectural
- Keep the auth middleware separate
- Wrap every HTTP call in a retry
  with a timeout (a continuation line)
    - a nested bullet is a bullet of its own
not indented: ignored

### Tool usage
- [placeholder]
- e.g., an example
- Use pytest fixtures

#### A sub-heading stays in the category
- Still tool usage

### Unknown Heading
- ignored

## Next steps
- not an insight either
"""


def test_parse_improvements_reads_categories_bullets_and_continuations() -> None:
    assert parse_improvements(ENTRY) == {
        "architectural": [
            "Keep the auth middleware separate",
            "Wrap every HTTP call in a retry with a timeout (a continuation line)",
            "a nested bullet is a bullet of its own",
        ],
        "workflow": [],
        "tool_usage": ["Use pytest fixtures", "Still tool usage"],
        "domain_knowledge": [],
    }


@pytest.mark.parametrize(
    "content",
    [
        "# Build Journal: x\n\nNo improvements here.\n",
        "## Improvements\n\nJust prose, no category.\n",
        "## Improvements\n- a bullet with no category\n",
        "#### Improvements\n### Workflow\n- H4 is not the section\n",
        "",
    ],
)
def test_entries_without_insights_give_empty_categories(content: str) -> None:
    parsed = parse_improvements(content)
    assert list(parsed) == ["architectural", "workflow", "tool_usage", "domain_knowledge"]
    assert all(not insights for insights in parsed.values())


def test_h3_improvements_and_spelled_categories() -> None:
    text = (
        "### Improvements\n\n### domain_knowledge\n- Ünïcödé stays 🚀\n"
        "### Domain Knowledge\n- the last heading of a category wins\n"
    )
    assert parse_improvements(text)["domain_knowledge"] == ["the last heading of a category wins"]
    assert parse_improvements("## Improvements\n### tool_usage\n- Ünïcödé 🚀\n")["tool_usage"] == [
        "Ünïcödé 🚀"
    ]


def _journal(root: Path, entries: dict[str, str]) -> Path:
    journal = root / "buildlog"
    journal.mkdir(parents=True, exist_ok=True)
    for name, text in entries.items():
        (journal / name).write_text(text, encoding="utf-8")
    return root


def _entry(category: str, *insights: str) -> str:
    bullets = "".join(f"- {insight}\n" for insight in insights)
    return f"# Build Journal: t\n\n## Improvements\n\n### {category}\n{bullets}"


def test_entries_are_found_by_dated_name_and_since(tmp_path: Path) -> None:
    root = _journal(
        tmp_path,
        {
            "2026-01-02-b.md": "",
            "2026-01-01-a.md": "",
            "2026-13-01-bad-month.md": "",
            "notes.md": "",
            "2026-01-03.md": "",  # no slug: not an entry
        },
    )
    names = [path.name for path, _ in iter_entries(root / "buildlog")]
    assert names == ["2026-01-01-a.md", "2026-01-02-b.md"]
    later = list(iter_entries(root / "buildlog", since=date(2026, 1, 2)))
    assert [(path.name, day) for path, day in later] == [("2026-01-02-b.md", "2026-01-02")]


def test_distill_counts_entries_and_skips_unreadable_ones(tmp_path: Path) -> None:
    root = _journal(
        tmp_path,
        {"2026-01-01-a.md": _entry("Workflow", "Run the linter"), "2026-01-02-b.md": "prose"},
    )
    (root / "buildlog" / "2026-01-03-latin1.md").write_bytes("caf\xe9".encode("latin-1"))
    (root / "buildlog" / "2026-01-04-folder.md").mkdir()
    result = distill(root)
    assert result.entry_count == 2
    (pattern,) = result.patterns["workflow"]
    assert (pattern.insight, pattern.source, pattern.date, pattern.context) == (
        "Run the linter",
        "buildlog/2026-01-01-a.md",
        "2026-01-01",
        "t",
    )


def test_tokens_drop_stop_words_and_map_synonyms() -> None:
    assert tokens("Run the PyTest suite, always!") == {"run", "test", "suite"}
    assert tokens("the a an") == set()
    assert similarity("Run mypy before each commit", "running mypy before each commit") == 1.0
    assert similarity("", "anything") == 0.0
    # 2 shared of 3 words: 0.667, below the 0.7 threshold.
    assert similarity("alpha beta", "alpha beta gamma") == pytest.approx(2 / 3)


def test_grouping_is_greedy_against_the_first_insight_and_keeps_the_shortest(
    tmp_path: Path,
) -> None:
    root = _journal(
        tmp_path,
        {
            "2026-01-01-a.md": _entry("Workflow", "alpha beta gamma delta", "zeta eta"),
            "2026-01-05-b.md": _entry("Workflow", "alpha beta gamma delta epsilon"),
            "2026-01-09-c.md": _entry("Workflow", "alpha beta gamma"),
        },
    )
    groups = group_insights(distill(root).patterns["workflow"])
    assert [(g.rule, g.frequency) for g in groups] == [
        ("alpha beta gamma", 3),
        ("zeta eta", 1),
    ]
    assert groups[0].sources == [
        "buildlog/2026-01-01-a.md",
        "buildlog/2026-01-05-b.md",
        "buildlog/2026-01-09-c.md",
    ]
    assert (groups[0].earliest, groups[0].most_recent) == (date(2026, 1, 1), date(2026, 1, 9))


def test_skill_ids_and_tags_are_the_originals() -> None:
    rule = "Keep auth middleware separate from API handlers"
    assert skill_id("architectural", rule) == "arch-07f1d7e80b"
    assert skill_id("architectural", rule.upper()) == "arch-07f1d7e80b"  # case-insensitive
    assert skill_id("workflow", "Run mypy before each commit") == "wf-4329356e56"
    assert skill_id("testing", "x") == "sk-2d711642b7"
    # Words are split on spaces, "-" and "_" only: "timeout," and "errors:" are no tags.
    assert extract_tags("Cached API errors: retry-on-timeout, pytest_fixtures") == [
        "api", "cache", "retry", "test",
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("frequency", "age_days", "level"),
    [(3, 29, "high"), (3, 30, "medium"), (2, 0, "medium"), (1, 0, "low"), (5, None, "medium")],
)
def test_confidence_levels(frequency: int, age_days: int | None, level: str) -> None:
    today = date(2026, 6, 1)
    seen = None if age_days is None else today - timedelta(days=age_days)
    assert confidence_level(frequency, seen, today) == level


def test_continuous_confidence_and_tiers() -> None:
    now = datetime(2026, 6, 1, tzinfo=UTC)
    assert confidence_score(5, now, now=now) == pytest.approx(1 - 2.718281828**-1)
    assert confidence_score(5, now + timedelta(days=3), now=now) == confidence_score(
        5, now, now=now
    )
    assert [confidence_tier(s) for s in (0.1, 0.3, 0.5, 0.9)] == [
        "speculative", "provisional", "stable", "entrenched",
    ]  # fmt: skip
    with pytest.raises(ValueError, match="score must be in"):
        confidence_tier(1.5)


def test_generate_skills_min_frequency_since_and_order(tmp_path: Path) -> None:
    today = date.today()
    days = [today - timedelta(days=n) for n in (40, 10, 2)]
    root = _journal(
        tmp_path,
        {
            f"{days[0]}-a.md": _entry("Workflow", "Run mypy before each commit", "Zeta once"),
            f"{days[1]}-b.md": _entry("Workflow", "Running mypy before every commit"),
            f"{days[2]}-c.md": _entry("Workflow", "Run mypy before commit", "Alpha once"),
        },
    )
    skills = generate_skills(root).skills["workflow"]
    assert [(s.rule, s.frequency, s.confidence) for s in skills] == [
        ("Run mypy before commit", 3, "high"),
        ("Alpha once", 1, "low"),
        ("Zeta once", 1, "low"),
    ]
    assert [s.rule for s in generate_skills(root, min_frequency=2).all()] == [
        "Run mypy before commit"
    ]
    recent = generate_skills(root, since=days[1])
    assert recent.source_entries == 2
    assert [(s.rule, s.frequency, s.confidence) for s in recent.skills["workflow"]] == [
        ("Run mypy before commit", 2, "medium"),
        ("Alpha once", 1, "low"),
    ]


def _learning(rule: str, category: str, count: int = 1, **kw: str) -> Learning:
    stamp = kw.pop("stamp", datetime.now(UTC).isoformat())
    return Learning(skill_id(category, rule), rule, category, "major", "review:pr-1", stamp,
                    stamp, count)  # fmt: skip


def test_review_learnings_reinforce_or_join_the_journal_skills(tmp_path: Path) -> None:
    root = _journal(tmp_path, {"2026-01-01-a.md": _entry("Workflow", "Run mypy")})
    same = _learning("Run mypy", "workflow", count=2)
    new = _learning("Every parser change gets a test", "testing", count=3)
    empty = _learning("", "workflow")
    learnings = {same.id: same, new.id: new, "empty": empty}
    skill_set = generate_skills(root, learnings=learnings)
    assert list(skill_set.skills) == [
        "architectural", "workflow", "tool_usage", "domain_knowledge", "testing",
    ]  # fmt: skip
    (merged,) = skill_set.skills["workflow"]
    # Reinforced: counted together, the journal's level kept.
    assert (merged.frequency, merged.confidence, merged.sources) == (
        3, "low", ["buildlog/2026-01-01-a.md", "review:pr-1"],
    )  # fmt: skip
    (joined,) = skill_set.skills["testing"]
    assert (joined.id, joined.confidence, joined.tags) == (new.id, "high", ["test"])


def _fixed_set() -> SkillSet:
    def skill(rule: str, category: str, frequency: int, confidence: str) -> Skill:
        return Skill(skill_id(category, rule), category, rule, frequency, confidence,  # type: ignore[arg-type]
                     ["buildlog/2026-01-01-a.md"], extract_tags(rule))  # fmt: skip

    return SkillSet(
        "2026-01-02T03:04:05.000006Z",
        2,
        {
            "architectural": [
                skill("Never call the database from views", "architectural", 3, "high")
            ],
            "workflow": [skill("Use ruff over flake8", "workflow", 2, "medium")],
            "tool_usage": [],
            "domain_knowledge": [
                skill("Tokens expire \u2013 15 min ✓", "domain_knowledge", 1, "low")
            ],
        },
    )


def test_markdown_rules_and_settings_formats() -> None:
    skill_set = _fixed_set()
    assert format_skills(skill_set, "markdown") == (
        "## Learned Skills\n\nBased on 2 buildlog entries, 3 actionable skills have emerged:\n\n"
        "### Architectural (1 skills)\n\n- 🟢 **Never call the database from views** (seen 3x)\n"
        "\n### Workflow (1 skills)\n\n- 🟡 **Use ruff over flake8** (seen 2x)\n\n"
        "### Domain Knowledge (1 skills)\n\n- ⚪ **Tokens expire \u2013 15 min ✓** (seen once)\n\n"
        "---\n*Generated: 2026-01-02T03:04:05.000006Z*"
    )
    assert format_skills(skill_set, "rules") == (
        "# Project Rules\n\n*Auto-generated from 2 buildlog entries. 3 rules extracted.*\n\n"
        "## Core Rules\n\n- Never call the database from views\n\n"
        "## Established Patterns\n\n- Prefer using ruff over flake8\n\n"
        "## Considerations\n\n- Consider: Tokens expire \u2013 15 min ✓\n\n"
        "---\n*Generated: 2026-01-02T03:04:05.000006Z*"
    )
    assert json.loads(format_skills(skill_set, "settings")) == {
        "_comment": "Auto-generated from 2 buildlog entries",
        "_generated": "2026-01-02T03:04:05.000006Z",
        "rules": ["Never call the database from views", "Use ruff over flake8"],
    }


def test_yaml_and_json_formats_hold_the_same_skill_set() -> None:
    skill_set = _fixed_set()
    as_json = format_skills(skill_set, "json")
    assert "✓" in as_json  # not escaped, as the original
    assert json.loads(as_json) == yaml.safe_load(format_skills(skill_set, "yaml"))
    assert json.loads(as_json)["total_skills"] == 3
    with pytest.raises(ValueError, match="Unknown format: toml"):
        format_skills(skill_set, "toml")


@pytest.mark.parametrize(
    ("rule", "confidence", "expected"),
    [
        ("Run mypy before each commit", "high", "Always run mypy before each commit"),
        ("Don't use eval", "medium", "Don't use eval"),
        ("you should not use globals", "high", "Never use globals"),
        ("Use Redis over memcached", "medium", "Prefer using Redis over memcached"),
        ("Cache results per request", "medium", "Prefer to cache results per request"),
        ("We should avoid avoid loops", "medium", "Avoid avoid loops"),
        ("should not store secrets in git", "medium", "Avoid storing secrets in git"),
        ("Write the test first", "low", "Consider: Write the test first"),
        ("   ", "high", ""),
    ],
)
def test_imperatives_are_the_originals(rule: str, confidence: str, expected: str) -> None:
    assert to_imperative(rule, confidence) == expected  # type: ignore[arg-type]
