"""Commands exit cleanly: nothing on stderr after a successful run (no leak reports from the
database bindings at interpreter exit, whatever threads were running)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

DIARY = str(Path(sys.executable).with_name("diary"))


def test_successful_commands_print_nothing_on_stderr(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
    db = str(tmp_path / "clean.db")
    commands = [["project", "create", "p"]] + [["project", "list"]] * 8
    for args in commands:
        result = subprocess.run(
            [DIARY, "--db", db, *args],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
