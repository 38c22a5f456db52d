"""Iterations: creation, parents, the context manager's outcomes, the environment snapshot."""

from __future__ import annotations

import platform
import subprocess
import time
from pathlib import Path

import pytest

from diary.enums import IterationStatus
from diary.environment import GIT_STATE_MAX_AGE, EnvironmentSnapshot, take_snapshot
from diary.errors import InvalidValue, NotFound
from diary.store import Store


@pytest.fixture
def store(any_store: Store) -> Store:
    """Every test of this module runs on DuckDB and on SQLite."""
    return any_store


@pytest.fixture
def experiment_id(any_store: Store) -> object:
    project = any_store.create_project("p")
    return any_store.create_experiment(project.id, "e").id


def test_create_and_list_iterations(any_store: Store, experiment_id: object) -> None:
    first = any_store.create_iteration(experiment_id, notes="n", tags=["t"], snapshot=False)
    assert first.status is IterationStatus.RUNNING
    assert first.notes == "n"
    assert first.python_version == ""
    second = any_store.create_iteration(experiment_id, snapshot=False)
    child = any_store.create_iteration(experiment_id, parent=first.id, snapshot=False)
    assert child.parent_id == first.id
    assert any_store.get_iterations(experiment_id) == [first, second, child]
    assert any_store.list_iterations(experiment_id, top_level=True) == [first, second]
    assert any_store.get_child_iterations(first.id) == [child]
    assert any_store.list_iterations(experiment_id, status="succeeded") == []
    assert any_store.get_tags("iteration", first.id) == ["t"]


def test_parent_must_be_in_the_same_experiment(store: Store) -> None:
    project = store.create_project("p")
    one = store.create_experiment(project.id, "one")
    two = store.create_experiment(project.id, "two")
    parent = store.create_iteration(one.id, snapshot=False)
    with pytest.raises(InvalidValue) as raised:
        store.create_iteration(two.id, parent=parent.id, snapshot=False)
    assert str(raised.value) == (
        f"invalid parent iteration '{parent.id}': belongs to another experiment"
    )


def test_end_iteration(any_store: Store, experiment_id: object) -> None:
    iteration = any_store.create_iteration(experiment_id, snapshot=False)
    ended = any_store.end_iteration(iteration.id, "failed", error="boom")
    assert ended.status is IterationStatus.FAILED
    assert ended.error_message == "boom"
    assert ended.ended_at is not None
    with pytest.raises(InvalidValue) as raised:
        any_store.end_iteration(iteration.id, "running")
    assert str(raised.value) == (
        "invalid iteration status 'running': an ended iteration is not running"
    )
    with pytest.raises(InvalidValue) as raised:
        any_store.end_iteration(iteration.id, "done")
    assert str(raised.value) == (
        "invalid iteration status 'done': expected one of running, succeeded, failed, killed"
    )


def test_context_manager_marks_success(any_store: Store, experiment_id: object) -> None:
    with any_store.iteration(experiment_id, snapshot=False) as it:
        it.log_param("lr", 0.1)
        it.log_metric("loss", 0.5)
        assert it.record().status is IterationStatus.RUNNING
    record = any_store.get_iteration(it.id)
    assert record.status is IterationStatus.SUCCEEDED
    assert record.error_message == ""
    assert record.ended_at is not None
    # Ending flushed the buffer: everything logged is readable.
    assert [p.value for p in any_store.metric_history(it.id, "loss")] == [0.5]


def test_context_manager_marks_failure_with_the_exception_text(
    any_store: Store, experiment_id: object
) -> None:
    def train() -> None:
        with any_store.iteration(experiment_id, snapshot=False) as it:
            started.append(it.id)
            it.log_metric("loss", 1.0)
            raise ValueError("loss diverged")

    started: list[object] = []
    with pytest.raises(ValueError, match="diverged"):
        train()
    (iteration_id,) = started
    record = any_store.get_iteration(iteration_id)
    assert record.status is IterationStatus.FAILED
    assert record.error_message == "ValueError: loss diverged"
    assert len(any_store.metric_history(iteration_id, "loss")) == 1


def test_context_manager_marks_keyboard_interrupt_as_killed(
    store: Store, experiment_id: object
) -> None:
    with pytest.raises(KeyboardInterrupt), store.iteration(experiment_id, snapshot=False) as it:
        raise KeyboardInterrupt
    record = store.get_iteration(it.id)
    assert record.status is IterationStatus.KILLED
    assert record.error_message == "KeyboardInterrupt"


