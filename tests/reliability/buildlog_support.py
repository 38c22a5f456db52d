"""Helpers for buildlog's reliability suites: isolation, large legacy folders, store snapshots.

The isolation fixture is imported by every ``test_buildlog_*`` module of this folder (it is
autouse there), so no test can touch the real ``~/.buildlog``. Run as a script, this file is
the child process of the chaos test (``python buildlog_support.py migrate-child ...``).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

HERE = Path(__file__).resolve()

# Tables holding per-project records, with the columns that identify a record in them.
RECORD_KEYS: dict[str, tuple[str, ...]] = {
    "reward_events": ("id",),
    "sessions": ("id",),
    "mistakes": ("id",),
    "skill_decisions": ("skill_id",),
    "review_learnings": ("id",),
    "review_history": ("timestamp",),
    "active_sessions": ("project_id",),
    "bandit_arms": ("context", "rule_id"),
    "posterior_snapshots": ("rule_id", "iteration", "batch_id"),
}
ALL_TABLES = ("projects", *RECORD_KEYS)


@dataclass(frozen=True)
class Isolation:
    """The private locations of one test."""

    home: Path
    buildlog_home: Path
    db: Path

    def env(self, **extra: str) -> dict[str, str]:
        """An environment for a child process, isolated like the test itself."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("BUILDLOG_")}
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(
            HOME=str(self.home),
            BUILDLOG_HOME=str(self.buildlog_home),
            BUILDLOG_DB=str(self.db),
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=str(self.home / ".gitconfig"),
        )
        env.update(extra)
        return env


@pytest.fixture(autouse=True)
def isolated_buildlog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Isolation:
    """Point HOME, BUILDLOG_HOME and BUILDLOG_DB into ``tmp_path`` (autouse where imported)."""
    home = tmp_path / "home"
    home.mkdir()
    buildlog_home = tmp_path / "buildlog-home"
    isolation = Isolation(home, buildlog_home, buildlog_home / "buildlog.db")
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("BUILDLOG_HOME", str(buildlog_home))
    monkeypatch.setenv("BUILDLOG_DB", str(isolation.db))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(home / ".gitconfig"))
    return isolation


def current_isolation() -> Isolation:
    """The isolation :func:`isolated_buildlog` set up for the running test (from the env)."""
    return Isolation(
        Path(os.environ["HOME"]),
        Path(os.environ["BUILDLOG_HOME"]),
        Path(os.environ["BUILDLOG_DB"]),
    )


def chaos_trials() -> int:
    """How many kill trials to run: ``CHAOS_TRIALS`` (``make chaos`` sets 50), default 5."""
    value = os.environ.get("CHAOS_TRIALS", "5")
    trials = int(value)
    if trials < 1:
        raise ValueError(f"CHAOS_TRIALS must be at least 1, got {value!r}")
    return trials


