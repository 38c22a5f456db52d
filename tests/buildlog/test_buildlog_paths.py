"""The private database folder: made exactly ``0700``, and safe when processes race to make it."""

from __future__ import annotations

import stat
import threading
from pathlib import Path

import pytest

from buildlog.paths import DIR_MODE, ensure_private_dir
from storage_core.errors import StorageIOError


def test_a_new_folder_is_private_whatever_the_umask(tmp_path: Path) -> None:
    folder = tmp_path / "home" / ".buildlog"
    ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == DIR_MODE


def test_an_existing_folder_keeps_the_mode_its_owner_chose(tmp_path: Path) -> None:
    folder = tmp_path / ".buildlog"
    folder.mkdir(mode=0o755)
    folder.chmod(0o755)
    ensure_private_dir(folder)
    assert stat.S_IMODE(folder.stat().st_mode) == 0o755


def test_a_file_in_the_way_is_named_in_the_error(tmp_path: Path) -> None:
    blocker = tmp_path / ".buildlog"
    blocker.write_text("not a folder")
    with pytest.raises(StorageIOError, match="a file of that name exists"):
        ensure_private_dir(blocker)
    assert blocker.read_text() == "not a folder"


def test_a_folder_another_process_makes_between_look_and_mkdir_is_fine(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The window CI hit: the folder is missing when we look and present when we mkdir."""
    folder = tmp_path / ".buildlog"
    real_is_dir = Path.is_dir
    looks: list[Path] = []

    def is_dir_then_the_rival_wins(self: Path) -> bool:
        answer = real_is_dir(self)
        if self == folder and not looks:
            looks.append(self)
            self.mkdir()  # the rival process, right after our look
        return answer

    monkeypatch.setattr(Path, "is_dir", is_dir_then_the_rival_wins)
    ensure_private_dir(folder)
    assert looks == [folder]
    assert real_is_dir(folder)


def test_many_threads_making_the_folder_at_once_all_succeed(tmp_path: Path) -> None:
    for round_ in range(20):
        folder = tmp_path / f"round-{round_}" / ".buildlog"
        start = threading.Barrier(8)
        failures: list[BaseException] = []

        def make(
            folder: Path = folder,
            start: threading.Barrier = start,
            failures: list[BaseException] = failures,
        ) -> None:
            start.wait()
            try:
                ensure_private_dir(folder)
            except BaseException as error:
                failures.append(error)

        threads = [threading.Thread(target=make) for _ in range(8)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert failures == []
        assert folder.is_dir()
