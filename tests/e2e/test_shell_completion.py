"""Shell completion for bash, zsh and fish: each command prints its completion script, and the
completions it answers with are the real commands (bash runs the script it was given)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
SHELLS = ("bash", "zsh", "fish")
COMMANDS = ("diary", "buildlog")


def _env(command: str, tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DEARDIARY_", "BUILDLOG_"))}
    env["HOME"] = str(tmp_path)
    env[f"_{command.upper()}_COMPLETE"] = extra.pop("mode")
    env.update(extra)
    return env


@pytest.mark.parametrize("shell", SHELLS)
@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_prints_a_completion_script(command: str, shell: str, tmp_path: Path) -> None:
    result = subprocess.run(
        [str(BIN / command)],
        env=_env(command, tmp_path, mode=f"{shell}_source"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    marker = {"bash": "complete -o nosort -F", "zsh": "compdef", "fish": "complete --no-files"}
    assert marker[shell] in result.stdout
    assert f"_{command.upper()}_COMPLETE={shell}_complete" in result.stdout
    assert list(tmp_path.iterdir()) == [], "completion must not create a database"


def test_bash_completes_diary_subcommands_through_its_script(tmp_path: Path) -> None:
    script = subprocess.run(
        [str(BIN / "diary")],
        env=_env("diary", tmp_path, mode="bash_source"),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    # Source the script, then call its completion function as bash would for "diary pro<TAB>".
    driver = (
        f"{script}\n"
        "COMP_WORDS=(diary pro); COMP_CWORD=1\n"
        "_diary_completion diary\n"
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {"PATH": f"{BIN}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    result = subprocess.run(
        ["bash", "-c", driver], env=env, cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert result.stdout.split() == ["project"]


@pytest.mark.parametrize(
    ("command", "words", "expected"),
    [
        ("diary", "diary pro", {"project"}),
        ("buildlog", "buildlog rew", {"reward", "rewards"}),
    ],
)
@pytest.mark.parametrize("shell", ["zsh", "fish"])
def test_zsh_and_fish_get_the_same_answers(
    command: str, words: str, expected: set[str], shell: str, tmp_path: Path
) -> None:
    result = subprocess.run(
        [str(BIN / command)],
        env=_env(
            command,
            tmp_path,
            mode=f"{shell}_complete",
            COMP_WORDS=words,
            COMP_CWORD="1" if shell == "zsh" else words.split()[-1],
        ),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    )
    if shell == "zsh":
        # zsh's protocol: type, value, help, three lines per completion.
        lines = result.stdout.splitlines()
        found = {lines[i + 1] for i in range(0, len(lines), 3) if lines[i] == "plain"}
    else:
        found = {line.split("\t")[0].split(",", 1)[1] for line in result.stdout.splitlines()}
    assert found == expected
