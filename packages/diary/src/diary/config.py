"""diary's settings: ``DEARDIARY_*`` variables from the process environment and a ``.env`` file.

Every setting is read and validated once, into one immutable :class:`Settings` object, so an
invalid value fails at start with a message naming the variable rather than deep inside a
flush. Sources, strongest first:

1. keyword overrides passed to :func:`load_settings` (the CLI's ``--db``, the library's
   ``diary.open(path=...)``);
2. the process environment;
3. the ``.env`` file given explicitly (``--env-file`` / ``env_file=``). No file is read
   implicitly: a stray ``.env`` in the working directory must not redirect a database.

This module imports only the standard library and python-dotenv, so the CLI can build its
settings without paying for SQLAlchemy or DuckDB.
"""

from __future__ import annotations

import logging
import math
import os
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from storage_core.errors import ConfigError

__all__ = [
    "ARTIFACT_BACKENDS",
    "DEFAULT_DB_FILE",
    "DEFAULT_INLINE_MAX_BYTES",
    "ENV_PREFIX",
    "Settings",
    "load_settings",
]

logger = logging.getLogger(__name__)

ENV_PREFIX = "DEARDIARY_"
DEFAULT_DB_FILE = "deardiary.db"
# ``sqlite`` is the name DearDiary.jl v0.7-v0.8 gave the inline store; it is accepted as an
# alias so settings copied from those installations keep working.
ARTIFACT_BACKENDS = ("inline", "filesystem", "s3")
_ARTIFACT_ALIASES = {"sqlite": "inline"}
#: Default cap on one inline artifact: bytes kept in the database are held in memory whole.
DEFAULT_INLINE_MAX_BYTES = 256 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    """The validated configuration of one diary store.

    Attributes:
        db_file: absolute path of the DuckDB file (``DEARDIARY_DB_FILE``).
        db_url: an SQLAlchemy URL that overrides ``db_file`` (``DEARDIARY_DB_URL``), or None.
        lock_timeout: seconds to wait for another process's lock (``DEARDIARY_LOCK_TIMEOUT``).
        flush_interval: seconds between background flushes of buffered logging
            (``DEARDIARY_FLUSH_INTERVAL``).
        flush_size: buffered points that trigger a flush (``DEARDIARY_FLUSH_SIZE``).
        auto_upgrade: upgrade an older schema on first use (``DEARDIARY_AUTO_UPGRADE``).
        artifact_backend: where new artifact bytes go (``DEARDIARY_ARTIFACT_BACKEND``).
        artifact_fs_root: root folder of the filesystem store (``DEARDIARY_ARTIFACT_FS_ROOT``).
        artifact_s3_bucket: bucket of the S3 store (``DEARDIARY_ARTIFACT_S3_BUCKET``).
        artifact_s3_endpoint: S3 endpoint URL, empty for AWS (``DEARDIARY_ARTIFACT_S3_ENDPOINT``).
        artifact_s3_region: S3 region (``DEARDIARY_ARTIFACT_S3_REGION``).
        artifact_s3_access_key: S3 access key (``DEARDIARY_ARTIFACT_S3_ACCESS_KEY``); never
            shown in ``repr``.
        artifact_s3_secret_key: S3 secret key (``DEARDIARY_ARTIFACT_S3_SECRET_KEY``); never
            shown in ``repr``. With both keys empty the standard AWS credential chain applies.
        artifact_s3_prefix: key prefix inside the bucket (``DEARDIARY_ARTIFACT_S3_PREFIX``).
        artifact_s3_retries: attempts per S3 request, the first included
            (``DEARDIARY_ARTIFACT_S3_RETRIES``).
        artifact_s3_connect_timeout: seconds to wait for a connection to the S3 endpoint
            (``DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT``).
        artifact_inline_max_bytes: the largest artifact kept inline in the database
            (``DEARDIARY_ARTIFACT_INLINE_MAX_BYTES``).
    """

    db_file: Path
    db_url: str | None = None
    lock_timeout: float = 30.0
    flush_interval: float = 1.0
    flush_size: int = 50_000
    auto_upgrade: bool = True
    artifact_backend: str = "inline"
    artifact_fs_root: Path = field(default_factory=lambda: Path.cwd() / "deardiary_artifacts")
    artifact_s3_bucket: str = ""
    artifact_s3_endpoint: str = ""
    artifact_s3_region: str = "us-east-1"
    artifact_s3_access_key: str = field(default="", repr=False)
    artifact_s3_secret_key: str = field(default="", repr=False)
    artifact_s3_prefix: str = ""
    artifact_s3_retries: int = 3
    artifact_s3_connect_timeout: float = 5.0
    artifact_inline_max_bytes: int = DEFAULT_INLINE_MAX_BYTES

    @property
    def url(self) -> str:
        """The SQLAlchemy URL of the metadata database (``db_url`` wins over ``db_file``)."""
        if self.db_url:
            return self.db_url
        return f"duckdb:///{self.db_file}"

    @property
    def is_duckdb(self) -> bool:
        """True when the metadata database is DuckDB (the fast logging paths apply)."""
        return self.url.split(":", 1)[0].split("+", 1)[0] == "duckdb"

    def describe(self) -> str:
        """A short human description of the database location (a path or a URL without password)."""
        if not self.db_url:
            return str(self.db_file)
        from storage_core.database.targets import display_url

        try:
            return display_url(self.db_url)
        except ValueError:  # not a URL SQLAlchemy parses: say nothing of what follows a scheme
            return self.db_url.split("://", 1)[0] + "://..."


