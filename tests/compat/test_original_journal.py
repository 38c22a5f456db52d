"""Skills from the markdown journal: ours against the original buildlog 0.23.0, both through
their command lines on one project and one home folder. Every output must be identical but
for the ``generated_at`` instant."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from datetime import date, timedelta
from pathlib import Path

import pytest
from original_tool import Tools

pytestmark = pytest.mark.timeout(900)

_STAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z")


def _day(days_ago: int) -> str:
    # Relative to today, so that the recency of "high" confidence holds whenever this runs.
    return (date.today() - timedelta(days=days_ago)).isoformat()


def _corpus() -> dict[str, str]:
    """Entries of several dates: repeated and reworded insights (frequency, merging and
    confidence matter), every category and heading spelling, multi-line and nested bullets,
    placeholders, unicode, entries without Improvements, and files that are no entries."""
    return {
        f"{_day(60)}-first-cut.md": """# Build Journal: First cut

## What happened
- Started the auth service (not an insight: outside Improvements)

## Improvements

### Architectural
- Keep the auth middleware separate from the API handlers
- Version every public schema
- Cache tokens per tenant
- Wrap every HTTP call to the database in a retry with a timeout,
  so that a slow Postgres does not stall the request
  - nested: a sub-bullet is an insight of its own

### Workflow
- Run the type checker before every commit
- [Add workflow insights here]
- e.g., placeholders are skipped

### Tool Usage
- Use pytest fixtures for the database setup

### Domain Knowledge
- Tokens expire after 15 minutes \u2013 refresh them early ✓

## Next steps
- Ship it
""",
        # Around the two boundaries: a skill seen 3 times, last 30 days ago, is medium; last
        # 29 days ago, high. Insights 2/3 alike stay apart; 7/10 alike merge.
        f"{_day(45)}-schemas.md": """# Build Journal: Schemas

## Improvements

### Architectural
- Version every public schema
- Cache tokens per tenant

### Tool usage
- Vendor lockfiles

### Domain knowledge
- Log request ids per handler span trace
""",
        f"{_day(30)}-schemas-again.md": """# Build Journal: Schemas again

## Improvements

### Architectural
- Version every public schema

### Tool usage
- Vendor lockfiles early
""",
        f"{_day(29)}-tenants.md": """# Build Journal: Tenants

## Improvements

### Architectural
- Cache tokens per tenant

### Domain knowledge
- Log request ids per handler span trace, extra context fields
""",
        f"{_day(20)}-caching.md": """# Build Journal: Caching layer

### Improvements

### architectural
- Keep auth middleware separate from API handlers
- Prefer Redis over in-process caching for shared state

### workflow
- Run the typechecker before each commit
- Never deploy on Fridays without a rollback plan

### tool_usage
- Use pytest fixtures for the database setup
#### A sub-heading stays in Tool Usage
- Pin the Docker base image by digest

### Retrospective
- An unknown category is ignored
""",
        f"{_day(9)}-deploy.md": """# Build Journal: [TITLE]

## Improvements

### Workflow
- Run mypy before each commit
- Avoid deploy on Fridays without rollback plan
- You should write the failing test first

### Domain knowledge
- Tokens expire after 15 minutes: refresh them early
- Ünïcödé rules 🚀 survive the round trip, even when they run past the seventy characters

### Architectural
- Keep auth middleware separate from API handlers
""",
        f"{_day(3)}-notes.md": "# Build Journal: Notes only\n\nNo Improvements section here.\n",
        f"{_day(1)}-review.md": """# Build Journal: Review fixes

## Improvements

### Workflow
- Run mypy before each commit
- We should never skip the changelog

