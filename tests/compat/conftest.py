"""Fixtures of the compatibility suite: the original buildlog and a private home folder."""

from __future__ import annotations

from pathlib import Path

import original_tool
import pytest
from original_tool import Tools


@pytest.fixture(scope="session")
def original_python() -> Path:
    return original_tool.original_python()


@pytest.fixture
def tools(tmp_path: Path, original_python: Path) -> Tools:
    home = tmp_path / "home"
    home.mkdir()
    return Tools(home, original_python)