#: Every DEARDIARY_* variable diary reads.
KNOWN_VARIABLES = frozenset(
    ENV_PREFIX + suffix
    for suffix in (
        "DB_FILE", "DB_URL", "LOCK_TIMEOUT", "FLUSH_INTERVAL", "FLUSH_SIZE", "AUTO_UPGRADE",
        "ARTIFACT_BACKEND", "ARTIFACT_FS_ROOT", "ARTIFACT_S3_BUCKET", "ARTIFACT_S3_ENDPOINT",
        "ARTIFACT_S3_REGION", "ARTIFACT_S3_ACCESS_KEY", "ARTIFACT_S3_SECRET_KEY",
        "ARTIFACT_S3_PREFIX", "ARTIFACT_S3_RETRIES", "ARTIFACT_S3_CONNECT_TIMEOUT",
        "ARTIFACT_INLINE_MAX_BYTES",
    )
)  # fmt: skip
# DearDiary.jl's server settings: meaningful to it, not to this storage library.
_DEARDIARY_JL_VARIABLES = frozenset(
    ENV_PREFIX + suffix
    for suffix in (
        "HOST", "PORT", "ENABLE_API", "ENABLE_UI", "ENABLE_AUTH", "JWT_SECRET", "CORS_ORIGINS",
        "UI_HOST", "UI_PORT",
    )
)  # fmt: skip


_WARNED: set[str] = set()


def _warn_unknown(values: Mapping[str, str]) -> None:
    """Say so when a DEARDIARY_* variable is not one diary reads (a typo is otherwise silent)."""
    import difflib

    for name in sorted(set(values) - KNOWN_VARIABLES - _DEARDIARY_JL_VARIABLES - _WARNED):
        _WARNED.add(name)  # once per process, however often the settings are read
        close = difflib.get_close_matches(name, sorted(KNOWN_VARIABLES), n=1, cutoff=0.8)
        hint = f"; did you mean {close[0]}?" if close else ""
        logger.warning("diary: ignoring unknown setting %s%s", name, hint)


def _read_env_file(env_file: str | os.PathLike[str]) -> dict[str, str]:
    # Imported here: python-dotenv is cheap, but most runs never pass a file.
    from dotenv import dotenv_values

    path = Path(env_file)
    if not path.is_file():
        raise ConfigError("env_file", str(path), "no such file")
    try:
        values = dotenv_values(path, encoding="utf-8")
    except UnicodeDecodeError as err:
        where = f"byte 0x{err.object[err.start]:02x} at offset {err.start}"
        raise ConfigError("env_file", str(path), f"not valid UTF-8 ({where})") from None
    return {key: value for key, value in values.items() if value is not None}


def _float(name: str, raw: str, *, minimum: float, allow_zero: bool = True) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise ConfigError(name, raw, "expected a number of seconds") from None
    if not math.isfinite(value) or value < minimum or (value == 0 and not allow_zero):
        bound = f">= {minimum:g}" if allow_zero else f"> {minimum:g}"
        raise ConfigError(name, raw, f"expected a finite number {bound}")
    return value


