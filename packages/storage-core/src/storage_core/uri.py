"""Canonical URIs: the only place that parses, formats and joins storage locations.

Every stored location is kept as one canonical string so that two spellings of the same place
compare equal and a stored pointer can be parsed back without loss:

* ``file:///abs/path`` - always absolute, dot segments removed, characters outside the RFC 3986
  path set percent-encoded as UTF-8 (undecodable file name bytes survive through
  ``os.fsencode``/``os.fsdecode``). ``file:`` is the one scheme that is percent-encoded,
  because that is what the file URI standard (RFC 8089) says and what other tools produce.
* ``s3://bucket/key`` - the key is taken literally (S3 keys are opaque strings and fsspec
  passes them through undecoded); leading and trailing slashes are dropped.
* ``memory://a/b`` - fsspec's in-memory filesystem; stored with the path ``/a/b``.
* ``<protocol>://authority/path`` for any other fsspec protocol, passed through literally.

Bare paths (``data/x``, ``~/x``, ``pathlib.Path``) become absolute ``file:`` URIs, resolved
against the working directory without following symlinks. ``..`` in a bare path or ``file:``
URI is removed lexically, as RFC 3986 and ``os.path.abspath`` do.

Joining (:func:`join`) is the guard against traversal: a part is a relative, ``/``-separated
name, never a URI, and anything that could leave the base (``..``, absolute parts, drive
letters, backslashes, empty segments, NUL) is refused with :class:`InvalidURI`.
"""

from __future__ import annotations

import os
import pathlib
import re
from dataclasses import dataclass
from typing import TypeAlias
from urllib.parse import quote, unquote_to_bytes

from storage_core.errors import InvalidURI

__all__ = [
    "URI",
    "URILike",
    "canonical",
    "is_under",
    "join",
    "parse",
    "relative_key",
    "to_local_path",
]

# Characters left unencoded in file URIs: RFC 3986 "pchar" minus "%" plus "/".
_FILE_SAFE = "/:@!$&'()*+,;=-._~"
_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_BUCKET_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_DRIVE_RE = re.compile(r"^[A-Za-z]:")
# Schemes whose path is a POSIX-style absolute path normalised like a file system path.
_POSIX_SCHEMES = frozenset({"file", "memory"})


@dataclass(frozen=True)
class URI:
    """A parsed, canonical storage location.

    Instances are validated on creation, so every ``URI`` satisfies
    ``parse(str(u)) == u``. Build them with :func:`parse` and :func:`join` rather than by hand.

    Attributes:
        scheme: the fsspec protocol, lower case ("file", "s3", "memory", "gcs", ...).
        authority: the bucket for s3 and other object stores, "" for file and memory.
        path: the decoded path: absolute ("/a/b") for file and memory, the key without a
            leading slash for s3 and other protocols ("" for the bucket root).
    """

    scheme: str
    authority: str
    path: str

    def __post_init__(self) -> None:
        sep = "" if self.path.startswith("/") or not self.path else "/"
        text = f"{self.scheme}://{self.authority}{sep}{self.path}"
        if not re.fullmatch(r"[a-z][a-z0-9+.-]+", self.scheme):
            raise InvalidURI(text, "the scheme must be lower case and longer than one letter")
        if "\x00" in text:
            raise InvalidURI(text, "NUL characters are not allowed")
        if self.scheme in _POSIX_SCHEMES:
            if self.authority:
                raise InvalidURI(text, f"{self.scheme} URIs have no host")
            if _normalise_posix(self.path) != self.path:
                raise InvalidURI(text, "the path must be absolute and normalised")
            if self.scheme == "file":
                _check_encodable(text, self.path)
        else:
            if self.scheme == "s3" and not self.authority:
                raise InvalidURI(text, "s3 URIs need a bucket")
            if self.authority and not _BUCKET_RE.match(self.authority):
                raise InvalidURI(text, f"invalid bucket or host name {self.authority!r}")
            if self.path.startswith("/") or self.path.endswith("/"):
                raise InvalidURI(text, "the key must not start or end with '/'")
            if any(seg in (".", "..") for seg in self.path.split("/")):
                # HTTP clients (yarl, urllib3) collapse dot segments, so such a key would
                # silently address another object.
                raise InvalidURI(text, "'.' and '..' segments are not allowed in object keys")

    def __str__(self) -> str:
        if self.scheme == "file":
            return "file://" + quote(os.fsencode(self.path), safe=_FILE_SAFE)
        if self.scheme == "memory":
            # fsspec's memory filesystem strips "memory://" and then leading slashes.
            return "memory://" + self.path.lstrip("/")
        return f"{self.scheme}://{self.authority}" + (f"/{self.path}" if self.path else "")

    @property
    def protocol(self) -> str:
        """The fsspec protocol name (same as ``scheme``)."""
        return self.scheme

    @property
    def fs_path(self) -> str:
        """The path fsspec expects: "/abs" for file and memory, "bucket/key" otherwise."""
        if self.scheme in _POSIX_SCHEMES:
            return self.path
        return f"{self.authority}/{self.path}" if self.path else self.authority

    @property
    def segments(self) -> tuple[str, ...]:
        """The path split into its "/"-separated segments (empty for a root)."""
        if self.scheme in _POSIX_SCHEMES:
            return tuple(s for s in self.path.split("/") if s)
        return tuple(self.path.split("/")) if self.path else ()

    @property
    def name(self) -> str:
        """The last path segment, "" for a root."""
        segs = self.segments
        return segs[-1] if segs else ""

    @property
    def parent(self) -> URI:
        """The URI one segment up; a root is its own parent."""
        return _with_segments(self, self.segments[:-1])

    def joinpath(self, *parts: str) -> URI:
        """Append relative parts; same as :func:`join` (``self`` is the base)."""
        return join(self, *parts)


