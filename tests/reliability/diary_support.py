"""Helpers of the diary reliability suites: sandboxes, subprocesses, snapshots, a fault proxy.

Everything here is real: subprocesses run the installed ``diary`` package, the databases are
real DuckDB files and S3 is the session's moto server, reached directly or through
:class:`FaultProxy`, a small HTTP proxy on 127.0.0.1 that injects the faults a real endpoint
has (refused credentials, 500/503 answers, dropped connections).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import duckdb

__all__ = [
    "CHAOS_TRIALS",
    "CHILD",
    "WITHOUT_ROOT_BYPASS",
    "DiarySandbox",
    "FaultProxy",
    "chaos_trials",
    "row_counts",
    "run_cli",
    "start_child",
    "tree_digest",
    "wait_ready",
]

CHILD = Path(__file__).with_name("diary_child.py")


def chaos_trials() -> int:
    """Trials per chaos scenario: ``CHAOS_TRIALS`` (``make chaos`` sets 50), default 5."""
    raw = os.environ.get("CHAOS_TRIALS", "") or "5"
    try:
        trials = int(raw)
    except ValueError:
        raise ValueError(f"CHAOS_TRIALS must be a whole number, not {raw!r}") from None
    if trials < 1:
        raise ValueError(f"CHAOS_TRIALS must be at least 1, not {trials}")
    return trials


CHAOS_TRIALS = chaos_trials()


@dataclass
class DiarySandbox:
    """One diary installation in a temporary folder: database, artifact root, environment.

    Attributes:
        root: the folder everything lives in (the working directory of subprocesses).
        db: the DuckDB file.
        artifacts: the filesystem artifact root.
        settings: extra ``DEARDIARY_*`` settings for every process (S3, flush sizes, ...).
    """

    root: Path
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def db(self) -> Path:
        return self.root / "diary.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def environ(self, **extra: str) -> dict[str, str]:
        """The environment of a subprocess: ours without DEARDIARY_*, plus the sandbox's."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("DEARDIARY_")}
        env.update(
            DEARDIARY_DB_FILE=str(self.db),
            DEARDIARY_ARTIFACT_FS_ROOT=str(self.artifacts),
            AWS_EC2_METADATA_DISABLED="true",
            PYTHONDONTWRITEBYTECODE="1",
        )
        env.update(self.settings)
        env.update(extra)
        return env

    def deardiary(self, **extra: str) -> dict[str, str]:
        """Only the DEARDIARY_* part of :meth:`environ` (for ``load_settings(environ=...)``)."""
        return {k: v for k, v in self.environ(**extra).items() if k.startswith("DEARDIARY_")}

    def open(self, *, buffered: bool = False, **extra: str) -> Any:
        """A library store with the sandbox's settings (the caller closes it)."""
        from diary.config import load_settings
        from diary.store import Store

        return Store(load_settings(environ=self.deardiary(**extra)), buffered=buffered)


def run_cli(
    sandbox: DiarySandbox,
    *args: str,
    input: str | bytes | None = None,
    timeout: float = 120,
    env: Mapping[str, str] | None = None,
    **extra: str,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m diary ARGS`` in the sandbox and capture its output as text."""
    result = subprocess.run(
        [sys.executable, "-m", "diary", *args],
        cwd=sandbox.root,
        env=dict(env) if env is not None else sandbox.environ(**extra),
        input=input.encode() if isinstance(input, str) else input,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
    return subprocess.CompletedProcess(
        result.args,
        result.returncode,
        result.stdout.decode(errors="backslashreplace"),
        result.stderr.decode(errors="backslashreplace"),
    )


#: Run a command as root without the capabilities that bypass file permissions, so a
#: read-only folder is read-only for it too (an empty prefix when we are not root).
WITHOUT_ROOT_BYPASS: tuple[str, ...] = (
    (
        "setpriv",
        "--bounding-set",
        "-dac_override,-dac_read_search",
        "--inh-caps",
        "-dac_override,-dac_read_search",
    )
    if os.geteuid() == 0
    else ()
)


def start_child(
    sandbox: DiarySandbox,
    mode: str,
    *args: str,
    env: Mapping[str, str] | None = None,
    prefix: tuple[str, ...] = (),
) -> subprocess.Popen[str]:
    """Start ``diary_child.py MODE ARGS`` (see that script) with pipes for its output."""
    return subprocess.Popen(
        [*prefix, sys.executable, str(CHILD), mode, *args],
        cwd=sandbox.root,
        env=dict(env) if env is not None else sandbox.environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def wait_ready(process: subprocess.Popen[str], timeout: float = 60) -> None:
    """Wait for a child's ``ready`` line (its imports are done, the work starts now)."""
    assert process.stdout is not None
    timer = threading.Timer(timeout, process.kill)
    timer.start()
    try:
        line = process.stdout.readline()
    finally:
        timer.cancel()
    if line.strip() != "ready":
        _, err = process.communicate(timeout=30)
        raise AssertionError(f"child did not get ready: {line!r} {err}")


def tree_digest(*paths: Path) -> dict[str, str]:
    """sha256 of every file under ``paths`` (files or folders), lock files excepted.

    ``<db>.lock`` holds the PID of the last process that opened the database: it is the
    lock, not the store, and any process that only reads rewrites it.
    """
    digest: dict[str, str] = {}
    for base in paths:
        files = [base] if base.is_file() else sorted(p for p in base.rglob("*") if p.is_file())
        for file in files:
            if file.name.endswith(".lock"):
                continue
            digest[str(file)] = hashlib.sha256(file.read_bytes()).hexdigest()
    return digest


def row_counts(db: Path) -> dict[str, int]:
    """Rows per table of a DuckDB file, read-only (no other process may hold the file)."""
    conn = duckdb.connect(str(db), read_only=True)
    try:
        tables = [
            row[0]
            for row in conn.execute(
                "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'main' "
                "ORDER BY table_name"
            ).fetchall()
        ]
        return {
            table: int(conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0])  # type: ignore[index]
            for table in tables
        }
    finally:
        conn.close()


