"""What the packaging tests share: the distribution names, uv, and the wheels built once."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from install_support import PACKAGES, ROOT

__all__ = ["PACKAGES", "ROOT"]


@pytest.fixture(scope="session")
def uv() -> str:
    """The uv binary of the dev environment (``make install`` puts it there)."""
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    assert found, "uv is installed into the dev environment by `make install`"
    return found


@pytest.fixture(scope="session")
def wheels(uv: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Each package's wheel, built from the working tree into one folder."""
    out = tmp_path_factory.mktemp("dist")
    built: dict[str, Path] = {}
    for package in PACKAGES:
        subprocess.run(
            [uv, "build", "--wheel", "--package", package, "--out-dir", str(out), "--quiet"],
            cwd=ROOT,
            check=True,
        )
        (wheel,) = out.glob(f"{package.replace('-', '_')}-*.whl")
        built[package] = wheel
    return built