#: Anything :func:`parse` accepts.
URILike: TypeAlias = str | os.PathLike[str] | URI


def _with_segments(base: URI, segments: tuple[str, ...]) -> URI:
    if base.scheme in _POSIX_SCHEMES:
        return URI(base.scheme, "", "/" + "/".join(segments))
    return URI(base.scheme, base.authority, "/".join(segments))


def _normalise_posix(path: str) -> str:
    """Make an absolute POSIX path canonical: drop "", "." segments, apply ".." lexically."""
    out: list[str] = []
    for seg in path.split("/"):
        if seg in ("", "."):
            continue
        if seg == "..":
            if out:
                out.pop()
            continue
        out.append(seg)
    return "/" + "/".join(out)


def _check_encodable(text: str, path: str) -> None:
    try:
        os.fsencode(path)
    except UnicodeEncodeError as err:
        raise InvalidURI(text, "the path cannot be encoded as a file name") from err


def parse(x: URILike) -> URI:
    """Parse a URI, a bare path or a ``pathlib.Path`` into a canonical :class:`URI`.

    Args:
        x: ``file:``/``s3://``/``memory://``/other ``<protocol>://`` URI, or a local path
            (absolute, relative to the working directory, or starting with ``~``).

    Returns:
        The canonical URI. A ``URI`` is returned unchanged.

    Raises:
        InvalidURI: NUL characters, a ``file:`` URI naming another host or carrying a query,
            an s3 URI without a bucket, an empty string, or anything else unparseable.
    """
    if isinstance(x, URI):
        return x
    text = os.fspath(x)
    if not isinstance(text, str):
        raise InvalidURI(repr(text), "byte paths are not supported; decode them first")
    if "\x00" in text:
        raise InvalidURI(text, "NUL characters are not allowed")
    if not text:
        raise InvalidURI(text, "empty path")
    match = _SCHEME_RE.match(text)
    if match:
        scheme = match.group(1).lower()
        rest = text[match.end() :]
        if len(scheme) == 1:
            raise InvalidURI(text, "a one-letter scheme looks like a Windows drive letter")
        if scheme == "file":
            return _parse_file(text, rest)
        if scheme == "memory":
            return URI("memory", "", _normalise_posix(rest))
        authority, _, path = rest.partition("/")
        if scheme == "s3" and not authority:
            raise InvalidURI(text, "s3 URIs need a bucket (s3://bucket/key)")
        return URI(scheme, authority, path.strip("/"))
    if text[:5].lower() == "file:":
        return _parse_file(text, None)
    if "://" in text or "::" in text:
        # Chained fsspec URLs ("simplecache::s3://...") and odd schemes are not paths.
        raise InvalidURI(text, "unsupported URI syntax")
    path = os.path.expanduser(text)
    if not path.startswith("/"):
        path = os.path.join(os.getcwd(), path)
    normalised = _normalise_posix(path)
    _check_encodable(text, normalised)
    return URI("file", "", normalised)


