"""Keeping a DuckDB file open between an engine's units of work, and yielding it on demand.

Opening a DuckDB file costs ~15 ms and closing it ~7 ms (the checkpoint), far more than a small
unit of work. A :class:`Keeper` holds one extra connection (and one hold on ``<db>.lock``) for
a short while after a unit of work, and lets go at once when another of our processes asks
for the file: a waiting process touches the lock file (:mod:`storage_core.database.locks`).

Also here: the per-file guard that serialises opens and closes within a process, which DuckDB
needs (see ``file_guard``).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from storage_core.database.locks import (
    acquire_database_lock,
    lock_stamp,
    lock_wanted,
    release_database_lock,
)

__all__ = ["DEFAULT_KEEP_OPEN", "Keeper", "file_guard", "kept_by", "release_kept_connection"]

# Seconds a DuckDB engine keeps its file open after a unit of work.
DEFAULT_KEEP_OPEN = 0.25
# How often the keeper looks for a waiting process while it keeps a file open.
_KEEPER_POLL = 0.003


class Keeper:
    """Keeps a DuckDB file open between an engine's units of work.

    After a unit of work, one extra connection (and one hold on the database lock) stays open
    so the next unit of work finds the database open: no 15 ms open, no 7 ms checkpointing
    close. It is closed, and the file released, when:

    * another process waits for the file (it touches the lock file, :func:`lock_wanted`),
      checked after every unit of work and every few milliseconds by a daemon thread;
    * no unit of work ended for ``linger`` seconds;
    * the engine is disposed, another engine or a raw connection of this process opens the
      file, or the interpreter exits.

    Commits are unaffected: each unit of work still commits (DuckDB writes its WAL) before it
    returns; only the file handle outlives it.
    """

    def __init__(self, path: Path, linger: float, connect: Callable[[], Any], close: Any) -> None:
        self.path = path
        self.linger = linger
        self._connect = connect
        self._close = close
        self._guard = threading.Lock()
        self._conn: Any = None
        self._stamp: int | None = None
        self._last_used = 0.0
        self._thread: threading.Thread | None = None

    def keep(self) -> None:
        """Called with a unit of work's connection open: make sure the keeper holds the file."""
        if _exiting:
            return
        with self._guard:
            if self._conn is not None:
                return
            # Held by this process: a counted re-entry (the wait is for other threads only).
            acquire_database_lock(self.path, 5.0)
            try:
                self._conn = self._connect()
            except BaseException:
                release_database_lock(self.path)
                raise
            self._stamp = lock_stamp(self.path)
            self._last_used = time.monotonic()
            _KEEPERS[self.path] = self
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._watch, name="duckdb-keeper", daemon=True
                )
                _WATCHERS.add(self._thread)
                self._thread.start()

    def used(self) -> None:
        """Called after a unit of work closed: let go now if another process waits."""
        self._last_used = time.monotonic()
        if self._conn is not None and lock_wanted(self.path, self._stamp):
            self.release()

    def release(self) -> None:
        """Close the kept connection and drop its hold on the lock (no-op when none)."""
        with self._guard:
            conn, self._conn = self._conn, None
            if conn is None:
                return
            if _KEEPERS.get(self.path) is self:
                del _KEEPERS[self.path]
            try:
                with file_guard(self.path):
                    self._close(conn)
            finally:
                release_database_lock(self.path)

    def _watch(self) -> None:
        while True:
            time.sleep(_KEEPER_POLL)
            with self._guard:
                if self._conn is None:
                    _WATCHERS.discard(threading.current_thread())
                    self._thread = None
                    return
            idle = time.monotonic() - self._last_used
            if idle >= self.linger or lock_wanted(self.path, self._stamp):
                with contextlib.suppress(Exception):
                    self.release()


_KEEPERS: dict[Path, Keeper] = {}
_WATCHERS: set[threading.Thread] = set()
_exiting = False
# DuckDB shares one database instance between the connections of a process and destroys it
# (checkpointing) when the last one closes. A connect from another thread during that close
# finds no instance, creates a second one and fails with "Unique file handle conflict": opens
# and closes of one file are serialised within the process.
_FILE_GUARDS: dict[Path, threading.RLock] = {}
_FILE_GUARDS_GUARD = threading.Lock()


def file_guard(path: Path) -> threading.RLock:
    """The lock that serialises opens and closes of one DuckDB file within this process."""
    with _FILE_GUARDS_GUARD:
        guard = _FILE_GUARDS.get(path)
        if guard is None:
            guard = _FILE_GUARDS[path] = threading.RLock()
        return guard


def kept_by(path: Path) -> Keeper | None:
    """The keeper that holds ``path`` open in this process, if any."""
    return _KEEPERS.get(path)


def release_kept_connection(path: str | os.PathLike[str]) -> None:
    """Close the connection an engine of this process keeps open on a DuckDB file, if any."""
    keeper = _KEEPERS.get(Path(path).expanduser().absolute())
    if keeper is not None:
        keeper.release()


@atexit.register
def _release_all_kept() -> None:
    # Close kept files cleanly (checkpointed) at exit; connections opened later (an exit-time
    # flush) are not kept.
    global _exiting
    _exiting = True
    for keeper in list(_KEEPERS.values()):
        with contextlib.suppress(Exception):
            keeper.release()
    # Watchers end within one poll once nothing is kept. A daemon thread still holding DuckDB
    # objects while the interpreter finalises makes DuckDB's bindings print "leaked" reports.
    for thread in list(_WATCHERS):
        if thread is not threading.current_thread():
            thread.join(timeout=1.0)
