"""Connection settings for S3 and S3-compatible servers, turned into s3fs options.

Kept apart from :mod:`storage_core.blobs` so configuration code (diary's settings) can build
and validate S3 options without importing s3fs or botocore.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from storage_core.errors import ConfigError

__all__ = ["DEFAULT_MULTIPART_THRESHOLD", "MIN_PART_SIZE", "S3Options"]

#: S3 refuses multipart parts smaller than this (except the last one).
MIN_PART_SIZE = 5 * 1024 * 1024
#: Objects up to this size go up in one PUT; larger ones as a multipart upload.
DEFAULT_MULTIPART_THRESHOLD = 8 * 1024 * 1024


@dataclass(frozen=True, repr=False)
class S3Options:
    """How to reach an S3 (or S3-compatible) endpoint.

    Leaving ``access_key`` and ``secret_key`` unset uses the standard AWS credential chain
    (environment, shared config files, instance metadata). The keys never appear in ``repr``.

    Attributes:
        endpoint_url: the endpoint of an S3-compatible server; None for AWS itself.
        region: the signing region.
        access_key: the access key id, or None for the credential chain.
        secret_key: the secret access key, or None for the credential chain.
        session_token: a temporary session token, if any.
        retries: total attempts per request, first one included (botocore ``max_attempts``).
        connect_timeout: seconds to wait for a TCP connection.
        read_timeout: seconds to wait for a response on an open connection.
        multipart_threshold: objects larger than this many bytes are uploaded in parts of
            this size (at least 5 MiB, the S3 minimum part size).
    """

    endpoint_url: str | None = None
    region: str = "us-east-1"
    access_key: str | None = None
    secret_key: str | None = None
    session_token: str | None = None
    retries: int = 3
    connect_timeout: float = 5.0
    read_timeout: float = 60.0
    multipart_threshold: int = DEFAULT_MULTIPART_THRESHOLD

    def __post_init__(self) -> None:
        if (self.access_key is None) != (self.secret_key is None):
            raise ConfigError(
                "s3 credentials", "***", "give both the access key and the secret key, or neither"
            )
        if self.retries < 1:
            raise ConfigError("retries", self.retries, "must be at least 1 (the first attempt)")
        for name in ("connect_timeout", "read_timeout"):
            if getattr(self, name) <= 0:
                raise ConfigError(name, getattr(self, name), "must be a positive number of seconds")
        if self.multipart_threshold < MIN_PART_SIZE:
            raise ConfigError(
                "multipart_threshold",
                self.multipart_threshold,
                f"must be at least {MIN_PART_SIZE} bytes (the S3 minimum part size)",
            )

    def __repr__(self) -> str:
        def hidden(value: str | None) -> str:
            return "None" if value is None else "'***'"

        return (
            f"S3Options(endpoint_url={self.endpoint_url!r}, region={self.region!r}, "
            f"access_key={hidden(self.access_key)}, secret_key={hidden(self.secret_key)}, "
            f"session_token={hidden(self.session_token)}, retries={self.retries}, "
            f"connect_timeout={self.connect_timeout}, read_timeout={self.read_timeout}, "
            f"multipart_threshold={self.multipart_threshold})"
        )

    __str__ = __repr__

    @property
    def endpoint(self) -> str:
        """The endpoint as shown in messages: the URL, or "AWS S3" for the default."""
        return self.endpoint_url or f"AWS S3 ({self.region})"

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret values, so error messages can be scrubbed of them."""
        values = (self.access_key, self.secret_key, self.session_token)
        return tuple(v for v in values if v)

    def storage_options(self) -> dict[str, Any]:
        """Return keyword arguments for ``s3fs.S3FileSystem``.

        The region goes into botocore's ``Config`` (``config_kwargs``), not ``client_kwargs``:
        s3fs reads ``client_kwargs["region_name"]`` as a bucket location constraint, which
        breaks bucket creation in us-east-1. Instance and listings caches are off so that
        each store sees writes made by other clients.
        """
        from storage_core.blobs.redaction import register_secrets

        # Whoever builds a client from these options gets debug logs without the keys.
        register_secrets(*self.secrets)
        options: dict[str, Any] = {
            "skip_instance_cache": True,
            "use_listings_cache": False,
            "config_kwargs": {
                "region_name": self.region,
                "retries": {"max_attempts": self.retries, "mode": "standard"},
                "connect_timeout": self.connect_timeout,
                "read_timeout": self.read_timeout,
            },
        }
        if self.endpoint_url:
            options["endpoint_url"] = self.endpoint_url
        if self.access_key is not None:
            options["key"] = self.access_key
            options["secret"] = self.secret_key
        if self.session_token:
            options["token"] = self.session_token
        return options
