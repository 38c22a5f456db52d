"""What artifacts are made from: a file path, bytes, or a binary file object, and its name."""

from __future__ import annotations

import contextlib
import mimetypes
import os
import stat
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import IO

from diary.errors import InvalidValue

__all__ = [
    "ArtifactSource",
    "ManySources",
    "default_name",
    "guess_media_type",
    "named_sources",
    "opened",
]

#: What ``log_artifact``/``put_artifact`` accept: a file path, bytes, or a binary file object.
ArtifactSource = str | os.PathLike[str] | bytes | bytearray | memoryview | IO[bytes]
#: What ``log_artifacts``/``put_artifacts`` accept: names mapped to sources, or file paths
#: (each named after its file).
ManySources = Mapping[str, ArtifactSource] | Iterable[str | os.PathLike[str]]

_DEFAULT_MEDIA_TYPE = "application/octet-stream"


def guess_media_type(name: str) -> str:
    """The media type a name suggests (``application/octet-stream`` when it suggests none)."""
    return mimetypes.guess_type(name)[0] or _DEFAULT_MEDIA_TYPE


def default_name(source: ArtifactSource) -> str | None:
    """The name an artifact takes when none is given: a path's file name, else None."""
    if isinstance(source, str | os.PathLike):
        return Path(source).name
    return None


def named_sources(sources: ManySources) -> list[tuple[str, ArtifactSource]]:
    """``(name, source)`` pairs, in the caller's order.

    Raises:
        InvalidValue: a plain string or bytes given where many sources are expected (a
            common slip: ``put_artifacts(exp, "model.bin")``).
    """
    if isinstance(sources, str | bytes | bytearray | memoryview | os.PathLike):
        raise InvalidValue(
            "artifacts", repr(sources)[:80], "expected a mapping of names to sources or a list"
        )
    if isinstance(sources, Mapping):
        return [(str(name), source) for name, source in sources.items()]
    return [(Path(path).name, path) for path in sources]


@contextlib.contextmanager
def opened(source: ArtifactSource) -> Iterator[bytes | bytearray | memoryview | IO[bytes]]:
    """The source as bytes or an open binary file (a path is opened, and closed afterwards).

    Raises:
        InvalidValue: a path that is not a file.
    """
    if isinstance(source, str | os.PathLike):
        with open_regular_file(source) as handle:
            yield handle
    else:
        yield source


_KINDS = {
    stat.S_IFDIR: "a folder",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFIFO: "a FIFO",
    stat.S_IFSOCK: "a socket",
}


@contextlib.contextmanager
def open_regular_file(source: str | os.PathLike[str]) -> Iterator[IO[bytes]]:
    """Open a regular file for reading; anything else is refused without blocking on it.

    ``O_NONBLOCK`` keeps a FIFO from hanging the open; the kind is judged on the opened file
    (``fstat``), so a path swapped after a check cannot slip through.

    Raises:
        InvalidValue: no such file, or not a regular file (a folder, a device, a FIFO).
    """
    name = os.fsdecode(source)
    try:
        fd = os.open(source, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise InvalidValue("artifact file", name, "no such file") from None
    except IsADirectoryError:
        raise InvalidValue("artifact file", name, "not a regular file (a folder)") from None
    except PermissionError:
        raise InvalidValue("artifact file", name, "permission denied") from None
    mode = os.fstat(fd).st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        kind = _KINDS.get(stat.S_IFMT(mode), "a special file")
        raise InvalidValue("artifact file", name, f"not a regular file ({kind})")
    if hasattr(os, "set_blocking"):
        os.set_blocking(fd, True)
    with os.fdopen(fd, "rb") as handle:
        yield handle
