"""Fixtures of the reliability suites (tests/reliability).

Fixtures of the diary suites start with ``diary_``; their helpers are in ``diary_support.py``.
The moto fixtures (``moto_server``, ``s3_bucket``, ...) come from the ``storage_core.testing``
plugin that tests/conftest.py loads.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from diary_support import DiarySandbox, FaultProxy

# -- diary ---------------------------------------------------------------------------------


@pytest.fixture
def diary_sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> DiarySandbox:
    """A diary installation in ``tmp_path/diary``; no DEARDIARY_* variable leaks in and the
    working directory is the sandbox, so nothing is written into the repository."""
    for name in list(os.environ):
        if name.startswith("DEARDIARY_"):
            monkeypatch.delenv(name)
    root = tmp_path / "diary"
    root.mkdir()
    monkeypatch.chdir(root)
    return DiarySandbox(root)


@pytest.fixture
def diary_s3_sandbox(diary_sandbox: DiarySandbox, s3_bucket: str, moto_server: str) -> DiarySandbox:
    """:func:`diary_sandbox` with DEARDIARY_ARTIFACT_S3_* settings for a fresh moto bucket."""
    from storage_core.testing import TEST_ACCESS_KEY, TEST_SECRET_KEY

    diary_sandbox.settings.update(
        DEARDIARY_ARTIFACT_S3_BUCKET=s3_bucket,
        DEARDIARY_ARTIFACT_S3_ENDPOINT=moto_server,
        DEARDIARY_ARTIFACT_S3_ACCESS_KEY=TEST_ACCESS_KEY,
        DEARDIARY_ARTIFACT_S3_SECRET_KEY=TEST_SECRET_KEY,
        DEARDIARY_ARTIFACT_S3_RETRIES="2",
        DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT="2",
    )
    return diary_sandbox


@pytest.fixture
def diary_fault_proxy(moto_server: str) -> Iterator[FaultProxy]:
    """A :class:`FaultProxy` on 127.0.0.1 in front of the moto server, forwarding at first."""
    proxy = FaultProxy(moto_server).start()
    yield proxy
    proxy.stop()
