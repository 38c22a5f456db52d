"""Projects: create, read, list, update, delete (with the cascade over everything beneath)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import uuid4

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Row

from diary import models as m
from diary.errors import AlreadyExists, InvalidValue, NotFound
from diary.records import Project
from diary.store.base import IdLike, StoreBase, as_uuid, id_prefix_range, require_text
from diary.store.cascade import delete_projects
from diary.store.tags import insert_tags
from diary.values import check_text

__all__ = ["ProjectsMixin", "project_record"]


def project_record(row: Row[Any]) -> Project:
    """A :class:`Project` from a ``project`` row."""
    return Project(row.id, row.name, row.description, row.created_at, row.updated_at)


class ProjectsMixin(StoreBase):
    """Project operations of the store."""

    def create_project(
        self, name: str, *, description: str = "", tags: Iterable[str] = ()
    ) -> Project:
        """Create a project.

        Args:
            name: the project's name, unique among projects (databases from before names
                were unique may hold duplicates: a name then finds none, use the id).
            description: free text.
            tags: tags to attach.

        Returns:
            The new project.

        Raises:
            AlreadyExists: a project has this name (:meth:`get_or_create_project` reuses it).
        """
        require_text("project name", name)
        check_text("description", description)
        now = self.clock.now()
        record = Project(uuid4(), name, description, now, None)
        with self.transaction() as conn:
            self.claim_name(conn, "project", name)
            _refuse_taken_name(conn, name)
            conn.execute(
                sa.insert(m.project).values(
                    id=record.id, name=name, description=description, created_at=now
                )
            )
            insert_tags(conn, "project", record.id, tags, now)
        return record

    def get_or_create_project(
        self, name: str, *, description: str = "", tags: Iterable[str] = ()
    ) -> Project:
        """The project called ``name``, created first if there is none: a script that calls
        this can be run again unchanged and keeps adding to the same project.

        Raises:
            InvalidValue: an empty name, or several projects have it (from before names were
                unique: rename or delete all but one, or use the id).
        """
        require_text("project name", name)
        check_text("description", description)
        with self.transaction() as conn:
            self.claim_name(conn, "project", name)
            found = conn.execute(
                sa.select(m.project).where(m.project.c.name == name).limit(2)
            ).all()
            if len(found) > 1:
                raise InvalidValue(
                    "project name", name, "several projects have this name; use an id"
                )
            if found:
                return project_record(found[0])
            now = self.clock.now()
            record = Project(uuid4(), name, description, now, None)
            conn.execute(
                sa.insert(m.project).values(
                    id=record.id, name=name, description=description, created_at=now
                )
            )
            insert_tags(conn, "project", record.id, tags, now)
        return record

    def get_project(self, project_id: IdLike) -> Project:
        """The project with this id.

        Raises:
            NotFound: no such project.
        """
        with self.reading() as conn:
            return project_record(self.fetch_row(conn, m.project, "project", project_id))

    def list_projects(self, *, name: str | None = None) -> list[Project]:
        """All projects, oldest first; only those called ``name`` when given."""
        query = sa.select(m.project).order_by(m.project.c.created_at, m.project.c.id)
        if name is not None:
            query = query.where(m.project.c.name == name)
        with self.reading() as conn:
            return [project_record(row) for row in conn.execute(query)]

    def find_project(self, id_or_name: str) -> Project:
        """A project by id, by its (unique) name or by a unique id prefix, as the CLI's PROJECT
        argument accepts (a name wins over a prefix).

        Raises:
            NotFound: nothing matches.
            InvalidValue: several projects have that name.
        """
        try:
            return self.get_project(as_uuid("project", id_or_name))
        except NotFound:
            pass
        matches = self.list_projects(name=id_or_name)
        if not matches and id_prefix_range(id_or_name) is not None:
            return self.get_project(self.resolve_id("project", id_or_name))
        if not matches:
            raise NotFound("project", id_or_name)
        if len(matches) > 1:
            raise InvalidValue(
                "project name", id_or_name, f"{len(matches)} projects have this name; use an id"
            )
        return matches[0]

    def update_project(
        self, project_id: IdLike, *, name: str | None = None, description: str | None = None
    ) -> Project:
        """Change a project's name or description (arguments left as None stay unchanged).

        Raises:
            NotFound: no such project.
        """
        changes: dict[str, Any] = {}
        if name is not None:
            changes["name"] = require_text("project name", name)
        if description is not None:
            changes["description"] = check_text("description", description)
        with self.transaction() as conn:
            row = self.fetch_row(conn, m.project, "project", project_id)
            changes = {k: v for k, v in changes.items() if getattr(row, k) != v}
            if not changes:
                return project_record(row)
            changes["updated_at"] = self.clock.now()
            conn.execute(sa.update(m.project).where(m.project.c.id == row.id).values(**changes))
            return project_record(self.fetch_row(conn, m.project, "project", row.id))

    def delete_project(self, project_id: IdLike) -> None:
        """Delete a project and everything in it (experiments, iterations, metrics, models...).

        One transaction: either all of it goes or nothing does.

        Raises:
            NotFound: no such project.
        """
        with self.transaction() as conn:
            key = self.require_row(conn, m.project, "project", project_id)
            delete_projects(conn, [key])


def _refuse_taken_name(conn: Connection, name: str) -> None:
    """Names of new projects are unique, so a name always finds one project."""
    taken = conn.execute(sa.select(m.project.c.id).where(m.project.c.name == name).limit(1)).all()
    if taken:
        raise AlreadyExists(
            "project",
            name,
            f"a project named {name!r} exists already ({taken[0].id}); "
            "get_or_create_project (or its id) reuses it",
        )
