"""Tags on projects, experiments and iterations."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Literal
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from diary import models as m
from diary.errors import InvalidValue
from diary.store.base import IdLike, StoreBase, as_uuid, require_text
from storage_core.database.statements import count_inserted

__all__ = ["TagKind", "TagsMixin", "insert_tags"]

TagKind = Literal["project", "experiment", "iteration"]
_KINDS: tuple[TagKind, ...] = ("project", "experiment", "iteration")


def _tables(kind: str) -> tuple[sa.Table, sa.Table]:
    if kind not in _KINDS:
        raise InvalidValue("tag target", kind, f"expected one of {', '.join(_KINDS)}")
    return m.metadata.tables[kind], m.metadata.tables[f"{kind}_tag"]


def insert_tags(
    conn: Connection, kind: str, owner: UUID, tags: Iterable[str], now: datetime
) -> list[str]:
    """Attach tags the owner does not have yet (in the caller's transaction).

    Returns:
        The tags that were added.
    """
    _, table = _tables(kind)
    wanted = list(dict.fromkeys(require_text("tag", tag) for tag in tags))
    if not wanted:
        return []
    owner_column = table.c[f"{kind}_id"]
    if len(wanted) == 1:
        # One statement: insert unless the owner has the tag already.
        statement = _insert_new_tag(kind, table, owner, wanted[0], now)
        inserted = count_inserted(conn, statement, table.c.tag)
        return wanted if inserted else []
    existing = set(
        conn.execute(
            sa.select(table.c.tag).where(owner_column == owner, table.c.tag.in_(wanted))
        ).scalars()
    )
    new = [tag for tag in wanted if tag not in existing]
    if new:
        conn.execute(
            sa.insert(table), [{f"{kind}_id": owner, "tag": tag, "created_at": now} for tag in new]
        )
    return new


def _insert_new_tag(kind: str, table: sa.Table, owner: UUID, tag: str, now: datetime) -> sa.Insert:
    """``INSERT INTO <kind>_tag SELECT owner, tag, now WHERE <the owner exists> AND NOT
    EXISTS (the same tag)``: nothing is inserted for a missing owner (there are no foreign
    keys on DuckDB) or a tag it has."""
    owner_table, _ = _tables(kind)
    owner_column = table.c[f"{kind}_id"]
    row = [
        sa.bindparam(None, owner, type_=owner_column.type),
        sa.bindparam(None, tag, type_=table.c.tag.type),
        sa.bindparam(None, now, type_=table.c.created_at.type),
    ]
    present = sa.exists().where(owner_column == owner, table.c.tag == tag)
    owned = sa.exists().where(owner_table.c.id == owner)
    names = [owner_column.name, "tag", "created_at"]
    return sa.insert(table).from_select(names, sa.select(*row).where(owned, ~present))


class TagsMixin(StoreBase):
    """Tag operations of the store."""

    def add_tags(self, kind: TagKind, owner_id: IdLike, *tags: str) -> list[str]:
        """Attach tags to a project, experiment or iteration (tags it has already are kept).

        Args:
            kind: "project", "experiment" or "iteration".
            owner_id: the id of the tagged row.
            *tags: the tags.

        Returns:
            The owner's tags afterwards, sorted.

        Raises:
            NotFound: the owner does not exist.
        """
        owner_table, _ = _tables(kind)
        owner = as_uuid(kind, owner_id)
        with self.transaction() as conn:
            if len(set(tags)) != 1:
                self.require_row(conn, owner_table, kind, owner)
            # One tag: the insert checks the owner itself; nothing inserted means the owner
            # is missing or had the tag, which the read below tells apart.
            added = insert_tags(conn, kind, owner, tags, self.clock.now())
            found = self._tags(conn, kind, owner)
            if not added and not found:
                self.require_row(conn, owner_table, kind, owner)
            return found

    def remove_tags(self, kind: TagKind, owner_id: IdLike, *tags: str) -> list[str]:
        """Detach tags (absent ones are ignored).

        Returns:
            The owner's tags afterwards, sorted.

        Raises:
            NotFound: the owner does not exist.
        """
        owner_table, table = _tables(kind)
        with self.transaction() as conn:
            owner = self.require_row(conn, owner_table, kind, owner_id)
            conn.execute(
                sa.delete(table).where(table.c[f"{kind}_id"] == owner, table.c.tag.in_(tags))
            )
            return self._tags(conn, kind, owner)

    def get_tags(self, kind: TagKind, owner_id: IdLike) -> list[str]:
        """The tags of a project, experiment or iteration, sorted.

        Raises:
            NotFound: the owner does not exist.
        """
        owner_table, _ = _tables(kind)
        with self.reading() as conn:
            owner = self.require_row(conn, owner_table, kind, owner_id)
            return self._tags(conn, kind, owner)

    @staticmethod
    def _tags(conn: Connection, kind: str, owner: UUID) -> list[str]:
        _, table = _tables(kind)
        query = sa.select(table.c.tag).where(table.c[f"{kind}_id"] == owner).order_by(table.c.tag)
        return list(conn.execute(query).scalars())
