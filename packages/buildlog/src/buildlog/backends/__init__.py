"""Storage backends: the protocol, the global database, the legacy files, and resolution."""

from buildlog.backends.protocol import (
    EVENT_KINDS,
    Decision,
    EventKind,
    EventRecord,
    ProjectInfo,
    StorageBackend,
)

__all__ = [
    "EVENT_KINDS",
    "Decision",
    "EventKind",
    "EventRecord",
    "ProjectInfo",
    "StorageBackend",
]
