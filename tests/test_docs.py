"""The documentation cannot drift: the CLI reference is regenerated and compared."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_cli_reference_is_current() -> None:
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen_cli_docs.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_every_command_is_in_the_reference() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    try:
        import gen_cli_docs
    finally:
        sys.path.pop(0)
    from buildlog.cli import cli as buildlog_cli
    from diary.cli import cli as diary_cli

    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    for name, root in (("diary", diary_cli), ("buildlog", buildlog_cli)):
        for path, _command in gen_cli_docs._walk(root, [name]):
            assert f"`{' '.join(path)}`" in text


def test_readme_shows_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "make demo" in readme
    assert "make test" in readme


def test_every_setting_is_documented() -> None:
    import re

    names: set[str] = set()
    for source in (ROOT / "packages").glob("*/src/*/**/*.py"):
        text = source.read_text(encoding="utf-8")
        # Only quoted names: a variable the code reads, not a word in a comment.
        names.update(
            re.findall(r"[\"'`](DEARDIARY_[A-Z0-9_]*[A-Z0-9]|BUILDLOG_[A-Z0-9_]*[A-Z0-9])", text)
        )
    assert names, "no settings found: the scan is broken"
    documented = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = sorted(name for name in names if f"`{name}`" not in documented)
    assert missing == []
