"""`make demo`: a small real end-to-end job over the toolkit, printing what it stored.

Everything happens in `.demo/` under the repository root (recreated on every run), so the
demo never touches a user's real databases.
"""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from pathlib import Path

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


def main() -> None:
    """Run every section of the demo in a fresh `.demo/` folder."""
    shutil.rmtree(WORK, ignore_errors=True)
    WORK.mkdir()
    storage_core_demo()
    print(f"\nEverything the demo stored is in {WORK}")


if __name__ == "__main__":
    main()
