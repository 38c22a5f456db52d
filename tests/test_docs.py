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


def _tour_script() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    tour = readme.split("## A short tour", 1)[1]
    return tour.split("```python\n", 1)[1].split("```", 1)[0]


def test_readme_tour_runs_as_written_and_again(tmp_path: Path) -> None:
    """The tour's script, exactly as the README shows it, in a fresh folder, twice: the second
    run adds an iteration to the same project and experiment."""
    import json
    import os

    script = tmp_path / "train.py"
    script.write_text(_tour_script(), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    for _ in range(2):
        run = subprocess.run(
            [sys.executable, str(script)], cwd=tmp_path, env=env, capture_output=True,
            text=True, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stderr
        assert run.stdout.endswith(": 1000 points, last loss 0.0010\n")
    diary = str(Path(sys.executable).with_name("diary"))

    def cli(*args: str) -> str:
        done = subprocess.run(
            [diary, *args], cwd=tmp_path, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout

    assert [p["name"] for p in json.loads(cli("project", "list", "--json"))] == ["mnist"]
    iterations = json.loads(cli("iteration", "list", "baseline", "--json"))
    assert [i["status"] for i in iterations] == ["succeeded", "succeeded"]
    history = cli("metric", "history", iterations[0]["id"], "loss", "--format", "csv")
    assert history.splitlines()[:2] == [
        "step,value,timestamp",
        f"0,1.0,{history.splitlines()[1].split(',')[2]}",
    ]
