"""``buildlog status``, ``diff``, ``skills`` and ``decisions`` through the real command line,
and ``promote``/``reject`` of the journal's skill ids."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from test_buildlog_commands import ok, run

from buildlog.journal.skills import skill_id

RULE = "Keep auth middleware separate from API handlers"
ENTRY = f"""# Build Journal: one

## Improvements

### Architectural
- {RULE}
- Ünïcödé survives 🚀 the whole way through, even past the seventy-character cut of status

### Workflow
- Run mypy before each commit
"""


@pytest.fixture
def journal(project: Path) -> Path:
    (project / "buildlog").mkdir()
    (project / "buildlog" / "2026-01-05-one.md").write_text(ENTRY, encoding="utf-8")
    return project


def test_without_a_journal_the_originals_empty_answers(project: Path, isolated_home: Path) -> None:
    assert ok(project, "status").stdout == (
        "Skills: 0 total from 0 entries\n  buildlog not initialized. Run 'buildlog init' first.\n"
    )
    assert json.loads(ok(project, "status", "--json").stdout) == {
        "initialized": False, "total_skills": 0, "total_entries": 0, "skills": {},
        "by_confidence": {"high": 0, "medium": 0, "low": 0}, "promotable_ids": [], "error": None,
    }  # fmt: skip
    assert ok(project, "diff").stdout == (
        "Pending: 0 | Promoted: 0 | Rejected: 0\n"
        "  buildlog not initialized. Run 'buildlog init' first.\n"
    )
    assert json.loads(ok(project, "diff", "--json").stdout)["initialized"] is False
    assert ok(project, "skills").stdout == (
        "# buildlog not initialized - run 'buildlog init' first\nskills: {}\ntotal_skills: 0\n"
    )
    assert json.loads(ok(project, "skills", "--format", "json").stdout) == {
        "initialized": False, "skills": {}, "total_skills": 0,
        "message": "buildlog not initialized",
    }  # fmt: skip
    assert ok(project, "skills", "--format", "rules").stdout == (
        "No buildlog/ directory found. Run 'buildlog init' to extract skills.\n"
    )
    assert not isolated_home.exists()  # reading created no database


def test_status_diff_and_skills_of_a_journal(journal: Path, isolated_home: Path) -> None:
    arch = skill_id("architectural", RULE)
    status = ok(journal, "status").stdout.splitlines()
    assert status[:4] == ["Skills: 3 total from 1 entries", "  By confidence: low=3", "",
                          "  architectural (2)"]  # fmt: skip
    assert status[4] == f"    [low] {arch}: {RULE}"
    assert len(status[5].split(": ", 1)[1]) == 70  # the rule cut at 70 characters
    data = json.loads(ok(journal, "status", "--json", "--min-confidence", "medium").stdout)
    assert (data["skills"], data["total_skills"], data["message"]) == (
        {}, 3, "3 skills from 1 entries",
    )  # fmt: skip
    assert "\\u00dcn" in ok(journal, "status", "--json").stdout  # ASCII JSON, as the original
    skills = json.loads(ok(journal, "skills", "--format", "json").stdout)
    assert next(s["id"] for s in skills["skills"]["architectural"]) == arch
    assert "🚀" in ok(journal, "skills", "--format", "markdown").stdout
    assert json.loads(ok(journal, "diff", "--json").stdout)["total_pending"] == 3
    assert not isolated_home.exists()


def test_promote_and_reject_know_the_journals_ids(journal: Path) -> None:
    arch = skill_id("architectural", RULE)
    wf = skill_id("workflow", "Run mypy before each commit")
    ok(journal, "promote", arch)
    ok(journal, "reject", wf)
    refused = run(journal, "promote", "arch-0000000000")
    assert refused.exit_code == 1
    assert refused.stderr.startswith(
        "Error: promote: no valid skill ids provided: 'arch-0000000000' is not a skill of this "
        "project (known: "
    )
    diff = json.loads(ok(journal, "diff", "--json").stdout)
    assert (diff["total_pending"], diff["already_promoted"], diff["already_rejected"]) == (1, 1, 1)
    status = json.loads(ok(journal, "status", "--json").stdout)
    assert status["total_skills"] == 2  # the rejected one left out
    listed = ok(journal, "decisions", "--format", "csv").stdout.splitlines()
    assert listed[0] == "skill_id,decision,decided_at,metadata"
    assert sorted(line.split(",")[:2] for line in listed[1:]) == sorted(
        [[arch, "promoted"], [wf, "rejected"]]
    )
    jsonl = ok(journal, "decisions", "--format", "jsonl").stdout
    rows = [json.loads(line) for line in jsonl.splitlines()]
    assert {row["skill_id"] for row in rows} == {arch, wf}
    assert ok(journal, "decisions").stdout.split()[:3] == ["SKILL_ID", "DECISION", "DECIDED_AT"]


def test_skills_options(journal: Path, tmp_path: Path) -> None:
    (journal / "buildlog" / "2026-02-01-two.md").write_text(ENTRY, encoding="utf-8")
    twice = json.loads(ok(journal, "skills", "--format", "json", "--min-frequency", "2").stdout)
    assert twice["total_skills"] == 3
    assert (
        json.loads(ok(journal, "skills", "--format", "json", "--min-frequency", "3").stdout)[
            "total_skills"
        ]
        == 0
    )
    later = json.loads(ok(journal, "skills", "--format", "json", "--since", "2026-01-06").stdout)
    assert later["source_entries"] == 1
    out = tmp_path / "skills.yml"
    written = ok(journal, "skills", "-o", str(out), "--embeddings", "token")
    assert written.stdout == f"Wrote 3 skills to {out} (from 2 entries)\n"
    assert out.read_text(encoding="utf-8").startswith("generated_at: ")
    assert not out.read_text(encoding="utf-8").endswith("\n\n")
    bad_date = run(journal, "skills", "--since", "2026-1-x")
    assert bad_date.exit_code == 2


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--embeddings", "openai"], "Error: --embeddings openai is not available in this "
         "toolkit (only the token backend is available)\n"),
        (["--embeddings", "sentence-transformers"], "Error: --embeddings sentence-transformers "
         "is not available in this toolkit (only the token backend is available)\n"),
        (["--llm"], "Error: --llm is not available in this toolkit (no LLM extraction)\n"),
    ],
)  # fmt: skip
def test_unavailable_options_are_one_line_errors(
    journal: Path, args: list[str], message: str
) -> None:
    result = run(journal, "skills", *args)
    assert (result.exit_code, result.stdout, result.stderr) == (1, "", message)


def test_a_closed_pipe_ends_quietly(journal: Path) -> None:
    for n in range(2, 40):
        (journal / "buildlog" / f"2026-03-{n % 28 + 1:02d}-e{n}.md").write_text(
            ENTRY.replace("Run mypy", f"Step {n} of many words in a long rule"), encoding="utf-8"
        )
    command = [sys.executable, "-m", "buildlog", "--project-root", str(journal), "skills"]
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as proc:
        assert proc.stdout is not None
        assert proc.stderr is not None
        proc.stdout.readline()
        proc.stdout.close()
        err = proc.stderr.read()
    assert b"Traceback" not in err, err
    assert b"Error" not in err, err
