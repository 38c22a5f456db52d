"""`make demo`: a small real end-to-end job over the toolkit, printing what it stored.

Everything happens in `.demo/` under the repository root (recreated on every run), so the
demo never touches a user's real databases.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import diary
from storage_core.blobs import BlobStore, open_blob_store
from storage_core.migration import ItemOutcome, MigrationStep, run

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / ".demo"


def heading(text: str) -> None:
    """Print a section heading."""
    print(f"\n== {text}")


class CopyBlobs(MigrationStep[str, bytes]):
    """Copy every blob of one store into another, verifying sha256 on the way."""

    name = "copy-blobs"

    def __init__(self, source: BlobStore, target: BlobStore) -> None:
        self.source = source
        self.target = target

    def candidates(self) -> Iterator[str]:
        yield from self.source.list()

    def is_done(self, item: str) -> bool:
        return self.target.exists(item)

    def describe(self, item: str) -> str:
        return f"{self.source.uri_for(item)} -> {self.target.uri_for(item)}"

    def prepare(self, item: str) -> bytes:
        return self.source.get(item)

    def apply(self, item: str, prepared: bytes) -> ItemOutcome:
        info = self.target.put(item, prepared)
        assert info.sha256 == hashlib.sha256(prepared).hexdigest()
        return ItemOutcome(bytes=info.size, records=1)


def storage_core_demo() -> None:
    """Blob stores and the migration framework on local folders."""
    heading("storage-core: blob stores and an idempotent migration")
    source = open_blob_store(WORK / "blobs-a")
    target = open_blob_store(WORK / "blobs-b")
    for i, text in enumerate(["hello", "hello world", "storage toolkit"]):
        info = source.put(f"{i:02d}/item-{i}", text.encode())
        print(f"put  {info.uri}  {info.size:>3} B  sha256 {info.sha256[:16]}...")
    first = run(CopyBlobs(source, target), workers=2)
    print(f"copy {first.summary()}")
    again = run(CopyBlobs(source, target), workers=2)
    print(f"copy again: {again.summary()}")


def diary_demo() -> Path:
    """A small real experiment: a learning-rate sweep with metrics and parameters."""
    heading("diary: a learning-rate sweep in one DuckDB file")
    db = WORK / "deardiary.db"
    with diary.open(db) as store:
        project = store.create_project("demo", description="make demo")
        experiment = store.create_experiment(project.id, "lr-sweep")
        for lr in (0.3, 0.1, 0.03):
            with store.iteration(experiment.id, notes=f"lr={lr}") as it:
                it.log_params({"lr": lr, "epochs": 20})
                loss = 1.0
                for step in range(20):
                    loss *= 1 - lr * (1 - lr) * 0.9
                    it.log_metrics({"loss": loss, "accuracy": 1 - loss / 2}, step=step)
                it.log_metric("final_loss", loss)
                # A stand-in for model weights: 4 MiB of bytes, inline in the database.
                it.log_artifact(os.urandom(4 << 20), name=f"weights-lr{lr}.bin")
        store.end_experiment(experiment.id, status="finished")
        best = store.search_iterations(experiment.id, order_by="metric.final_loss", limit=3)
        for rank, found in enumerate(best, 1):
            history = store.metric_history(found.iteration.id, "loss")
            print(
                f"#{rank} {found.iteration.notes:<9} final loss {found.metrics['final_loss']:.4f}"
                f"  ({len(history)} loss points, status {found.iteration.status.value})"
            )
    # The same file, read by the command line in another process.
    print(cli("diary", "--db", str(db), "iteration", "list", str(experiment.id)))
    return db


def artifacts_demo(db: Path) -> None:
    """Move the sweep's inline artifacts to the filesystem, compact, verify."""
    heading("diary: artifacts from inline to the filesystem, then compaction")
    env = {"DEARDIARY_ARTIFACT_FS_ROOT": str(WORK / "artifacts")}
    before = db.stat().st_size
    print(cli("diary", "--db", str(db), "artifacts", "migrate", "--to", "filesystem",
              "--compact", env=env))  # fmt: skip
    after = db.stat().st_size
    print(f"database file: {before / 2**20:.1f} MiB -> {after / 2**20:.1f} MiB")
    print(cli("diary", "--db", str(db), "artifacts", "verify", env=env))


def buildlog_demo() -> None:
    """A few learning records in a private buildlog home, then an export bundle."""
    heading("buildlog: learning records of a coding agent, then an export")
    project = WORK / "agent-project"
    project.mkdir()
    env = {"BUILDLOG_HOME": str(WORK / "buildlog-home")}
    base = ("buildlog", "--project-root", str(project))
    steps = [
        (
            "learning",
            "add",
            "--rule",
            "Write the failing test before the fix",
            "--category",
            "workflow",
            "--severity",
            "major",
            "--source",
            "review:demo",
        ),
        ("promote", "wf-29c1110c75"),  # the learning's id: a skill the project knows
        ("experiment", "start", "--error-class", "missing_test"),
        ("reward", "revision", "--distance", "0.3", "--notes", "forgot an edge case"),
        (
            "experiment",
            "log-mistake",
            "--error-class",
            "missing_test",
            "--description",
            "Forgot tests for empty-input branch",
        ),
        ("experiment", "end"),
        (
            "learning",
            "add",
            "--rule",
            "Write the failing test before the fix",
            "--category",
            "workflow",
            "--severity",
            "major",
            "--source",
            "review:demo-2",
        ),  # seen again: reinforced
    ]
    for step in steps:
        cli(*base, *step, env=env)
    print(cli(*base, "info", env=env))
    out = WORK / "export"
    cli(*base, "export", "--output", str(out), env=env)
    manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
    print(f"exported to {out}: {manifest['tables']}")


def cli(*args: str, env: dict[str, str] | None = None) -> str:
    """Run one of the toolkit's commands as a user would; return its stdout."""
    command = [str(Path(sys.executable).with_name(args[0])), *args[1:]]
    result = subprocess.run(
        command, capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False
    )
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed:\n{result.stderr}")
    return result.stdout.rstrip()


def main() -> None:
    """Run every section of the demo in a fresh `.demo/` folder."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    storage_core_demo()
    artifacts_demo(diary_demo())
    buildlog_demo()
    print(f"\nEverything the demo stored is in {WORK}")


if __name__ == "__main__":
    main()
