"""Generate docs/cli.md from the ``--help`` output of every diary and buildlog command.

Run ``make docs`` after changing a command; ``tests/test_docs.py`` fails when the file is stale.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

ROOT = Path(__file__).resolve().parent.parent
TARGET = ROOT / "docs" / "cli.md"

HEADER = r"""# Command-line reference

Generated from `--help` by `make docs`; a test fails when this page is stale.
Both commands print results on stdout and errors as one `Error: ...` line on stderr with
exit status 1; `--debug` shows the traceback.

## Shell completion

Both commands complete their commands, options and arguments in bash (4.4 or newer), zsh and
fish, through Click's completion. Put one line in your shell's start-up file (shown for `diary`;
the same with `buildlog` and `_BUILDLOG_COMPLETE`):

| shell | start-up file | line |
|---|---|---|
| bash | `~/.bashrc` | `eval "$(_DIARY_COMPLETE=bash_source diary)"` |
| zsh | `~/.zshrc` | `eval "$(_DIARY_COMPLETE=zsh_source diary)"` |
| fish | `~/.config/fish/completions/diary.fish` | `_DIARY_COMPLETE=fish_source diary \| source` |

Evaluating the script at every start runs the command once; to start shells faster, write it to a
file once (`_DIARY_COMPLETE=bash_source diary > ~/.diary-complete.bash`) and source that file.
"""


def _walk(command: click.Command, path: list[str]) -> Iterator[tuple[list[str], click.Command]]:
    yield path, command
    if isinstance(command, click.Group):
        ctx = click.Context(command, info_name=path[-1])
        for name in command.list_commands(ctx):
            sub = command.get_command(ctx, name)
            if sub is not None and not sub.hidden:
                yield from _walk(sub, [*path, name])


def _help_text(root: click.Command, path: list[str]) -> str:
    # Invoke the real command with --help so the text is exactly what users see.
    from click.testing import CliRunner

    result = CliRunner().invoke(root, [*path[1:], "--help"], prog_name=path[0], terminal_width=88)
    if result.exit_code != 0:
        raise RuntimeError(f"{' '.join(path)} --help failed: {result.output}")
    return result.output.rstrip("\n")


def render() -> str:
    """Return the Markdown reference for both command lines."""
    from buildlog.cli import cli as buildlog_cli
    from diary.cli import cli as diary_cli

    parts = [HEADER]
    for name, root in {"diary": diary_cli, "buildlog": buildlog_cli}.items():
        for path, _command in _walk(root, [name]):
            level = "#" * min(len(path) + 1, 4)
            text = _help_text(root, path)
            parts.append(f"\n{level} `{' '.join(path)}`\n\n```text\n{text}\n```\n")
    return "".join(parts)


def main() -> int:
    """Write docs/cli.md, or with ``--check`` exit 1 when it is stale."""
    text = render()
    if "--check" in sys.argv[1:]:
        current = TARGET.read_text(encoding="utf-8") if TARGET.exists() else ""
        if current != text:
            print("docs/cli.md is stale: run `make docs`", file=sys.stderr)
            return 1
        return 0
    TARGET.write_text(text, encoding="utf-8")
    print(f"wrote {TARGET.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