def _int(name: str, raw: str, *, minimum: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(name, raw, "expected a whole number") from None
    if value < minimum:
        raise ConfigError(name, raw, f"expected a whole number >= {minimum}")
    return value


def _bool(name: str, raw: str) -> bool:
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(name, raw, "expected true or false")


def _path(name: str, raw: str, base: Path) -> Path:
    if not raw.strip():
        raise ConfigError(name, raw, "expected a file path")
    if "\0" in raw:
        raise ConfigError(name, raw.replace("\0", "\\0"), "a path cannot contain NUL")
    path = Path(raw).expanduser()
    return path if path.is_absolute() else base / path


def _url(name: str, raw: str) -> str:
    scheme, sep, _ = raw.partition("://")
    if not sep or not scheme:
        raise ConfigError(name, raw, "expected an SQLAlchemy URL such as sqlite:///path.db")
    return raw


def _backend(name: str, raw: str) -> str:
    given = raw.strip().lower()
    value = _ARTIFACT_ALIASES.get(given, given)
    if value not in ARTIFACT_BACKENDS:
        raise ConfigError(name, raw, f"expected one of {', '.join(ARTIFACT_BACKENDS)}")
    if given != value:
        # FutureWarning rather than DeprecationWarning: this is the user's setting, not a
        # library call, and Python hides DeprecationWarning outside __main__.
        warnings.warn(
            f"{name}={raw} is deprecated (DearDiary.jl's old name); use {name}={value}",
            FutureWarning,
            stacklevel=3,
        )
    return value


def _prefix(name: str, raw: str) -> str:
    prefix = raw.strip().strip("/")
    segments = prefix.split("/")
    if "\0" in prefix or any(seg in ("", ".", "..") for seg in segments):
        raise ConfigError(name, raw, "expected a key prefix such as 'team/artifacts'")
    return prefix


# S3's bucket naming rules (the subset every S3-compatible server accepts).
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9]+(-[a-z0-9]+)*")
_KEY = re.compile(r"[!-~]+")  # printable ASCII, no spaces
_HIDDEN = "***"


def _bucket(name: str, raw: str) -> str:
    if not _BUCKET.fullmatch(raw) or ".." in raw:
        raise ConfigError(
            name, raw, "expected an S3 bucket name (3-63 lower-case letters, digits, '.' and '-')"
        )
    return raw


def _endpoint(name: str, raw: str) -> str:
    from urllib.parse import urlsplit

    from storage_core.blobs.redaction import redact_userinfo

    try:
        parts = urlsplit(raw)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        valid = False
    if not valid:
        shown = redact_userinfo(raw)
        raise ConfigError(
            name, shown, "expected an http:// or https:// URL such as http://host:9000"
        )
    if parts.username is not None or parts.password is not None:
        # A URL is printed, logged and stored in too many places to carry a secret.
        raise ConfigError(
            name,
            redact_userinfo(raw),
            "credentials do not belong in the endpoint URL; set them in "
            "DEARDIARY_ARTIFACT_S3_ACCESS_KEY and DEARDIARY_ARTIFACT_S3_SECRET_KEY",
        )
    return raw


def _region(name: str, raw: str) -> str:
    if not _REGION.fullmatch(raw):
        raise ConfigError(name, raw, "expected a region name such as us-east-1")
    return raw


def _key(name: str, raw: str) -> str:
    # Keys are credentials: a refused value is never echoed.
    if not _KEY.fullmatch(raw):
        raise ConfigError(name, _HIDDEN, "expected printable ASCII characters without spaces")
    return raw


def _check_key_pair(settings: dict[str, Any]) -> None:
    access = settings.get("artifact_s3_access_key")
    secret = settings.get("artifact_s3_secret_key")
    if (access is None) == (secret is None):
        return
    pair = ("DEARDIARY_ARTIFACT_S3_ACCESS_KEY", "DEARDIARY_ARTIFACT_S3_SECRET_KEY")
    missing, given = pair if access is None else pair[::-1]
    raise ConfigError(missing, "", f"set it together with {given}, or leave both unset")


