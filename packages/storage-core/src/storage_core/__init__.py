"""storage_core: what the diary and buildlog packages share.

Canonical URIs (:mod:`storage_core.uri`), byte stores over fsspec (:mod:`storage_core.blobs`),
the idempotent migration framework (:mod:`storage_core.migration`), database engines and
schema upgrades (:mod:`storage_core.database`) and one error hierarchy
(:mod:`storage_core.errors`). Submodules are imported on demand so that importing the
package stays cheap.
"""

__version__ = "0.1.0"
