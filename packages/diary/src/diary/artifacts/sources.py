"""What artifacts are made from: a file path, bytes, or a binary file object, and its name."""

from __future__ import annotations

import contextlib
import mimetypes
import os
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
        path = Path(source)
        if not path.is_file():
            raise InvalidValue("artifact file", str(source), "no such file")
        with open(path, "rb") as handle:
            yield handle
    else:
        yield source