def run_buildlog(
    args: Sequence[str], env: Mapping[str, str], cwd: Path | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """Run the real ``buildlog`` command line in a child process."""
    return subprocess.run(
        [sys.executable, "-m", "buildlog", *args],
        capture_output=True,
        text=True,
        env=dict(env),
        cwd=cwd,
        timeout=timeout,
        check=False,
    )


def git_repo(root: Path, origin: str | None = None) -> Path:
    """Make ``root`` a git repository, with an ``origin`` remote when given."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    if origin is not None:
        subprocess.run(["git", "-C", str(root), "remote", "add", "origin", origin], check=True)
    return root


# ------------------------------------------------------------------------------------------
# A large legacy folder, every file kind


def _stamp(i: int, base_day: int = 0) -> str:
    day, rest = divmod(i, 86_400)
    day += base_day
    micro = (i * 7919) % 1_000_000
    return (
        f"2026-{1 + day // 28 % 12:02d}-{1 + day % 28:02d}T"
        f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}.{micro:06d}+00:00"
    )


@dataclass
class LegacyFolder:
    """A legacy folder written by :func:`write_large_legacy` and what it must import as.

    Attributes:
        root: the project root (flat layout: ``<root>/.buildlog`` and the bandit file).
        files: every file written, relative to ``root``, with its bytes.
        expected: per table, the set of record keys the database must hold afterwards.
    """

    root: Path
    files: dict[str, bytes] = field(default_factory=dict)
    expected: dict[str, set[tuple[object, ...]]] = field(default_factory=dict)

    @property
    def records(self) -> int:
        """How many records the folder holds, counted as the database stores them."""
        return sum(len(keys) for keys in self.expected.values())


def _jsonl(rows: Sequence[Mapping[str, object]]) -> bytes:
    return "".join(json.dumps(row) + "\n" for row in rows).encode("utf-8")


def write_large_legacy(root: Path, scale: int = 1) -> LegacyFolder:
    """Write every legacy file kind with thousands of records (``scale`` multiplies).

    Includes the realistic oddities: duplicate reward lines, a bandit file with several
    lines per arm (compacted on import), unicode text, snapshots without a timestamp.
    """
    folder = LegacyFolder(root)
    n_rewards, n_sessions, n_mistakes = 2500 * scale, 1000 * scale, 1200 * scale
    n_learnings, n_history, n_arms, n_snapshots = 200 * scale, 150 * scale, 200, 600 * scale
    rewards = [
        {
            "id": f"rew-{i:010x}",
            "timestamp": _stamp(i),
            "outcome": ("accepted", "revision", "rejected")[i % 3],
            "reward_value": (1.0, 0.7, 0.0)[i % 3],
            "rules_active": ["arch-b0fcb62a1e", f"wf-{i % 17:010x}"],
            **({"revision_distance": 0.3} if i % 3 == 1 else {}),
            "error_class": "missing_test" if i % 2 else "sécurité ☃",
            "notes": f"note {i} — ünïcode",
            "source": "cli",
            "session_id": f"session-{i // 3:012d}",
        }
        for i in range(n_rewards)
    ]
    # The original appends; a line written twice is one record.
    reward_lines = [*rewards, rewards[10], rewards[-1]]
    sessions = [
        {
            "id": f"session-{i:012d}",
            "started_at": _stamp(i),
            "ended_at": _stamp(i + 60),
            "rules_at_start": ["arch-b0fcb62a1e"],
            "rules_at_end": ["arch-b0fcb62a1e", "wf-96f12966f1"],
            "selected_rules": ["arch-b0fcb62a1e"],
            "error_class": "missing_test",
            **({"entry_file": f"2026-02-{1 + i % 28:02d}-entry.md"} if i % 2 else {}),
        }
        for i in range(n_sessions)
    ]
    mistakes = [
        {
            "id": f"mistake-missing_te-{i:012d}",
            "session_id": f"session-{i % n_sessions:012d}",
            "timestamp": _stamp(i),
            "error_class": "missing_test",
            "description": f"Forgot tests for branch {i}",
            "semantic_hash": f"{i:016x}",
            "was_repeat": i % 5 == 0,
            **({"related_concepts": ["tests"], "rules_consulted": ["wf-x"]} if i % 2 else {}),
        }
        for i in range(n_mistakes)
    ]
    promoted_ids = [f"arch-{i:010x}" for i in range(120)]
    rejected_ids = [f"tool-{i:010x}" for i in range(40)]
    learnings = {
        f"test-{i:010x}": {
            "id": f"test-{i:010x}",
            "rule": f"Rule number {i}: write the failing test first ✓",
            "category": "testing",
            "severity": "major",
            "source": f"review:pr-{i}",
            "first_seen": _stamp(i),
            "last_reinforced": _stamp(i + 5),
            "reinforcement_count": 1 + i % 4,
        }
        for i in range(n_learnings)
    }
    history = [
        {
            "timestamp": _stamp(i, base_day=40),
            "source": f"review:pr-{i}",
            "issues_count": i % 9,
            "new_learning_ids": [f"test-{i:010x}"],
            "reinforced_learning_ids": [],
        }
        for i in range(n_history)
    ]
    bandit = [
        {
            "context": ("general", "missing_test")[a % 2],
            "rule_id": f"rule-{a:04d}",
            "alpha": 1.0 + version,
            "beta": 1.0,
            "is_seed": a % 3 == 0,
            "updated_at": _stamp(a * 10 + version),
        }
        for version in range(3)
        for a in range(n_arms)
    ]
    snapshots = [
        {
            "rule_id": f"security_karen:{i % 50:08x}",
            "alpha": 1.0 + i,
            "beta": 1.5,
            "mean": 0.5,
            "trigger": "gauntlet_credit",
            "iteration": i,
            "batch_id": f"batch-{i}",
            **({"timestamp": _stamp(i)} if i % 4 else {}),
        }
        for i in range(n_snapshots)
    ]
    active = {
        "id": "session-20260207-101010-000042",
        "started_at": "2026-02-07T10:10:10.000042+00:00",
        "ended_at": None,
        "rules_at_start": ["arch-b0fcb62a1e"],
        "rules_at_end": [],
        "selected_rules": ["arch-b0fcb62a1e"],
        "error_class": "missing_test",
    }
    stamp = "2026-01-16T14:59:56.452983"
    contents = {
        ".buildlog/promoted.json": json.dumps(
            {"skill_ids": promoted_ids, "promoted_at": dict.fromkeys(promoted_ids, stamp)},
            indent=2,
        ).encode(),
        ".buildlog/rejected.json": json.dumps(
            {"skill_ids": rejected_ids, "rejected_at": dict.fromkeys(rejected_ids, stamp)},
            indent=2,
        ).encode(),
        ".buildlog/review_learnings.json": json.dumps(
            {"learnings": learnings, "review_history": history}, indent=2, ensure_ascii=False
        ).encode(),
        ".buildlog/reward_events.jsonl": _jsonl(reward_lines),
        ".buildlog/sessions.jsonl": _jsonl(sessions),
        ".buildlog/mistakes.jsonl": _jsonl(mistakes),
        ".buildlog/active_session.json": json.dumps(active, indent=2).encode(),
        "bandit_state.jsonl": _jsonl(bandit),
        ".buildlog/posterior_snapshots.jsonl": _jsonl(snapshots),
        # Not data: must be left alone by migrate.
        ".buildlog/2026-02-05-auth.md": b"# journal entry\n",
        ".buildlog/seeds/team.yaml": b"persona: t\nrules: []\n",
    }
    for relative, data in contents.items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    folder.files = contents
    folder.expected = {
        "reward_events": {(r["id"],) for r in rewards},
        "sessions": {(s["id"],) for s in sessions},
        "mistakes": {(m["id"],) for m in mistakes},
        "skill_decisions": {(i,) for i in promoted_ids + rejected_ids},
        "review_learnings": {(k,) for k in learnings},
        "review_history": {(h["timestamp"],) for h in history},
        "active_sessions": {("<project>",)},
        "bandit_arms": {(b["context"], b["rule_id"]) for b in bandit},
        "posterior_snapshots": {(s["rule_id"], s["iteration"], s["batch_id"]) for s in snapshots},
    }
    return folder


def copy_legacy(template: LegacyFolder, root: Path) -> LegacyFolder:
    """A copy of a legacy folder at ``root`` (much faster than writing it again)."""
    shutil.copytree(template.root, root)
    return LegacyFolder(root, dict(template.files), template.expected)


# ------------------------------------------------------------------------------------------
# Looking at stores without changing them


def file_digest(path: Path) -> str | None:
    """SHA-256 of a file's bytes, None when it does not exist."""
    try:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    except FileNotFoundError:
        return None


def db_files_digest(db: Path) -> dict[str, str | None]:
    """Digests of a database file and of its write-ahead log (the bytes that hold data).

    An empty log holds nothing and counts as absent (a read-only reader may create one).
    """
    wal = Path(f"{db}-wal")
    has_wal = wal.exists() and wal.stat().st_size > 0
    return {"": file_digest(db), "-wal": file_digest(wal) if has_wal else None}


def row_counts(db: Path) -> dict[str, int]:
    """Rows per buildlog table, read through a read-only connection (empty if no database)."""
    if not db.exists() or db.stat().st_size == 0:
        return {}
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        return {
            t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
            for t in ALL_TABLES
            if t in present
        }
    finally:
        conn.close()


def record_keys(db: Path, project_id: str) -> dict[str, list[tuple[object, ...]]]:
    """Per record table, the keys of one project's rows (duplicates kept, so they show)."""
    conn = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        found: dict[str, list[tuple[object, ...]]] = {}
        for table, columns in RECORD_KEYS.items():
            if table == "active_sessions":
                rows = conn.execute(
                    "SELECT '<project>' FROM active_sessions WHERE project_id = ?", [project_id]
                ).fetchall()
            else:
                select = ", ".join(f'"{c}"' for c in columns)
                rows = conn.execute(
                    f'SELECT {select} FROM "{table}" WHERE project_id = ?', [project_id]
                ).fetchall()
            found[table] = [tuple(row) for row in rows]
        return found
    finally:
        conn.close()


def integrity(db: Path) -> str:
    """``PRAGMA integrity_check`` of a database file ("ok" when sound).

    Read-write, as buildlog opens it: after a kill the log may need recovery, which a
    read-only connection cannot do ("attempt to write a readonly database").
    """
    conn = sqlite3.connect(db)
    try:
        return str(conn.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        conn.close()


def tree(root: Path) -> dict[str, bytes]:
    """Every file under ``root`` (relative path -> bytes)."""
    return {
        str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()
    }


def walk_files(*roots: Path) -> Iterator[Path]:
    """Every file under the given folders."""
    for root in roots:
        if root.is_dir():
            yield from (p for p in root.rglob("*") if p.is_file())
        elif root.is_file():
            yield root


# ------------------------------------------------------------------------------------------
# Child processes: the chaos test's migration, the concurrency tests' writers


def start_children(
    args: Sequence[Sequence[str]], env: Mapping[str, str]
) -> list[subprocess.Popen[str]]:
    """Start child modes of this file; returns once every child has said ``ready``."""
    children = [
        subprocess.Popen(
            [sys.executable, str(HERE), *a],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(env),
        )
        for a in args
    ]
    for child in children:
        assert child.stdout is not None
        line = child.stdout.readline().strip()
        if line != "ready":
            raise AssertionError(f"child did not start: {line!r} {child.communicate()}")
    return children


def release(children: Sequence[subprocess.Popen[str]]) -> list[tuple[int, str, str]]:
    """Tell every started child to go at once; returns (exit code, stdout, stderr) each."""
    for child in children:
        assert child.stdin is not None
        child.stdin.write("go\n")
    for child in children:
        assert child.stdin is not None
        child.stdin.flush()
    return [(c.wait(timeout=300), *c.communicate(timeout=60)) for c in children]


def _migrate_child(root: str) -> None:
    """Import everything migrate needs, say ``ready``, wait for ``go``, run ``buildlog migrate``.

    The imports are done before the signal so that the parent's random kill moment falls
    in the migration itself, not in Python's start-up.
    """
    import alembic.command  # noqa: F401
    import sqlalchemy  # noqa: F401

    import buildlog.backends.sqlite
    import buildlog.db
    import buildlog.merge
    import buildlog.migrate  # noqa: F401
    import storage_core.schema  # noqa: F401
    from buildlog.cli import cli

    print("ready", flush=True)
    sys.stdin.readline()
    started = time.perf_counter()
    code = 0
    try:
        cli.main(["--project-root", root, "migrate"], prog_name="buildlog", standalone_mode=False)
    except Exception as err:  # reported to the parent, which fails the test
        print(f"error: {err}", flush=True)
        code = 1
    print(f"done {time.perf_counter() - started:.6f}", flush=True)
    sys.exit(code)


def _wait_for_go() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


def _writer_child(worker: int, count: int, root: str) -> None:
    """Record ``count`` rounds of every kind through the real CLI, in this process."""
    import sqlalchemy  # noqa: F401

    import buildlog.backends.sqlite
    import buildlog.db
    import buildlog.operations  # noqa: F401
    from buildlog.cli import cli
    from buildlog.identifiers import rule_id

    _wait_for_go()
    failures = 0
    for n in range(count):
        tag = f"w{worker}-n{n}"
        for args in (
            ["reward", "accepted", "--notes", tag],
            [
                "learning",
                "add",
                "--rule",
                f"rule {tag}",
                "--category",
                "testing",
                "--severity",
                "major",
                "--source",
                tag,
            ],
            ["bandit", "update", "general", "shared-rule", "--success" if n % 2 else "--failure"],
            ["promote", rule_id(f"rule {tag}", "testing")],  # the learning just added
        ):
            try:
                cli.main(
                    ["--project-root", root, *args], prog_name="buildlog", standalone_mode=False
                )
            except Exception as err:  # counted and reported: the test expects none
                failures += 1
                print(f"error: {args}: {err}", file=sys.stderr, flush=True)
    print(f"done {failures}", flush=True)


def _first_use_child(root: str, db: str) -> None:
    """Open a database nobody created yet (at the same moment as others), record one reward."""
    import sqlalchemy  # noqa: F401

    import buildlog.db  # noqa: F401
    import storage_core.schema  # noqa: F401
    from buildlog.backends.resolve import resolve_backend
    from buildlog.operations import record_reward

    _wait_for_go()
    resolution = resolve_backend(root, db)
    try:
        record_reward(resolution.backend, "accepted", notes=root)
    finally:
        resolution.backend.close()
    print(f"done {resolution.case}", flush=True)


def _session_child(root: str) -> None:
    """Start an experiment session at the same moment as others; report the outcome."""
    import sqlalchemy  # noqa: F401

    import buildlog.backends.sqlite
    import buildlog.db
    import buildlog.operations  # noqa: F401
    from buildlog.cli import cli

    _wait_for_go()
    try:
        cli.main(["--project-root", root, "experiment", "start"], prog_name="buildlog",
                 standalone_mode=False)  # fmt: skip
    except Exception as err:
        print(f"refused {type(err).__name__}: {err}", flush=True)
        return
    print("started", flush=True)


if __name__ == "__main__":
    mode = sys.argv[1:2]
    if mode == ["migrate-child"]:
        _migrate_child(sys.argv[2])
    elif mode == ["writer-child"]:
        _writer_child(int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
    elif mode == ["session-child"]:
        _session_child(sys.argv[2])
    elif mode == ["first-use-child"]:
        _first_use_child(sys.argv[2], sys.argv[3])
    else:
        raise SystemExit(f"usage: {sys.argv[0]} migrate-child|writer-child|first-use-child ...")
