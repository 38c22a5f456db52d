"""buildlog's own errors, all under storage-core's :class:`~storage_core.errors.StorageError`.

The CLI's single error boundary turns any of them into ``Error: <one line>`` and exit 1.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from storage_core.errors import StorageError

__all__ = [
    "ExportError",
    "InvalidRecord",
    "MigrationIncomplete",
    "OtherProject",
    "ReadOnlyBackend",
    "UnknownTable",
    "UnsupportedOption",
]


class ReadOnlyBackend(StorageError):
    """A write was attempted on the legacy files, which buildlog only reads.

    Attributes:
        data_dir: the legacy ``.buildlog`` folder.
        operation: what was attempted.
    """

    def __init__(self, data_dir: Path, operation: str) -> None:
        self.data_dir = data_dir
        self.operation = operation
        super().__init__(
            f"cannot {operation}: this project still uses the read-only legacy files in "
            f"{data_dir}; run 'buildlog migrate' to move them into the database"
        )


class UnknownTable(StorageError, ValueError):
    """A table name given to export is not one of the exportable tables.

    Attributes:
        name: the name given.
        valid: the valid names.
    """

    def __init__(self, name: str, valid: Sequence[str]) -> None:
        self.name = name
        self.valid = tuple(valid)
        super().__init__(f"unknown table {name!r}; valid tables: {', '.join(valid)}")


class InvalidRecord(StorageError, ValueError):
    """A record given to the library (or found in an import) is invalid.

    Attributes:
        where: where the record came from (``file:line`` or a command).
        reason: what is wrong.
    """

    def __init__(self, where: str, reason: str) -> None:
        self.where = where
        self.reason = reason
        super().__init__(f"{where}: {reason}")


class ExportError(StorageError):
    """An export folder cannot be written, or an import folder is not a valid export.

    Attributes:
        path: the folder or file concerned.
        reason: what is wrong.
    """

    def __init__(self, path: Path, reason: str) -> None:
        self.path = path
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class MigrationIncomplete(StorageError):
    """``buildlog migrate`` left files behind: malformed lines to fix, or failed files.

    A file with a malformed line is not imported at all (see :mod:`buildlog.migrate`).

    Attributes:
        issues: the malformed lines (``file:line: reason``).
        failed: the files that failed as a whole.
        kept: the files left in place because of malformed lines.
    """

    def __init__(
        self, issues: Sequence[str], failed: Sequence[str], kept: Sequence[str] = ()
    ) -> None:
        self.issues = tuple(issues)
        self.failed = tuple(failed)
        self.kept = tuple(kept)
        parts = []
        if issues:
            files = _files(self.kept)
            parts.append(
                f"{_plural(len(issues), 'malformed line')} in {files} "
                f"(first: {_first(issues[0], self.kept)}); nothing was imported from "
                f"{'that file' if len(self.kept) == 1 else 'those files'}"
            )
        if failed:
            parts.append(f"{_plural(len(failed), 'file')} failed ({', '.join(failed)})")
        super().__init__(
            f"migration incomplete: {'; '.join(parts)}; fix and run 'buildlog migrate' again"
        )


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def _first(issue: str, kept: Sequence[str]) -> str:
    """The first issue, without repeating the file's path when only one file is named."""
    if len(kept) == 1 and issue.startswith(f"{kept[0]}:"):
        rest = issue[len(kept[0]) + 1 :]
        return f"line {rest}" if rest[:1].isdigit() else rest.strip()
    return issue


def _files(paths: Sequence[str]) -> str:
    if len(paths) == 1:
        return paths[0]
    return f"{len(paths)} files ({', '.join(paths)})"


class OtherProject(StorageError, PermissionError):
    """A command was asked for another project's records without ``--all-projects``.

    Attributes:
        project_id: the project asked for.
        current: the current project's id.
    """

    def __init__(self, project_id: str, current: str, action: str = "export") -> None:
        self.project_id = project_id
        self.current = current
        super().__init__(
            f"project {project_id} is not this project ({current}); add --all-projects to "
            f"{action} another project's records"
        )


class OutsideProject(StorageError, PermissionError):
    """A legacy folder or file of a project resolves (through a symlink) outside the project.

    Its records belong to whatever the link points at, not to this project: they are neither
    read nor migrated, and nothing there is renamed.

    Attributes:
        path: the path inside the project.
        target: where it resolves to.
        root: the project root (or the given buildlog folder).
    """

    def __init__(self, path: str, target: str, root: str) -> None:
        self.path = path
        self.target = target
        self.root = root
        super().__init__(
            f"{path} leads outside the project ({root}) to {target}; buildlog neither reads "
            "nor migrates legacy files through such a link: replace the link with a copy, or "
            "run buildlog in the project the files belong to"
        )


class UnsupportedOption(StorageError, ValueError):
    """An option of the original buildlog that this toolkit does not offer.

    Attributes:
        option: the option as given (``--embeddings openai``).
        reason: what is missing.
    """

    def __init__(self, option: str, reason: str) -> None:
        self.option = option
        self.reason = reason
        super().__init__(f"{option} is not available in this toolkit ({reason})")