def load_settings(
    *,
    env_file: str | os.PathLike[str] | None = None,
    environ: Mapping[str, str] | None = None,
    cwd: Path | None = None,
    db_file: str | os.PathLike[str] | None = None,
    db_url: str | None = None,
) -> Settings:
    """Read and validate the ``DEARDIARY_*`` settings.

    Args:
        env_file: a ``.env`` file to read; the process environment wins over it.
        environ: the environment to read (default :data:`os.environ`); tests pass a dict.
        cwd: the directory relative paths are resolved against (default: the working
            directory at the time of the call).
        db_file: a database file that overrides every other source; it also clears a
            ``DEARDIARY_DB_URL`` from the environment, since an explicit path must win.
        db_url: an SQLAlchemy URL that overrides every other source.

    Returns:
        The validated settings.

    Raises:
        ConfigError: a value is invalid or ``env_file`` does not exist; the message names
            the variable.
    """
    base = (cwd or Path.cwd()).resolve()
    values: dict[str, str] = {}
    if env_file is not None:
        values.update(_read_env_file(env_file))
    env = os.environ if environ is None else environ
    values.update({key: value for key, value in env.items() if key.startswith(ENV_PREFIX)})

    def raw(suffix: str) -> str | None:
        value = values.get(ENV_PREFIX + suffix)
        # An empty variable means "not set": ``DEARDIARY_DB_URL=`` in a .env file must not
        # turn into an empty URL (DearDiary.jl's empty-port failure, defect 18).
        return value if value not in (None, "") else None

    _warn_unknown(values)
    settings: dict[str, Any] = {}
    if (value := raw("DB_FILE")) is not None:
        settings["db_file"] = _path("DEARDIARY_DB_FILE", value, base)
    if (value := raw("DB_URL")) is not None:
        settings["db_url"] = _url("DEARDIARY_DB_URL", value)
    if (value := raw("LOCK_TIMEOUT")) is not None:
        settings["lock_timeout"] = _float("DEARDIARY_LOCK_TIMEOUT", value, minimum=0)
    if (value := raw("FLUSH_INTERVAL")) is not None:
        settings["flush_interval"] = _float(
            "DEARDIARY_FLUSH_INTERVAL", value, minimum=0, allow_zero=False
        )
    if (value := raw("FLUSH_SIZE")) is not None:
        settings["flush_size"] = _int("DEARDIARY_FLUSH_SIZE", value, minimum=1)
    if (value := raw("AUTO_UPGRADE")) is not None:
        settings["auto_upgrade"] = _bool("DEARDIARY_AUTO_UPGRADE", value)
    if (value := raw("ARTIFACT_BACKEND")) is not None:
        settings["artifact_backend"] = _backend("DEARDIARY_ARTIFACT_BACKEND", value)
    settings["artifact_fs_root"] = (
        _path("DEARDIARY_ARTIFACT_FS_ROOT", value, base)
        if (value := raw("ARTIFACT_FS_ROOT")) is not None
        else base / "deardiary_artifacts"
    )
    for suffix, check in (
        ("BUCKET", _bucket),
        ("ENDPOINT", _endpoint),
        ("REGION", _region),
        ("ACCESS_KEY", _key),
        ("SECRET_KEY", _key),
    ):
        if (value := raw(f"ARTIFACT_S3_{suffix}")) is not None:
            settings[f"artifact_s3_{suffix.lower()}"] = check(
                ENV_PREFIX + "ARTIFACT_S3_" + suffix, value
            )
    _check_key_pair(settings)
    if (value := raw("ARTIFACT_S3_PREFIX")) is not None:
        settings["artifact_s3_prefix"] = _prefix("DEARDIARY_ARTIFACT_S3_PREFIX", value)
    if (value := raw("ARTIFACT_S3_RETRIES")) is not None:
        settings["artifact_s3_retries"] = _int("DEARDIARY_ARTIFACT_S3_RETRIES", value, minimum=1)
    if (value := raw("ARTIFACT_S3_CONNECT_TIMEOUT")) is not None:
        settings["artifact_s3_connect_timeout"] = _float(
            "DEARDIARY_ARTIFACT_S3_CONNECT_TIMEOUT", value, minimum=0, allow_zero=False
        )
    if (value := raw("ARTIFACT_INLINE_MAX_BYTES")) is not None:
        settings["artifact_inline_max_bytes"] = _int(
            "DEARDIARY_ARTIFACT_INLINE_MAX_BYTES", value, minimum=0
        )

    if db_file is not None:
        settings["db_file"] = _path("db_file", os.fspath(db_file), base)
        settings["db_url"] = None
    if db_url is not None:
        settings["db_url"] = _url("db_url", db_url)
    settings.setdefault("db_file", base / DEFAULT_DB_FILE)
    return Settings(**settings)
