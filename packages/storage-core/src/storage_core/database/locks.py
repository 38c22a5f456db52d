"""The inter-process lock next to a database file (``<db>.lock``).

DuckDB's own file lock is not enough for a connection per unit of work: measured with duckdb
2.0.0, four processes that each open, write one row, commit and close 500 times in a loop lose
a committed row now and then, and a process that opens the file while another is closing it can
fail with "Could not read enough bytes from file" (the closer's checkpoint is still writing).
Holding an exclusive lock of our own from before the open until after the close removes both:
the same loop with the lock lost nothing in 6,000 writes.

The lock is shared by the whole process and counted: DuckDB lets every thread of one process use
the same open database, so a second connection in the process (a flush thread, a nested unit of
work, a schema upgrade that opens connections) must not wait for the first. The lock is
released when the last holder in the process lets go, i.e. after DuckDB has closed the file.
Schema upgrades use the same lock, so first use, upgrades and ordinary connections of all our
processes are serialised on one file.

A process that waits for the lock says so: while it polls it touches the lock file's
modification time (never its content, which names the holder). The holder may keep the file
open between units of work (see ``storage_core.database.engines``) and lets go as soon as it
sees the lock file touched after its own acquisition (:func:`lock_wanted`).
"""

from __future__ import annotations

import contextlib
import functools
import os
import stat
import threading
import time
from pathlib import Path

from filelock import FileLock
from filelock import Timeout as FileLockTimeout

__all__ = [
    "LockTimeout",
    "acquire_database_lock",
    "database_lock",
    "lock_holder_pid",
    "lock_path",
    "lock_stamp",
    "lock_wanted",
    "release_database_lock",
]

LockTimeout = FileLockTimeout
# Polling interval while another process holds the lock: units of work take milliseconds.
_POLL_INTERVAL = 0.002
# How often a waiting process touches the lock file to tell the holder it is wanted.
_SIGNAL_INTERVAL = 0.005


def lock_path(database: str | os.PathLike[str]) -> Path:
    """The lock file of a database file: ``<db>.lock`` beside it."""
    if isinstance(database, Path | str) and os.path.isabs(database):
        return _absolute_lock_path(database)  # every unit of work asks: cached
    return Path(f"{Path(database).absolute()}.lock")


@functools.lru_cache(maxsize=256)
def _absolute_lock_path(database: str | Path) -> Path:
    return Path(f"{Path(database).absolute()}.lock")


# One lock object per file for the life of the process. The registry also keeps it alive: a
# FileLock that is garbage-collected releases its lock, whoever still counts on it.
_LOCKS: dict[Path, FileLock] = {}
_LOCKS_GUARD = threading.Lock()


def database_lock(database: str | os.PathLike[str]) -> FileLock:
    """The process-wide, counted lock of a database file (one instance per path)."""
    path = lock_path(database)
    with _LOCKS_GUARD:
        lock = _LOCKS.get(path)
        if lock is None:
            # thread_local=False: holds are counted for the process, not per thread.
            lock = _LOCKS[path] = FileLock(
                str(path), thread_local=False, mode=_mode_like(Path(database))
            )
        return lock


def _mode_like(database: Path) -> int:
    # Whoever may open the database must be able to take its lock, and nobody else needs to:
    # the lock file gets the database's read/write bits (a private 0600 file, a private lock).
    # The owner always needs read and write to lock at all (filelock refuses less), even
    # for a read-only database; nobody else ever gets write.
    try:
        return (stat.S_IMODE(database.stat().st_mode) & 0o644) | 0o600
    except OSError:
        return 0o644


def acquire_database_lock(database: str | os.PathLike[str], timeout: float) -> float:
    """Take the lock of a database file, waiting up to ``timeout`` seconds.

    Returns:
        The seconds spent waiting.

    Raises:
        LockTimeout: another process held the lock for longer than ``timeout``.
    """
    started = time.monotonic()
    lock = database_lock(database)
    path = lock_path(database)
    last = 0.0

    def ask_holder() -> bool:
        # Called while waiting. Touch (never write) the lock file when another process holds
        # it: that holder lets go of a file it keeps open when it sees the change.
        nonlocal last
        now = time.monotonic()
        if now - last >= _SIGNAL_INTERVAL and not lock.is_locked:
            last = now
            with contextlib.suppress(OSError):
                os.utime(path)
        return False

    lock.acquire(timeout=max(timeout, 0.0), poll_interval=_POLL_INTERVAL, cancel_check=ask_holder)
    if lock.lock_counter == 1:
        # The first hold in this process records who holds the file, for DatabaseLocked.
        # Contenders never truncate the lock file, so the PID stays readable while we hold it.
        with contextlib.suppress(OSError):
            lock_path(database).write_text(f"{os.getpid()}\n", encoding="ascii")
    return time.monotonic() - started


def lock_stamp(database: str | os.PathLike[str]) -> int | None:
    """The lock file's modification time in nanoseconds (None when it cannot be read)."""
    try:
        return lock_path(database).stat().st_mtime_ns
    except OSError:
        return None


def lock_wanted(database: str | os.PathLike[str], since: int | None) -> bool:
    """Whether another process touched the lock file after ``since`` (a :func:`lock_stamp`)."""
    return lock_stamp(database) != since


def lock_holder_pid(database: str | os.PathLike[str]) -> int | None:
    """The PID recorded by the process holding the lock, if it can be read."""
    try:
        text = lock_path(database).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


def release_database_lock(database: str | os.PathLike[str]) -> None:
    """Let go of one hold on the lock; the file lock goes when the process's last hold does."""
    database_lock(database).release()
