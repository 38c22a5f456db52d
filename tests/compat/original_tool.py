"""The original buildlog (``buildlog==0.23.0`` from the registry) as a real client.

It imports as ``buildlog`` too, so it lives in a virtualenv of its own,
``.venv-buildlog-original`` at the repository root, created on first use with ``uv`` and
reused. Every test drives it as a user does, through its command line (or, for its id function,
its own Python), next to ours, in a private home folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock

REPO = Path(__file__).resolve().parents[2]
ORIGINAL_VENV = REPO / ".venv-buildlog-original"
ORIGINAL = "buildlog==0.23.0"


def _uv() -> str:
    found = shutil.which("uv") or str(REPO / ".venv" / "bin" / "uv")
    if not Path(found).exists():
        raise RuntimeError("uv is needed to install the original buildlog (make install has it)")
    return found


def _install_original() -> Path:
    python = ORIGINAL_VENV / "bin" / "python"
    probe = [str(python), "-c", "import importlib.metadata as m; print(m.version('buildlog'))"]
    with FileLock(str(ORIGINAL_VENV) + ".lock"):
        done = subprocess.run(probe, capture_output=True, text=True) if python.exists() else None
        if done is None or done.returncode != 0 or done.stdout.strip() != "0.23.0":
            uv = _uv()
            subprocess.run([uv, "venv", "--quiet", "--python", sys.executable, str(ORIGINAL_VENV)],
                           check=True, timeout=300)  # fmt: skip
            subprocess.run(
                [uv, "pip", "install", "--quiet", "--python", str(python), ORIGINAL],
                check=True, timeout=900,
            )  # fmt: skip
    return python


@dataclass
class Tools:
    """Both tools on one home folder."""

    home: Path
    original_python: Path
    extra_env: dict[str, str] = field(default_factory=dict)

    @property
    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDLOG_")}
        env.update(HOME=str(self.home), GIT_CONFIG_NOSYSTEM="1", PYTHONWARNINGS="ignore")
        env.update(GIT_AUTHOR_NAME="t", GIT_AUTHOR_EMAIL="t@e")
        env.update(GIT_COMMITTER_NAME="t", GIT_COMMITTER_EMAIL="t@e")
        env.update(self.extra_env)
        return env

    @property
    def database(self) -> Path:
        """Where both keep the global database: ``~/.buildlog/buildlog.db``."""
        return self.home / ".buildlog" / "buildlog.db"

    def original(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run the original's command line; fail the test if it fails."""
        command = [str(self.original_python.parent / "buildlog"), *args]
        done = subprocess.run(
            command, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def ours(self, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
        """Run our command line; fail the test if it fails."""
        command = [str(Path(sys.executable).parent / "buildlog"), *args]
        done = subprocess.run(
            command, cwd=cwd, env=self.env, capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        return done

    def original_ids(self, roots: list[Path]) -> list[str]:
        """The original's own ``get_project_id`` for each folder."""
        code = (
            "import json, sys; from pathlib import Path; "
            "from buildlog.storage import get_project_id; "
            "print(json.dumps([get_project_id(Path(p)) for p in json.loads(sys.argv[1])]))"
        )
        done = subprocess.run(
            [str(self.original_python), "-c", code, json.dumps([str(r) for r in roots])],
            env=self.env, capture_output=True, text=True, timeout=120, check=True,
        )  # fmt: skip
        return list(json.loads(done.stdout))


def original_python() -> Path:
    """The original's Python, installed on first use (see the module docstring)."""
    return _install_original()
