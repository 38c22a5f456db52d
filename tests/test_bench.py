"""The benchmark suite cannot rot: ``python -m bench --tiny`` produces every figure.

Nothing here checks a timing (benchmarks never fail CI); only that each registered figure
ran and reported a value.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


@pytest.mark.timeout(240)
def test_bench_tiny_produces_every_figure(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    try:
        from bench.runner import load_figures

        expected = {figure.id for figure in load_figures()}
    finally:
        sys.path.remove(str(REPO))
    output = tmp_path / "latest.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--tiny", "--output", str(output)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(output.read_text())
    produced = {item["id"]: item for item in document["figures"]}
    assert set(produced) == expected
    for item in produced.values():
        assert item["error"] is None, item
        assert item["project"]["value"] is not None, item
        assert item["project"]["runs"], item
    assert document["machine"]["python"]
    assert "| figure | project | raw baseline | ratio | target | result |" in done.stdout
