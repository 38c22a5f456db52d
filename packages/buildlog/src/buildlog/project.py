"""Project identity: the 12-hex id that isolates one project's rows in the shared database.

The id is the first 12 hex characters of SHA-256 of the ``origin`` remote URL exactly as
``git remote get-url origin`` prints it, credentials included, so every clone of a repository
shares its records and ids equal those the original buildlog computes. Without git, a repository
or an origin, the id is derived the same way from the resolved absolute project path.

A URL with credentials (``https://user:token@host/...``) also has an *alias*: the id of the URL
with its credentials removed. The registry keeps it beside the id, so a rotated token, which
changes the id, still finds the project's records. The URL itself is never stored; where it is
shown, its credentials are masked (:func:`redact_credentials`).
"""

from __future__ import annotations

import hashlib
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import SplitResult, urlsplit, urlunsplit

from storage_core.errors import NotFound

__all__ = [
    "ID_LENGTH",
    "IdSource",
    "ProjectIdentity",
    "identify_project",
    "origin_url",
    "project_id_from_path",
    "project_id_from_remote",
    "redact_credentials",
    "remote_alias",
    "strip_credentials",
]

ID_LENGTH = 12
GIT_TIMEOUT = 5.0

IdSource = Literal["git-remote", "path"]

# Schemes whose userinfo is a secret (user name + password or token). For ssh-like schemes
# the user name ("git") is part of the address and is kept; only a password is removed.
_SECRET_USERINFO_SCHEMES = frozenset({"http", "https", "ftp", "ftps"})


@dataclass(frozen=True)
class ProjectIdentity:
    """Who a project is, as derived from its folder.

    Attributes:
        id: the 12-hex project id.
        name: the project folder's name.
        path: the resolved absolute project root.
        source: ``"git-remote"`` when the id comes from the origin URL, else ``"path"``.
        alias: the id of the origin URL without credentials, when it differs from ``id``.
    """

    id: str
    name: str
    path: Path
    source: IdSource
    alias: str | None = None


def _short_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:ID_LENGTH]


def strip_credentials(url: str) -> str:
    """Remove credentials embedded in a remote URL.

    ``https://user:token@host/repo`` and ``https://token@host/repo`` become
    ``https://host/repo``; ``ssh://git:secret@host/repo`` becomes ``ssh://git@host/repo``.
    scp-like addresses (``git@github.com:acme/widgets.git``) and URLs without userinfo are
    returned unchanged, so their ids stay compatible with the original tool.

    Args:
        url: the remote URL, surrounding whitespace already stripped.

    Returns:
        The URL without secrets.
    """
    split = _split_userinfo(url)
    if split is None:
        return url
    parts, userinfo, hostport = split
    if parts.scheme.lower() in _SECRET_USERINFO_SCHEMES:
        netloc = hostport
    else:
        user = userinfo.split(":", 1)[0]
        netloc = f"{user}@{hostport}" if user else hostport
    return urlunsplit(parts._replace(netloc=netloc))


def _split_userinfo(url: str) -> tuple[SplitResult, str, str] | None:
    """A URL's parts, its userinfo and its host[:port]; None for scp-like addresses, URLs
    without userinfo and malformed URLs (an unbalanced IPv6 bracket, ...), kept as given."""
    if "://" not in url:
        return None
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    if "@" not in parts.netloc:
        return None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    return parts, userinfo, hostport


def project_id_from_remote(url: str) -> str:
    """The project id for an origin URL: as the original tool computes it.

    Args:
        url: the URL as ``git remote get-url origin`` prints it (surrounding whitespace is
            ignored; credentials count).

    Returns:
        12 lower-case hex characters.
    """
    return _short_sha256(url.strip())


def remote_alias(url: str) -> str | None:
    """The id of ``url`` without its credentials, or None when it has none to remove."""
    clean = strip_credentials(url.strip())
    return _short_sha256(clean) if clean != url.strip() else None


def redact_credentials(url: str) -> str:
    """``url`` with a password or token replaced by ``***`` (for messages and listings).

    ``https://alice:tok@host/r`` becomes ``https://alice:***@host/r``; ``https://tok@host/r``
    becomes ``https://***@host/r``; URLs without secrets are returned unchanged.
    """
    split = _split_userinfo(url)
    if split is None:
        return url
    parts, userinfo, hostport = split
    user, has_secret, _secret = userinfo.partition(":")
    if has_secret:
        masked = f"{user}:***"
    elif parts.scheme.lower() in _SECRET_USERINFO_SCHEMES:
        masked = "***"  # a lone token
    else:
        return url  # ssh://git@host: the user name is an address, not a secret
    return urlunsplit(
        (parts.scheme, f"{masked}@{hostport}", parts.path, parts.query, parts.fragment)
    )


def project_id_from_path(path: Path | str) -> str:
    """The fallback project id: SHA-256 of the resolved absolute path string.

    Args:
        path: the project root; it is resolved first.

    Returns:
        12 lower-case hex characters.
    """
    return _short_sha256(str(Path(path).resolve()))


def origin_url(root: Path, *, git: str = "git", timeout: float = GIT_TIMEOUT) -> str | None:
    """The ``origin`` URL of the repository containing ``root``, or None.

    None means: git is not installed, ``root`` is not in a repository, the repository has no
    ``origin``, the command printed nothing, or it took longer than ``timeout`` seconds.

    Args:
        root: the project root.
        git: the git executable.
        timeout: seconds to wait for git.
    """
    try:
        completed = subprocess.run(
            [git, "-C", str(root), "remote", "get-url", "origin"],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return None
    url = completed.stdout.strip()
    if completed.returncode != 0 or not url:
        return None
    return url


def identify_project(
    root: Path | str | None = None, *, git: str = "git", timeout: float = GIT_TIMEOUT
) -> ProjectIdentity:
    """Derive the identity of the project at ``root`` (default: the working directory).

    Args:
        root: the project root.
        git: the git executable (tests pass a missing one to force the path fallback).
        timeout: seconds to wait for git.

    Returns:
        The identity; ``source`` says which rule produced the id.

    Raises:
        NotFound: ``root`` is not an existing folder.
    """
    resolved = Path(root if root is not None else ".").expanduser().resolve()
    if not resolved.is_dir():
        # A mistyped --project-root would otherwise register a project nobody has.
        problem = "is a file, not a folder" if resolved.exists() else "does not exist"
        raise NotFound("project folder", str(resolved), f"project folder {resolved} {problem}")
    url = origin_url(resolved, git=git, timeout=timeout)
    if url is not None:
        return ProjectIdentity(
            id=project_id_from_remote(url),
            name=resolved.name,
            path=resolved,
            source="git-remote",
            alias=remote_alias(url),
        )
    return ProjectIdentity(
        id=project_id_from_path(resolved), name=resolved.name, path=resolved, source="path"
    )