def sha256(data: bytes) -> str:
    """Hex sha256 of bytes."""
    return hashlib.sha256(data).hexdigest()


# -- a fault-injecting S3 proxy ------------------------------------------------------------


_ERROR_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
    "<Message>{message}</Message>{extra}<RequestId>{request}</RequestId></Error>"
)
_HOP_HEADERS = {"connection", "keep-alive", "transfer-encoding", "te", "upgrade", "expect"}


class FaultProxy:
    """An HTTP proxy on 127.0.0.1 in front of an S3 endpoint that fails requests on demand.

    Modes (set :attr:`mode` at any time):

    * ``"pass"``: forward every request.
    * ``"auth"``: answer ``403 InvalidAccessKeyId`` (with the key in the body, as AWS does)
      unless the request is signed with :attr:`allowed_key`: an endpoint that checks keys.
    * ``"fail"``: answer every :attr:`every`-th request with :attr:`status` (500 or 503).
    * ``"drop"``: close the connection without an answer on every :attr:`every`-th request.

    Attributes:
        requests: requests seen; faults: requests failed or dropped.
    """

    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream = (parts.hostname or "127.0.0.1", parts.port or 80)
        self.mode = "pass"
        self.every = 3
        self.status = 503
        self.allowed_key = ""
        self.requests = 0
        self.faults = 0
        self._lock = threading.Lock()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _body(self) -> bytes:
                if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
                    chunks = []
                    while True:
                        size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                        if size == 0:
                            while self.rfile.readline().strip():
                                pass
                            return b"".join(chunks)
                        chunks.append(self.rfile.read(size))
                        self.rfile.readline()
                return self.rfile.read(int(self.headers.get("Content-Length") or 0))

            def _answer(self, status: int, body: bytes, headers: Iterable[tuple[str, str]]) -> None:
                self.send_response(status)
                length = str(len(body))
                for name, value in headers:
                    if name.lower() == "content-length" and self.command == "HEAD":
                        length = value  # a HEAD answer tells the size of what a GET would get
                    elif name.lower() not in _HOP_HEADERS and name.lower() != "content-length":
                        self.send_header(name, value)
                self.send_header("Content-Length", length)
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body)

            def _error(self, status: int, code: str, message: str, extra: str = "") -> None:
                body = _ERROR_BODY.format(
                    code=code, message=message, extra=extra, request=uuid.uuid4().hex
                ).encode()
                if self.command == "HEAD":
                    self._answer(status, b"", [])
                else:
                    self._answer(status, body, [("Content-Type", "application/xml")])

            def _handle(self) -> None:
                body = self._body()
                with proxy._lock:
                    proxy.requests += 1
                    number = proxy.requests
                    mode = proxy.mode
                    nth = mode in ("fail", "drop") and number % proxy.every == 0
                    if nth:
                        proxy.faults += 1
                if mode == "auth":
                    key = _access_key(self.headers.get("Authorization", ""))
                    if key != proxy.allowed_key:
                        with proxy._lock:
                            proxy.faults += 1
                        self._error(
                            403,
                            "InvalidAccessKeyId",
                            "The AWS Access Key Id you provided does not exist in our records.",
                            f"<AWSAccessKeyId>{key}</AWSAccessKeyId>",
                        )
                        return
                if nth and mode == "drop":
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                if nth:
                    code = "ServiceUnavailable" if proxy.status == 503 else "InternalError"
                    self._error(proxy.status, code, "Please reduce your request rate.")
                    return
                conn = http.client.HTTPConnection(*proxy.upstream, timeout=60)
                try:
                    headers = {
                        k: v for k, v in self.headers.items() if k.lower() not in _HOP_HEADERS
                    }
                    headers["Content-Length"] = str(len(body))
                    conn.request(self.command, self.path, body=body, headers=headers)
                    response = conn.getresponse()
                    payload = response.read()
                    self._answer(response.status, payload, response.getheaders())
                finally:
                    conn.close()

            do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _handle

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> FaultProxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


def _access_key(authorization: str) -> str:
    # "AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/s3/aws4_request, SignedHeaders=..."
    _, _, rest = authorization.partition("Credential=")
    return rest.split("/", 1)[0]
