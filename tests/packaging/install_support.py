"""Names the packaging tests share."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# Distribution name -> (folder under packages/, import name). The registry names are free and say
# what each package is; the import names stay those of the design.
PACKAGES = {
    "storage-toolkit-core": ("storage-core", "storage_core"),
    "deardiary-tracking": ("diary", "diary"),
    "buildlog-store": ("buildlog", "buildlog"),
}