def _parse_file(text: str, after_slashes: str | None) -> URI:
    if after_slashes is None:
        # "file:/abs" (no authority); "file:rel" is refused below.
        rest = text[5:]
        if not rest.startswith("/"):
            raise InvalidURI(text, "file URIs must be absolute")
        host, raw = "", rest
    else:
        host, slash, raw = after_slashes.partition("/")
        raw = slash + raw
    if host.lower() not in ("", "localhost"):
        raise InvalidURI(text, f"remote file host {host!r} is not supported")
    if "?" in raw or "#" in raw:
        raise InvalidURI(text, "file URIs take no query or fragment ('?' is %3F, '#' is %23)")
    if not raw:
        raise InvalidURI(text, "file URIs need a path")
    decoded = os.fsdecode(unquote_to_bytes(raw))
    if "\x00" in decoded:
        raise InvalidURI(text, "NUL characters are not allowed")
    return URI("file", "", _normalise_posix(decoded))


def canonical(x: URILike) -> str:
    """Return the canonical string form of a URI or path (``str(parse(x))``)."""
    return str(parse(x))


def to_local_path(uri: URILike) -> pathlib.Path:
    """Return the local path of a ``file:`` URI.

    Raises:
        InvalidURI: the URI is not a ``file:`` URI.
    """
    u = parse(uri)
    if u.scheme != "file":
        raise InvalidURI(str(u), "not a local file URI")
    return pathlib.Path(u.path)


def _check_segment(part: str, seg: str, first: bool) -> None:
    if seg == "":
        raise InvalidURI(part, "empty path segment")
    if seg in (".", ".."):
        raise InvalidURI(part, f"{seg!r} segments are not allowed")
    if "\\" in seg:
        raise InvalidURI(part, "backslashes are not allowed")
    if first and _DRIVE_RE.match(seg):
        raise InvalidURI(part, "drive letters are not allowed")


def join(base: URILike, *parts: str) -> URI:
    """Append relative parts to a base URI, refusing anything that could leave the base.

    Each part is a relative name made of ``/``-separated segments. It is taken literally:
    ``%2e%2e`` is a file named ``%2e%2e``, not an encoded ``..``.

    Args:
        base: the base URI or path.
        *parts: relative parts such as ``"a/b"`` and ``"c.txt"``.

    Returns:
        A URI that is always under ``base`` (``is_under(result, base)``).

    Raises:
        InvalidURI: a part is empty, absolute, has an empty, ``.`` or ``..`` segment, a
            backslash, a drive letter (``C:``) or a NUL character.
    """
    b = parse(base)
    segments = list(b.segments)
    for part in parts:
        if not isinstance(part, str):
            raise InvalidURI(repr(part), "parts must be strings")
        if "\x00" in part:
            raise InvalidURI(part, "NUL characters are not allowed")
        if part.startswith("/"):
            raise InvalidURI(part, "absolute parts are not allowed; keys are relative")
        for i, seg in enumerate(part.split("/")):
            _check_segment(part, seg, first=i == 0)
            segments.append(seg)
    if b.scheme == "file":
        _check_encodable("/".join(parts), "/".join(segments))
    return _with_segments(b, tuple(segments))


def is_under(child: URILike, base: URILike) -> bool:
    """Return True when ``child`` is ``base`` itself or lies below it (segment-wise)."""
    c, b = parse(child), parse(base)
    if (c.scheme, c.authority) != (b.scheme, b.authority):
        return False
    n = len(b.segments)
    return c.segments[:n] == b.segments


def relative_key(base: URILike, child: URILike) -> str:
    """Return the ``/``-separated key of ``child`` relative to ``base`` ("" for base itself).

    Raises:
        InvalidURI: ``child`` is not under ``base``.
    """
    c, b = parse(child), parse(base)
    if not is_under(c, b):
        raise InvalidURI(str(c), f"not under {b}")
    return "/".join(c.segments[len(b.segments) :])
