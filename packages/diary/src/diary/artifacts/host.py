"""What the artifact services need of the store that calls them.

Migrating, verifying and relocating artifacts work on a store's database and artifact stores.
They are given the store, but they sit below it: this protocol names the few members they use,
so :mod:`diary.artifacts` never imports :mod:`diary.store` (the store imports the services).
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from diary.artifacts.resolver import ArtifactStores
    from diary.config import Settings

__all__ = ["ArtifactHost", "Clock"]


class Clock(Protocol):
    """A source of UTC times that never repeat within a process."""

    def now(self) -> datetime:
        """The current UTC time."""
        ...


class ArtifactHost(Protocol):
    """The store, as the artifact services see it (:class:`diary.Store` is one)."""

    @property
    def settings(self) -> Settings:
        """The store's settings."""
        ...

    @property
    def clock(self) -> Clock:
        """The store's clock, for the times the services record."""
        ...

    @property
    def artifact_stores(self) -> ArtifactStores:
        """The artifact stores of the settings."""
        ...

    def reading(self) -> AbstractContextManager[Connection]:
        """A unit of work that only reads."""
        ...

    def transaction(self) -> AbstractContextManager[Connection]:
        """A unit of work that writes, committed on success."""
        ...

    def _owns_object(self, uri: str) -> bool:
        """Whether this database wrote the object at ``uri`` (and so may delete it)."""
        ...

    def _take_object_identity(self, backend: str | None = None) -> None:
        """Make sure new objects of ``backend`` go under this database's own identity."""
        ...
