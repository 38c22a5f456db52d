"""Walking the ``resource`` table in pages, with inline bytes fetched a bounded group at a time.

Both run on the calling thread: DuckDB connections opened concurrently from several threads
of one process collide ("Unique file handle conflict"), so worker threads never touch the
database and get inline bytes handed to them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa

from diary import models as m
from diary.artifacts.stores import normalise_backend
from diary.artifacts.table import META_COLUMNS, resource_record
from diary.records import Resource

if TYPE_CHECKING:
    from diary.artifacts.host import ArtifactHost

__all__ = ["iter_resources", "with_inline_bytes"]

PAGE = 500
#: Inline bytes are fetched in groups of about this many bytes (at least one row).
GROUP_BYTES = 32 * 1024 * 1024


def iter_resources(store: ArtifactHost, where: Any = None) -> Iterator[Resource]:
    """Every ``resource`` row (matching ``where``) by id, without bytes, a page at a time.

    No cursor stays open between pages, so callers may write between them.
    """
    after = None
    while True:
        query = sa.select(*META_COLUMNS).order_by(m.resource.c.id).limit(PAGE)
        if where is not None:
            query = query.where(where)
        if after is not None:
            query = query.where(m.resource.c.id > after)
        with store.reading() as conn:
            page = [resource_record(row) for row in conn.execute(query).all()]
        yield from page
        if len(page) < PAGE:
            return
        after = page[-1].id


def with_inline_bytes(
    store: ArtifactHost, records: Iterator[Resource]
) -> Iterator[tuple[Resource, bytes | None]]:
    """Pair each record with its inline bytes (None for external rows and deleted rows)."""
    group: list[Resource] = []
    for record in records:
        if normalise_backend(record.backend) != "inline":
            yield record, None
            continue
        if group and sum(r.size_bytes for r in group) + record.size_bytes > GROUP_BYTES:
            yield from _fetch(store, group)
            group = []
        group.append(record)
    yield from _fetch(store, group)


def _fetch(store: ArtifactHost, group: list[Resource]) -> Iterator[tuple[Resource, bytes | None]]:
    if not group:
        return
    table = m.resource_blob
    with store.reading() as conn:
        rows = conn.execute(
            sa.select(table.c.resource_id, table.c.data).where(
                table.c.resource_id.in_([r.id for r in group])
            )
        ).all()
    data = {row.resource_id: row.data for row in rows}
    for record in group:
        yield record, data.get(record.id)
