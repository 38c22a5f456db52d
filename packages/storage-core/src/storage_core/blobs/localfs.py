"""Durable local file operations used by the blob store for ``file:`` roots.

A write goes to a temporary file in the destination directory, is flushed and fsynced, then
renamed over the destination (``os.replace``) and the directory is fsynced, so a reader sees
the old object or the new one, never a torn one, even after a crash. Temporary files carry
:data:`TEMP_PREFIX` so listings can skip them.

Directories are created with mode ``0o755`` (further narrowed by the umask): blob directories
are never group- or world-writable, so another local user cannot plant or swap objects.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from collections.abc import Iterable, Iterator
from pathlib import Path

__all__ = ["DIR_MODE", "FILE_MODE", "TEMP_PREFIX", "atomic_write", "make_dirs", "walk_files"]

#: Prefix of in-flight temporary files; keys with a segment starting with it are refused.
TEMP_PREFIX = ".tmp-blob-"
#: Mode for directories we create (the umask may remove more bits, never add).
DIR_MODE = 0o755
#: Mode for blob files (the umask may remove more bits).
FILE_MODE = 0o644
# link(2) fails with these where the file system has no hard links (FAT, some FUSE mounts).
_NO_HARDLINK_ERRNOS = frozenset({errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.EMLINK})


def make_dirs(path: Path, mode: int = DIR_MODE) -> None:
    """Create ``path`` and its missing parents, each with ``mode``.

    ``os.makedirs`` applies ``mode`` only to the last directory; intermediate ones would get
    ``0o777 & ~umask``, which can be group-writable. Here every new directory gets ``mode``.
    """
    missing: list[Path] = []
    current = path
    while not current.is_dir():
        missing.append(current)
        if current.parent == current:
            break
        current = current.parent
    for directory in reversed(missing):
        with contextlib.suppress(FileExistsError):
            # FileExistsError: a concurrent writer created it first; is_dir() below decides.
            os.mkdir(directory, mode)
        if not directory.is_dir():
            raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(directory))


def fsync_dir(path: Path) -> None:
    """Flush a directory entry change (create, rename, unlink) to disk."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(final: Path, chunks: Iterable[bytes], *, overwrite: bool = True) -> None:
    """Write ``chunks`` to ``final`` so that readers see all of it or none of it.

    Args:
        final: the destination file.
        chunks: the bytes to write, consumed once.
        overwrite: if False, fail with ``FileExistsError`` when ``final`` exists; the check
            and the publication are one atomic step (a hard link), where the file system
            supports hard links.

    Raises:
        FileExistsError: ``overwrite`` is False and ``final`` exists.
        OSError: the write failed; the temporary file is removed and ``final`` is untouched.
        Exception: whatever iterating ``chunks`` raised; the same clean-up applies.
    """
    parent = final.parent
    make_dirs(parent)
    temp = parent / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, FILE_MODE)
    try:
        with os.fdopen(fd, "wb", closefd=True) as out:
            for chunk in chunks:
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        _publish(temp, final, overwrite=overwrite)
        fsync_dir(parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temp)
        raise


def _publish(temp: Path, final: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, final)
        return
    try:
        os.link(temp, final)
    except OSError as err:
        if err.errno not in _NO_HARDLINK_ERRNOS:
            raise
        # No hard links here: fall back to check-then-rename, which has a small race window.
        if os.path.lexists(final):
            raise FileExistsError(errno.EEXIST, os.strerror(errno.EEXIST), str(final)) from err
        os.replace(temp, final)
        return
    os.unlink(temp)


def is_file(path: Path) -> bool:
    """Return True when ``path`` is a regular file (following symlinks).

    Unlike ``os.path.isfile`` this lets errors other than "does not exist" (permission
    denied, I/O errors) propagate instead of answering False.
    """
    try:
        return stat.S_ISREG(os.stat(path).st_mode)
    except (FileNotFoundError, NotADirectoryError):
        return False


def walk_files(root: Path) -> Iterator[tuple[str, ...]]:
    """Yield the path segments (relative to ``root``) of every file under ``root``.

    Temporary files of in-flight writes are skipped, symlinked directories are not followed,
    and a missing ``root`` yields nothing. Order is unspecified; callers sort.
    """
    stack: list[tuple[Path, tuple[str, ...]]] = [(root, ())]
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name.startswith(TEMP_PREFIX):
                continue
            if entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), (*prefix, entry.name)))
            elif entry.is_file():
                yield (*prefix, entry.name)