### Tool usage
- Use ripgrep instead of grep for large trees
""",
        "2026-13-40-not-a-date.md": "## Improvements\n### Workflow\n- never read\n",
        "README.md": "## Improvements\n### Workflow\n- not an entry\n",
    }


# A review learning on a journal insight (same category and rule: the same id, so it
# reinforces the skill) and two in categories the journal does not have.
_ISSUES = [
    {"severity": "major", "category": "workflow", "description": "mypy was skipped",
     "rule_learned": "Run mypy before each commit"},
    {"severity": "major", "category": "testing", "description": "No test for the parser",
     "rule_learned": "Every parser change gets a test"},
    {"severity": "minor", "category": "style", "description": "A long function",
     "rule_learned": "Keep functions short"},
]  # fmt: skip

STATUS = [
    ["status", "--json"],
    ["status", "--json", "--min-confidence", "low"],
    ["status", "--json", "--min-confidence", "medium"],
    ["status", "--json", "--min-confidence", "high"],
    ["status"],
    ["status", "--min-confidence", "medium"],
    ["diff", "--json"],
    ["diff"],
]
SKILLS = [
    ["skills"],
    ["skills", "--format", "yaml"],
    ["skills", "--format", "json"],
    ["skills", "--format", "markdown"],
    ["skills", "--format", "rules"],
    ["skills", "--format", "settings"],
    ["skills", "--min-frequency", "2"],
    ["skills", "--format", "json", "--min-frequency", "3"],
    ["skills", "--format", "json", "--since", _day(20)],
    ["skills", "--format", "markdown", "--since", _day(10), "--min-frequency", "2"],
    ["skills", "--embeddings", "token", "--format", "rules"],
]


def _journal(project: Path) -> Path:
    (project / "buildlog").mkdir(parents=True)
    for name, text in _corpus().items():
        (project / "buildlog" / name).write_text(text, encoding="utf-8")
    return project


def _both(tools: Tools, project: Path, args: list[str]) -> tuple[str, str]:
    theirs = _STAMP.sub("<generated_at>", tools.original(project, *args).stdout)
    ours = _STAMP.sub("<generated_at>", tools.ours(project, *args).stdout)
    return theirs, ours


def _assert_same(tools: Tools, project: Path, cases: list[list[str]]) -> None:
    for args in cases:
        theirs, ours = _both(tools, project, args)
        assert ours == theirs, args


def _learn(tools: Tools, project: Path) -> None:
    issues = project / "issues.json"
    issues.write_text(json.dumps(_ISSUES))
    for review in ("gauntlet:PR#1", "gauntlet:PR#2"):  # twice: reinforced
        tools.original(project, "gauntlet", "learn", str(issues), "--source", review)


def test_status_diff_and_skills_equal_the_originals(tools: Tools, tmp_path: Path) -> None:
    project = _journal(tmp_path / "widgets")
    _assert_same(tools, project, STATUS + SKILLS)
    # The corpus exercises what it is meant to: merged insights, every level, every category.
    status = json.loads(tools.ours(project, "status", "--json").stdout)
    assert all(status["by_confidence"].values()), status["by_confidence"]
    assert list(status["skills"]) == ["architectural", "workflow", "tool_usage", "domain_knowledge"]
    assert status["total_entries"] == 8
    # With review learnings in the database: one reinforces a journal skill, two add categories.
    _learn(tools, project)
    _assert_same(tools, project, STATUS + SKILLS)
    data = json.loads(tools.ours(project, "skills", "--format", "json").stdout)
    assert {"testing", "style"} <= set(data["skills"])


def test_skills_written_to_a_file_equal_the_originals(tools: Tools, tmp_path: Path) -> None:
    project = _journal(tmp_path / "widgets")
    for fmt in ("yaml", "json", "markdown", "rules", "settings"):
        theirs = tools.original(project, "skills", "--format", fmt, "-o", f"theirs.{fmt}")
        ours = tools.ours(project, "skills", "--format", fmt, "-o", f"ours.{fmt}")
        assert ours.stdout.replace("ours.", "theirs.") == theirs.stdout
        written = [
            _STAMP.sub("<generated_at>", (project / f"{who}.{fmt}").read_text(encoding="utf-8"))
            for who in ("ours", "theirs")
        ]
        assert written[0] == written[1], fmt


def test_without_a_journal_the_answers_equal_the_originals(tools: Tools, tmp_path: Path) -> None:
    project = tmp_path / "widgets"
    project.mkdir()
    cases = [*STATUS, ["skills"], *(["skills", "--format", f] for f in ("json", "rules"))]
    _assert_same(tools, project, cases)
    # A journal folder with no entry in it: initialized, with nothing to show.
    (project / "buildlog").mkdir()
    (project / "buildlog" / "notes.md").write_text("## Improvements\n### Workflow\n- no\n")
    cases = [
        ["status"],
        ["status", "--json"],
        ["diff"],
        ["skills"],
        ["skills", "--format", "rules"],
    ]
    _assert_same(tools, project, cases)


def _ids(report: dict[str, object], key: str) -> list[str]:
    groups = report[key]
    assert isinstance(groups, dict)
    return [skill["id"] for group in groups.values() for skill in group]


def test_decisions_of_either_tool_show_in_the_other(tools: Tools, tmp_path: Path) -> None:
    project = _journal(tmp_path / "widgets")
    status = json.loads(tools.original(project, "status", "--json").stdout)
    ids = _ids(status, "skills")
    promoted, rejected, ours_promotes, ours_rejects = ids[0], ids[1], ids[2], ids[3]
    # The original decides first (it writes its decisions into the shared database).
    tools.original(project, "promote", promoted, ids[4])
    tools.original(project, "reject", rejected)
    _assert_same(tools, project, STATUS)
    # Ours promotes and rejects journal ids; the original sees them.
    tools.ours(project, "promote", ours_promotes)
    tools.ours(project, "reject", ours_rejects)
    _assert_same(tools, project, STATUS)
    diff = json.loads(tools.original(project, "diff", "--json").stdout)
    assert (diff["already_promoted"], diff["already_rejected"]) == (3, 2)
    pending = _ids(diff, "pending")
    assert not {promoted, rejected, ids[4], ours_promotes, ours_rejects} & set(pending)
    theirs = json.loads(tools.original(project, "status", "--json").stdout)
    assert ours_rejects not in _ids(theirs, "skills")
    # Unknown ids stay refused by ours (the journal's ids are known, others are not).
    refused = subprocess.run(
        [str(Path(sys.executable).parent / "buildlog"), "promote", "arch-0000000000"],
        cwd=project, env=tools.env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert refused.returncode == 1
    # (Before it, a warning about the file whose name is no date, as the original logs it.)
    assert refused.stderr.splitlines()[-1].startswith(
        "Error: promote: no valid skill ids provided: 'arch-0000000000' is not a skill"
    )
