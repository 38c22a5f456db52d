"""Artifacts with the metadata on a PostgreSQL server: inline bytes in the database, bytes in
S3 (moto), moved between the two, verified, deleted."""

from __future__ import annotations

import pytest

from diary.artifacts import migrate_artifacts, verify_artifacts
from diary.config import load_settings
from diary.errors import NotFound
from diary.store import Store


def _store(url: str, backend: str, s3: dict[str, str]) -> Store:
    settings = load_settings(
        environ={"DEARDIARY_DB_URL": url, "DEARDIARY_ARTIFACT_BACKEND": backend, **s3}
    )
    return Store(settings, buffered=False)


def test_inline_and_s3_artifacts_on_postgresql(
    postgres_url: str, s3_settings: dict[str, str]
) -> None:
    inline = _store(postgres_url, "inline", s3_settings)
    s3 = _store(postgres_url, "s3", s3_settings)
    try:
        project = inline.create_project("team")
        experiment = inline.create_experiment(project.id, "e")
        iteration = inline.create_iteration(experiment.id, snapshot=False).id
        kept = inline.log_artifact(iteration, b"inline bytes " * 1000, name="a.bin")
        remote = s3.log_artifact(iteration, b"s3 bytes", name="b.bin")
        assert (kept.backend, remote.backend) == ("inline", "s3")
        assert inline.read_resource_data(kept.id) == b"inline bytes " * 1000
        assert inline.read_resource_data(remote.id) == b"s3 bytes"
        report = migrate_artifacts(s3, to="s3", from_backend="inline")
        assert (report.done, report.failed) == (1, [])
        moved = s3.get_resource(kept.id)
        assert moved.backend == "s3"
        assert s3.read_resource_data(kept.id) == b"inline bytes " * 1000
        checked = verify_artifacts(s3)
        assert (checked.checked, checked.problems) == (2, [])
        s3.delete_resource(remote.id)
        with pytest.raises(NotFound):
            s3.get_resource(remote.id)
    finally:
        inline.close()
        s3.close()