def test_context_manager_treats_clean_system_exit_as_success(
    store: Store, experiment_id: object
) -> None:
    with pytest.raises(SystemExit), store.iteration(experiment_id, snapshot=False) as it:
        raise SystemExit(0)
    assert store.get_iteration(it.id).status is IterationStatus.SUCCEEDED
    with pytest.raises(SystemExit), store.iteration(experiment_id, snapshot=False) as failed:
        raise SystemExit(3)
    record = store.get_iteration(failed.id)
    assert (record.status, record.error_message) == (IterationStatus.FAILED, "SystemExit: 3")


def test_nested_children_for_folds(store: Store, experiment_id: object) -> None:
    with store.iteration(experiment_id, snapshot=False) as parent:
        for fold in range(3):
            with store.iteration(experiment_id, parent=parent.id, snapshot=False) as child:
                child.log_metric("acc", fold / 10)
        with parent.child(notes="extra") as extra:
            pass
    children = store.get_child_iterations(parent.id)
    assert len(children) == 4
    assert children[-1].id == extra.id
    assert children[-1].notes == "extra"
    assert all(c.status is IterationStatus.SUCCEEDED for c in children)


def test_context_manager_records_the_environment(store: Store, experiment_id: object) -> None:
    with store.iteration(experiment_id) as it:
        pass
    record = store.get_iteration(it.id)
    assert record.python_version == platform.python_version()
    assert "deardiary-tracking==0.1.0" in record.packages
    assert record.entry_point != ""


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, check=True, capture_output=True, text=True)
    return done.stdout.strip()


def test_snapshot_reads_git_state(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "f.txt").write_text("one")
    _git(repo, "add", "f.txt")
    _git(repo, "-c", "user.name=t", "-c", "user.email=t@e", "commit", "-q", "-m", "c")
    clean = take_snapshot(repo)
    assert clean.git_sha == _git(repo, "rev-parse", "HEAD")
    assert clean.git_dirty is False
    (repo / "f.txt").write_text("two")
    time.sleep(GIT_STATE_MAX_AGE)  # an unstaged edit shows once the cached answer is that old
    assert take_snapshot(repo).git_dirty is True
    outside = take_snapshot(tmp_path / "repo" / ".git" / "..").git_sha
    assert outside == clean.git_sha
    not_a_repo = tmp_path / "plain"
    not_a_repo.mkdir()
    snapshot = take_snapshot(not_a_repo)
    assert (snapshot.git_sha, snapshot.git_dirty) == ("", None)


def test_explicit_snapshot_is_stored(store: Store, experiment_id: object) -> None:
    snapshot = EnvironmentSnapshot("3.99.0", "abc", True, "train.py --fast", ("a==1", "b==2"))
    record = store.create_iteration(experiment_id, snapshot=snapshot)
    fetched = store.get_iteration(record.id)
    assert (
        fetched.python_version,
        fetched.git_sha,
        fetched.git_dirty,
        fetched.entry_point,
        fetched.packages,
    ) == ("3.99.0", "abc", True, "train.py --fast", ("a==1", "b==2"))


def test_unknown_iteration(store: Store) -> None:
    with pytest.raises(NotFound) as raised:
        store.get_child_iterations("00000000-0000-0000-0000-000000000000")
    assert str(raised.value) == "iteration not found: 00000000-0000-0000-0000-000000000000"


def test_a_refused_final_flush_fails_a_clean_iteration(db_path: object) -> None:
    import diary
    from diary.errors import ParameterConflict

    with diary.open(db_path) as first, diary.open(db_path, buffered=False) as other:  # type: ignore[arg-type]
        project = first.create_project("p")
        experiment = first.create_experiment(project.id, "e")
        started: list[object] = []

        def train() -> None:
            with first.iteration(experiment.id, snapshot=False) as it:
                started.append(it.id)
                other.log_param(it.id, "seed", 1)  # another process sets it first
                it.log_param("seed", 2)

        with pytest.raises(ParameterConflict):
            train()
        record = first.get_iteration(started[0])
        assert record.status is IterationStatus.FAILED
        assert record.error_message.startswith("ParameterConflict: parameter 'seed' of iteration")
